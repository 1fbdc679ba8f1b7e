"""The student's commands on Linux, macOS and Windows: nothing Unix-only without a guard on their path.

Grading is Linux-only (`tito.grading`, `tito nbgrader`); everything else a student
runs (`tito export`, `tito module test`, `tito module status`, `tito system doctor`,
`tito student lab`, the judge's student side, the package) must import and run
where there is no `fcntl`, no `os.fork` and no `/proc`. This static check reads
the code: a Unix-only module or function used at import time, or inside a function
that does not check for it first, is an error.
"""

from __future__ import annotations

import ast
from pathlib import Path

from helpers import REPO

UNIX_ONLY_MODULES = {"fcntl", "resource", "pwd", "grp", "termios", "tty", "pty", "posix", "crypt", "spwd", "syslog"}
UNIX_ONLY_ATTRIBUTES = {
    "os": {"fork", "forkpty", "register_at_fork", "getuid", "geteuid", "setuid", "setsid", "killpg", "getpgid",
           "sched_getaffinity", "sched_setaffinity", "wait3", "wait4", "WNOHANG", "getloadavg", "sysconf"},
    "signal": {"SIGKILL", "SIGSTOP", "SIGCONT", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGHUP", "SIGCHLD", "alarm",
               "setitimer", "pthread_kill"},
}
GRADING_ONLY = ("tito/grading/", "tito/commands/nbgrader.py")  # Linux-only by design: they say so first


def student_path_files() -> list[Path]:
    files = sorted((REPO / "tito").rglob("*.py")) + sorted((REPO / "tinytorch").rglob("*.py"))
    return [f for f in files if not str(f.relative_to(REPO)).startswith(GRADING_ONLY)]


def _guards(node: ast.AST) -> bool:
    """Whether `node` (a function, or an if/try statement) checks for what the platform may lack."""
    text = ast.unparse(node)
    return any(marker in text for marker in ("hasattr(", "sys.platform", "ImportError", "AttributeError",
                                             "platform.system", "getattr(os", "getattr(signal", "available()"))


def unguarded_uses(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []

    def visit(node: ast.AST, guarded: bool) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            guarded = guarded or _guards(node)
        elif isinstance(node, (ast.If, ast.IfExp, ast.Try)):
            guarded = guarded or _guards(node)
        what = None
        if isinstance(node, ast.Import):
            what = next((a.name for a in node.names if a.name.split(".")[0] in UNIX_ONLY_MODULES), None)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in UNIX_ONLY_MODULES:
            what = node.module
        elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
              and node.attr in UNIX_ONLY_ATTRIBUTES.get(node.value.id, ())):
            what = f"{node.value.id}.{node.attr}"
        if what is not None and not guarded:
            found.append(f"{path.relative_to(REPO)}:{node.lineno}: {what}")
        for child in ast.iter_child_nodes(node):
            visit(child, guarded)

    visit(tree, False)
    return found


def test_nothing_unix_only_is_used_unguarded_on_the_students_path():
    found = [use for path in student_path_files() for use in unguarded_uses(path)]
    assert not found, "Unix-only code on the student's path without a check for it:\n" + "\n".join(found)


def test_the_check_finds_what_it_should(tmp_path):
    sample = REPO / "tito" / "_platform_probe_sample.py"
    try:
        sample.write_text("import fcntl\nimport os\n\ndef f():\n    return os.fork()\n\n"
                          "def g():\n    if hasattr(os, 'fork'):\n        return os.fork()\n\n"
                          "try:\n    import resource\nexcept ImportError:\n    resource = None\n", encoding="utf-8")
        assert [u.split(": ")[1] for u in unguarded_uses(sample)] == ["fcntl", "os.fork"]
    finally:
        sample.unlink()
