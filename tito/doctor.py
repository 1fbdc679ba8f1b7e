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


def run_checks() -> list[Check]:
    checks = [check_python()]
    checks += [check_requirement(spec, extra) for spec, extra in declared_requirements()]
    checks.append(check_kernel())
    checks.append(check_package_import())
    return checks
