"""Environment checks behind `tito system doctor`."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata

MIN_PYTHON = (3, 11)
SETUP_HINT = "run `make setup` in the course repository (or `pip install -e .` in your environment)"


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def check_python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    ok = sys.version_info[:2] >= MIN_PYTHON
    return Check("python", ok, f"{version} at {sys.executable}", "" if ok else "install Python 3.11 or newer")


_EXTRA_RE = re.compile(r"""extra\s*==\s*['"]([\w-]+)['"]""")
EXTRA_USERS = {"instructor": "instructors", "dev": "developers"}


def declared_requirements(distribution: str = "tinytorch") -> list[tuple[str, str | None]]:
    """(requirement, extra or None) of every dependency: the default install's and each extra's."""
    found = []
    for line in metadata.requires(distribution) or []:
        extra = _EXTRA_RE.search(line)
        found.append((line.split(";", 1)[0].strip(), extra.group(1) if extra else None))
    return found


def extra_providing(module: str) -> str | None:
    """The extra whose install brings the top-level module `module` (nbgrader: instructor), or None."""
    from packaging.requirements import Requirement

    wanted = module.split(".")[0].lower()
    for spec, extra in declared_requirements():
        name = Requirement(spec).name.lower().replace("-", "_")
        if extra is not None and wanted in (name, name.removesuffix("_binary")):
            return extra
    return None


def check_requirement(spec: str, extra: str | None = None) -> Check:
    """An installed dependency of the right version; a missing one of an extra is fine (another role's)."""
    from packaging.requirements import Requirement

    requirement = Requirement(spec)
    try:
        installed = metadata.version(requirement.name)
    except metadata.PackageNotFoundError:
        if extra is not None:
            users = EXTRA_USERS.get(extra, f"the [{extra}] extra")
            return Check(requirement.name, True, f"not installed: only {users} need it (pip install -e '.[{extra}]')")
        return Check(requirement.name, False, f"not installed (needs {requirement.specifier or 'any version'})", SETUP_HINT)
    ok = requirement.specifier.contains(installed, prereleases=True)
    wanted = str(requirement.specifier) or "any version"
    return Check(requirement.name, ok, f"{installed} (needs {wanted})", "" if ok else f"pip install '{spec}'")


def check_kernel(name: str = "python3") -> Check:
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(name)
    except NoSuchKernel:
        return Check(f"jupyter kernel '{name}'", False, "no such kernel spec", "pip install ipykernel")
    executable = spec.argv[0]
    if executable in {"python", "python3", f"python{sys.version_info[0]}.{sys.version_info[1]}"}:
        executable = sys.executable  # jupyter_client substitutes the running interpreter
    probe = subprocess.run([executable, "-c", "import ipykernel, numpy"], capture_output=True, text=True, timeout=60)
    ok = probe.returncode == 0
    detail = f"{spec.display_name}: {executable}"
    return Check(f"jupyter kernel '{name}'", ok, detail if ok else f"{detail}: {probe.stderr.strip()[-200:]}",
                 "" if ok else f"install ipykernel and numpy into {executable}")


def check_package_import() -> Check:
    probe = subprocess.run([sys.executable, "-c", "import tinytorch"], capture_output=True, text=True, timeout=60)
    silent = probe.returncode == 0 and not probe.stdout and not probe.stderr
    detail = "imports silently" if silent else (probe.stderr.strip()[-200:] or probe.stdout.strip()[-200:])
    return Check("import tinytorch", silent, detail, "" if silent else "run `tito export --all`")


def check_judge_mode() -> Check:
    """How `tito module test`'s judge gives each graded test a fresh copy of the notebook's process."""
    from tito.judge.modes import session_mode

    mode, why = session_mode()
    return Check("judge mode", True, f"{mode}: {why}")


def check_blas_control() -> Check:
    """Whether threadpoolctl can limit the BLAS NumPy uses (the parallel kernels hold it to one thread)."""
    import numpy  # noqa: F401  loads the BLAS library threadpoolctl looks for
    from threadpoolctl import ThreadpoolController

    blas = [c for c in ThreadpoolController().lib_controllers if c.user_api == "blas"]
    if blas:
        found = ", ".join(f"{c.internal_api} {c.version or ''} ({c.num_threads} threads now)" for c in blas)
        return Check("BLAS control", True, f"threadpoolctl limits {found}")
    return Check("BLAS control", True, "threadpoolctl finds no BLAS it can limit (Accelerate on macOS, or an unknown "
                 "library): the kernels stay correct, but parallel workers may share the cores with BLAS's own "
                 "threads; to hold BLAS to one thread, set VECLIB_MAXIMUM_THREADS=1 (Accelerate) or "
                 "OPENBLAS_NUM_THREADS=1 before Python starts")


def run_checks() -> list[Check]:
    checks = [check_python()]
    checks += [check_requirement(spec, extra) for spec, extra in declared_requirements()]
    checks.append(check_kernel())
    checks.append(check_package_import())
    checks.append(check_judge_mode())
    checks.append(check_blas_control())
    return checks
