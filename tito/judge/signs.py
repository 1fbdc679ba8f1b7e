"""Signs of tampering in a submission's own code, for the report (never for the score).

The judge's verdicts do not depend on what the student's process does to itself,
so a submission gains nothing by tampering; an instructor still wants to know who
tried. This scan reads the submission's code cells as text (the trusted side never
runs them) for the interfaces that change how a notebook reports errors or what
code it runs, and for reaching into the grader.
"""

from __future__ import annotations

import re

from tito.notebook.cells import grade_id, is_locked

SIGNS: tuple[tuple[str, str], ...] = (
    (r"\bset_custom_exc\b", "installs a custom exception handler (set_custom_exc)"),
    (r"\b(showtraceback|showsyntaxerror|_showtraceback)\s*=", "replaces IPython's traceback display"),
    (r"\bast_transformers\b", "installs an AST transformer"),
    (r"\binput_transformers_(post|cleanup)\b", "installs an input transformer"),
    (r"\bsys\.(settrace|setprofile)\b|\bthreading\.settrace\b", "installs a trace or profile hook"),
    (r"\bsys\.excepthook\s*=", "replaces sys.excepthook"),
    (r"\bsys\._getframe\b|\binspect\.(currentframe|stack|getouterframes)\b|\bf_back\b", "inspects the calling frames"),
    (r"\bgc\.(get_objects|get_referrers|get_referents)\b", "searches the garbage collector's objects"),
    (r"\bbuiltins\.\w+\s*=|__builtins__\s*\[", "rebinds Python builtins"),
    (r"\btito\.(judge|grading|tools)\b|\bTITO_TEST_RESULTS\b", "reaches into the grader"),
    (r"\b(np|numpy)\.(testing\.\w+|allclose|array_equal|isclose)\s*=", "rebinds a NumPy function the tests use"),
)
_COMPILED = tuple((re.compile(pattern), what) for pattern, what in SIGNS)


def tampering_in_source(nb, protected: set[str] = frozenset()) -> list[str]:
    """One line per sign found in the code cells a student could write (not the locked ones).

    `protected`: the names the graded tests use from their own setup (imports, test helpers);
    assigning one of them, or a builtin, at the top of a cell is a sign too.
    """
    import builtins

    guarded = set(protected) | {name for name in dir(builtins) if not name.startswith("_")}
    found: list[str] = []
    for index, cell in enumerate(nb.cells):
        if cell.get("cell_type") != "code" or is_locked(cell):
            continue
        source = cell.get("source", "")
        name = grade_id(cell) or f"cell {index + 1}"
        for pattern, what in _COMPILED:
            if pattern.search(source):
                found.append(f"{name} {what}")
        rebound = sorted(assigned_names(source) & guarded)
        if rebound:
            found.append(f"{name} rebinds {', '.join(rebound)}, which the graded tests use")
    return found


def assigned_names(source: str) -> set[str]:
    """Names a cell binds at its top level by assignment or definition (imports are not counted)."""
    import ast

    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    return names
