"""The shape of tito's code: no import cycle between its modules or its packages, the student's commands
apart from the instructor's, one parser of nbgrader's markers."""

from __future__ import annotations

import ast
from pathlib import Path

from helpers import REPO

TITO = REPO / "tito"
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def tito_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(TITO.rglob("*.py")) if "__pycache__" not in p.parts}


def imported_modules(name: str, path: Path, known: set[str]) -> set[str]:
    """Every tito module that `path` imports, at top level or inside a function.

    `from tito.grading import course` names the submodule; `from tito.grading import
    autograde` names the package, whose __init__ runs to provide it.
    """
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.add(submodule if submodule in known else base)
    return {m for m in found if m in known and m != name}


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def import_graph() -> dict[str, set[str]]:
    modules = tito_modules()
    return {name: imported_modules(name, path, set(modules)) for name, path in modules.items()}


def package_of(name: str) -> str:
    """The package below tito that holds a module (tito.grading.course: tito.grading); a module at
    tito's top level is a node of its own (tito.project)."""
    return ".".join(name.split(".")[:2])


def package_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The import graph with each module drawn as its package: an arrow for every import across packages."""
    packages: dict[str, set[str]] = {package_of(name): set() for name in graph}
    for name, targets in graph.items():
        packages[package_of(name)].update(package_of(t) for t in targets if package_of(t) != package_of(name))
    return packages


def reached_from(graph: dict[str, set[str]], start: list[str]) -> set[str]:
    """Every module that importing `start` can import, at top level or inside a function."""
    reached, todo = set(start), list(start)
    while todo:
        for target in graph[todo.pop()] - reached:
            reached.add(target)
            todo.append(target)
    return reached


def test_cycle_finder_sees_a_cycle_through_a_function_level_import(tmp_path):
    package = tmp_path / "tito"
    package.mkdir()
    (package / "a.py").write_text("from tito.b import g\n")
    (package / "b.py").write_text("def g():\n    from tito import c\n")
    (package / "c.py").write_text("def h():\n    import tito.a\n")
    (package / "d.py").write_text("from tito.a import x\n")
    known = {"tito.a", "tito.b", "tito.c", "tito.d"}
    graph = {}
    for name in known:
        path = package / f"{name.split('.')[1]}.py"
        graph[name] = imported_modules(name, Path(path), known)
    assert graph["tito.b"] == {"tito.c"} and graph["tito.c"] == {"tito.a"}
    assert find_cycles(graph) == [["tito.a", "tito.b", "tito.c"]]


def test_tito_modules_import_each_other_without_a_cycle():
    graph = import_graph()
    assert "tito.grading.course" in graph and graph["tito.main"], "the import graph is empty: the walk is broken"
    cycles = find_cycles(graph)
    assert cycles == [], "import cycles among tito modules: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_package_graph_sees_a_cycle_between_packages_that_no_module_cycle_shows():
    graph = {"tito.tools.judging": {"tito.judge.proxy"}, "tito.judge.proxy": set(),
             "tito.judge.judge": {"tito.tools.speed"}, "tito.tools.speed": {"tito.errors"}, "tito.errors": set()}
    assert find_cycles(graph) == []
    packages = package_graph(graph)
    assert packages == {"tito.tools": {"tito.judge", "tito.errors"}, "tito.judge": {"tito.tools"}, "tito.errors": set()}
    assert find_cycles(packages) == [["tito.judge", "tito.tools"]]


def test_tito_packages_import_each_other_without_a_cycle():
    packages = package_graph(import_graph())
    assert {"tito.benchmark", "tito.commands", "tito.grading", "tito.judge", "tito.notebook", "tito.student",
            "tito.tools"} <= set(packages), f"the walk found only {sorted(packages)}"
    cycles = find_cycles(packages)
    assert cycles == [], "import cycles among tito's packages: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_the_students_commands_reach_nothing_of_the_instructors_side():
    """`tito module test`, `tito module status` and `tito student lab` run in a student's install, which
    has no nbgrader: nothing they can import is of tito.grading."""
    graph = import_graph()
    start = [name for name in graph if package_of(name) == "tito.student"] + ["tito.commands.module"]
    reached = reached_from(graph, start)
    assert "tito.student.moduletest" in reached and "tito.judge.judge" in reached, "the walk is broken"
    assert sorted(name for name in reached if package_of(name) == "tito.grading") == []


def test_nbgrader_markers_are_spelled_in_one_module_of_tito():
    spelled = sorted(str(path.relative_to(REPO)) for path in tito_modules().values()
                     if any(marker in path.read_text(encoding="utf-8") for marker in MARKERS))
    assert spelled == ["tito/notebook/cells.py"], f"nbgrader's region markers appear in {spelled}"


def top_level_imports(path: Path) -> set[str]:
    """The modules `path` imports when it is loaded (statements at its top level), e.g. {'nbgrader.api'}."""
    found = set()
    for node in ast.parse(path.read_text(encoding="utf-8"), filename=str(path)).body:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_a_module_that_loads_nbgrader_is_imported_only_inside_functions():
    modules = tito_modules()
    loads_nbgrader = {name for name, path in modules.items()
                      if any(m.split(".")[0] in ("nbgrader", "nbconvert", "nbformat") for m in top_level_imports(path))}
    assert "tito.grading.overwrite" in loads_nbgrader, "the walk of top-level imports is broken"
    importers = {name: sorted(top_level_imports(path) & loads_nbgrader) for name, path in modules.items()}
    assert {name: found for name, found in importers.items() if found} == {}


def test_sandbox_kernel_launcher_imports_nothing_heavy():
    import subprocess
    import sys

    heavy = ("numpy", "nbgrader", "nbconvert", "nbformat", "nbclient", "traitlets", "rich")
    code = f"import sys, tito.grading.sandbox_launcher\nprint([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", f"every sandboxed kernel would start slower: the launcher imported {out.strip()}"


MAX_LINES = 400  # one concept per file: a tito module past this wants splitting


def test_no_tito_module_is_longer_than_the_budget():
    lengths = {str(p.relative_to(REPO)): len(p.read_text(encoding="utf-8").splitlines()) for p in tito_modules().values()}
    assert len(lengths) > 20, "the walk found no tito modules"
    assert {path: n for path, n in lengths.items() if n > MAX_LINES} == {}
