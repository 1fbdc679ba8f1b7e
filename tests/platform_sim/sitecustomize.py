"""Simulated platforms for the student-journey tests: take away, in every Python process that starts
with this folder on PYTHONPATH (tito, the notebook's kernel, the judge), what macOS or Windows lacks.

`TITO_SIMULATE` lists the conditions, comma-separated:

- `no-fork`: no `os.fork`, `os.forkpty` or `os.register_at_fork` (Windows);
- `fork-unsafe`: fork exists but must not be used (macOS with Accelerate): tito's rule is told so;
- `no-blas-control`: threadpoolctl sees no BLAS library it can limit (Accelerate, an unknown BLAS);
- `no-proc`: no `/proc` or `/sys` for the course's code, no `os.sched_getaffinity` (macOS, Windows);
- `no-unix-modules`: `fcntl`, `resource`, `pwd`, `grp` and `termios` cannot be imported by tito,
  tinytorch or the notebook (the standard library's own Linux code paths keep them).
"""

import builtins
import os
import sys
from pathlib import PurePath

_CONDITIONS = {c.strip() for c in os.environ.get("TITO_SIMULATE", "").split(",") if c.strip()}
_OURS = ("tito", "tinytorch", "__main__")  # code written for the course; the notebook runs as __main__
_MISSING_DIR = "/nonexistent-simulated-platform"

if "no-fork" in _CONDITIONS:
    for _name in ("fork", "forkpty", "register_at_fork"):
        if hasattr(os, _name):
            delattr(os, _name)

if "fork-unsafe" in _CONDITIONS:
    import tito.judge.modes

    tito.judge.modes.PLATFORM = "darwin"

if "no-unix-modules" in _CONDITIONS or "no-proc" in _CONDITIONS:
    _blocked = {"fcntl", "resource", "pwd", "grp", "termios"} if "no-unix-modules" in _CONDITIONS else set()
    _real_import = builtins.__import__

    def _import(name, globals=None, locals=None, fromlist=(), level=0):
        caller = (globals or {}).get("__name__") or ""
        if level == 0 and name.split(".")[0] in _blocked and caller.split(".")[0] in _OURS:
            raise ModuleNotFoundError(f"No module named '{name}' (simulated platform)", name=name)
        module = _real_import(name, globals, locals, fromlist, level)
        if "no-proc" in _CONDITIONS:
            _hide_proc(module)
        return module

    builtins.__import__ = _import

if "no-proc" in _CONDITIONS and hasattr(os, "sched_getaffinity"):
    del os.sched_getaffinity


_seen_modules = [0]


def _hide_proc(module) -> None:
    """Point every /proc or /sys location a course module names (a constant such as CACHE_SYSFS or
    PROC) at a folder that does not exist. Cheap when no module was loaded since the last import
    statement: the simulation must not slow the code it simulates."""
    if len(sys.modules) == _seen_modules[0]:
        return
    _seen_modules[0] = len(sys.modules)
    for name, loaded in list(sys.modules.items()):
        if name.split(".")[0] not in ("tito", "tinytorch") or getattr(loaded, "_simulated_no_proc", False):
            continue
        if getattr(getattr(loaded, "__spec__", None), "_initializing", False):
            _seen_modules[0] = 0  # look again at the next import: its constants come later
            continue
        for attribute, value in list(vars(loaded).items()):
            if attribute.isupper() and isinstance(value, (str, PurePath)) and str(value).startswith(("/proc", "/sys")):
                setattr(loaded, attribute, type(value)(_MISSING_DIR + str(value)))
        loaded._simulated_no_proc = True


if "no-blas-control" in _CONDITIONS:
    import threadpoolctl

    _real_init = threadpoolctl.ThreadpoolController.__init__

    def _init(self, *args, **kwargs):
        _real_init(self, *args, **kwargs)
        self.lib_controllers = [c for c in self.lib_controllers if c.user_api != "blas"]

    threadpoolctl.ThreadpoolController.__init__ = _init
