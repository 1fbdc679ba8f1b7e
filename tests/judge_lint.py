"""A lint for graded tests: the judge compares only plain values, never the student's objects.

In the judge a student's object is a proxy that refuses `==`, ordering, `bool`,
`len`, `in` and iteration. The lint reads a graded cell (or a `-test-helpers` cell)
with `ast` and reports each of those, tuple unpacking included, used on a value
*from the student*:

- an expression rooted at one of the student's names (`trusted_setup(nb).student_names`)
  or at a call of `in_student_process`, `student_global` or `resident`: a Name, and
  Attribute, Subscript, Call and arithmetic chains on it (`t.shape`, `layer(x) + 1`);
- a name assigned such a value anywhere in the same top-level function (directly,
  by tuple unpacking, as a `for`, `with` or comprehension target). The lint does not
  follow the order of statements: a name is from the student if any assignment makes it so.

A value stops being from the student inside `plain(...)`, a `np.`/`numpy.` call,
`float`, `int`, `str`, `repr`, `isinstance`, `type`, `callable`, `hasattr`, or an
f-string. `is` is not checked (a proxy cannot answer it).

Not caught: values that pass through a helper function's parameters or return
value, or through a container the test builds (`found.append(t)`, a dict literal)
and reads back; `bool` or iteration inside calls other than the builtins in `ITERATING`.
"""

from __future__ import annotations

import ast
from typing import Iterable, Iterator

FETCHES = {"plain", "float", "int", "str", "repr", "isinstance", "type", "callable", "hasattr"}
NUMPY = {"np", "numpy"}
ITERATING = {"len", "bool", "list", "tuple", "set", "dict", "sorted", "sum", "min", "max", "all", "any",
             "iter", "next", "enumerate", "zip"}  # builtins that count, test or iterate their argument
STUDENT_PROCESS = {"in_student_process", "student_global", "resident"}  # judging helpers that return proxies
PASS_THROUGH = {"getattr", "abs", "round"}  # builtins whose result comes from their first argument
COMPARING = (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn)
LITERALS = (ast.Tuple, ast.List, ast.Set)
MESSAGE = "compares a value from the student's process; fetch it with plain(...)"


def _called(node: ast.Call) -> str:
    """The name a call starts from: `plain` for `plain(x)`, `np` for `np.linalg.norm(x)`."""
    func = node.func
    while isinstance(func, ast.Attribute):
        func = func.value
    return func.id if isinstance(func, ast.Name) else ""


def from_student(node: ast.expr, names: set[str]) -> bool:
    if isinstance(node, ast.Name):
        return node.id in names
    if isinstance(node, (ast.Attribute, ast.Subscript)):
        return from_student(node.value, names)
    if isinstance(node, ast.Call):
        name, direct = _called(node), isinstance(node.func, ast.Name)
        if (direct and name in FETCHES) or (not direct and name in NUMPY):
            return False
        if direct and name in STUDENT_PROCESS:
            return True
        if direct and name in PASS_THROUGH and node.args:
            return from_student(node.args[0], names)
        return from_student(node.func, names)
    if isinstance(node, ast.BinOp):
        return from_student(node.left, names) or from_student(node.right, names)
    if isinstance(node, ast.UnaryOp) and not isinstance(node.op, ast.Not):
        return from_student(node.operand, names)
    if isinstance(node, LITERALS):
        return any(from_student(e, names) for e in node.elts)
    return False


def _bindings(scope: ast.AST) -> Iterator[tuple[ast.expr, ast.expr]]:
    """(target, value) of every assignment in `scope`; `a, b = x, y` pairs `a` with `x`, `b` with `y`."""
    def pairs(target: ast.expr, value: ast.expr) -> Iterator[tuple[ast.expr, ast.expr]]:
        if isinstance(target, LITERALS) and isinstance(value, LITERALS) and len(target.elts) == len(value.elts):
            for t, v in zip(target.elts, value.elts):
                yield from pairs(t, v)
        else:
            yield target, value

    for node in ast.walk(scope):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                yield from pairs(target, node.value)
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)) and node.value is not None:
            yield node.target, node.value
        elif isinstance(node, (ast.For, ast.comprehension)):  # over a literal: each element in turn
            for element in node.iter.elts if isinstance(node.iter, LITERALS) else [node.iter]:
                yield from pairs(node.target, element)
        elif isinstance(node, ast.withitem) and node.optional_vars is not None:
            yield node.optional_vars, node.context_expr


def student_names_in(scope: ast.AST, names: set[str]) -> set[str]:
    """`names` and every local name of `scope` assigned a value from the student."""
    tainted, bindings = set(names), list(_bindings(scope))
    while True:
        new = {n.id for target, value in bindings if from_student(value, tainted)
               for n in ast.walk(target) if isinstance(n, ast.Name)} - tainted
        if not new:
            return tainted
        tainted |= new


def _decided(node: ast.AST) -> Iterator[ast.expr]:
    """The operands that `node` compares, tests for truth, counts or iterates."""
    if isinstance(node, ast.Compare):
        operands = [node.left, *node.comparators]
        for i, op in enumerate(node.ops):
            if isinstance(op, COMPARING):
                yield from operands[i:i + 2]
    elif isinstance(node, (ast.Assert, ast.If, ast.While, ast.IfExp)):
        yield node.test
    elif isinstance(node, ast.BoolOp):
        yield from node.values
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        yield node.operand
    elif isinstance(node, ast.Assign) and any(isinstance(t, LITERALS) for t in node.targets):
        if not isinstance(node.value, LITERALS):  # unpacking iterates the value
            yield node.value
    elif isinstance(node, (ast.For, ast.comprehension)):
        if not isinstance(node.iter, LITERALS):  # the test's own tuple of the student's classes is fine
            yield node.iter
        yield from getattr(node, "ifs", [])
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ITERATING:
        yield from node.args


def violations(source: str, student_names: Iterable[str]) -> list[tuple[int, str]]:
    """(line, code) of each comparison, truth test, `len` or iteration of a value from the student."""
    tree = ast.parse(source)
    functions = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    rest = ast.Module(body=[n for n in tree.body if n not in functions], type_ignores=[])
    found: dict[tuple[int, int], str] = {}
    for scope in [rest, *functions]:
        names = student_names_in(scope, set(student_names))
        for node in ast.walk(scope):
            for operand in _decided(node):
                if from_student(operand, names):
                    where = node if isinstance(node, (ast.Compare, ast.Call, ast.UnaryOp)) else operand
                    found.setdefault((where.lineno, where.col_offset), ast.unparse(where))
    return sorted((line, code) for (line, _), code in found.items())
