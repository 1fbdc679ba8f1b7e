"""`tito student lab`: JupyterLab as a student uses it.

- The kernels import the project's own `tinytorch` (`kernel_environment`).
- nbgrader's instructor tools (Formgrader, Create Assignment, the course and
  assignment lists of the exchange, their menu) are switched off through a Jupyter
  configuration folder of this launch only, put first on JUPYTER_CONFIG_PATH.
  Validate stays: it is the one nbgrader tool a student uses.
- The notebooks' metadata is made what JupyterLab itself would save, so that a
  notebook does not look modified as soon as it opens and its first save
  changes nothing but the student's cells.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from tito.project import list_modules

INSTRUCTOR_LAB_PLUGINS = (
    "@jupyter/nbgrader:formgrader",
    "@jupyter/nbgrader:create-assignment",
    "@jupyter/nbgrader:course-list",
    "@jupyter/nbgrader:assignment-list",
    "@jupyter/nbgrader:menu",
)
INSTRUCTOR_SERVER_EXTENSIONS = (
    "nbgrader.server_extensions.formgrader",
    "nbgrader.server_extensions.course_list",
    "nbgrader.server_extensions.assignment_list",
)
CONFIG_PATH_ENV = "JUPYTER_CONFIG_PATH"


def write_student_config(folder: Path) -> None:
    """A Jupyter configuration folder that switches nbgrader's instructor tools off."""
    labconfig = folder / "labconfig"
    labconfig.mkdir(parents=True, exist_ok=True)
    disabled = {plugin: True for plugin in INSTRUCTOR_LAB_PLUGINS}
    (labconfig / "page_config.json").write_text(json.dumps({"disabledExtensions": disabled}, indent=2), encoding="utf-8")
    server = {"ServerApp": {"jpserver_extensions": {name: False for name in INSTRUCTOR_SERVER_EXTENSIONS}}}
    (folder / "jupyter_server_config.json").write_text(json.dumps(server, indent=2), encoding="utf-8")


def lab_environment(root: Path, config_folder: Path) -> dict[str, str]:
    """The server's environment (its kernels inherit it): the project first on the import path,
    the student configuration first on the Jupyter configuration path."""
    from tito.notebook.run import kernel_environment

    env = kernel_environment(root)
    env[CONFIG_PATH_ENV] = os.pathsep.join(filter(None, [str(config_folder), env.get(CONFIG_PATH_ENV)]))
    return env


def lab_command(root: Path, jupyter_args: list[str]) -> list[str]:
    return [sys.executable, "-m", "jupyter", "lab", f"--ServerApp.root_dir={root}", *jupyter_args]


def kernel_language_info() -> dict:
    """The language_info a python3 kernel of this Python reports, which JupyterLab writes on save."""
    from ipykernel.ipkernel import IPythonKernel

    return json.loads(json.dumps(IPythonKernel.language_info))


def saved_metadata(metadata: dict, language_info: dict) -> dict:
    """Notebook metadata as JupyterLab saves it: this kernel's language_info, and no jupytext
    text_representation (jupytext drops it when it saves a notebook that is not paired)."""
    result = json.loads(json.dumps(metadata))
    result["language_info"] = language_info
    jupytext = result.get("jupytext")
    if isinstance(jupytext, dict):
        jupytext.pop("text_representation", None)
        if not jupytext:
            del result["jupytext"]
    return result


def settle_notebook_metadata(root: Path) -> list[Path]:
    """Give every module notebook of the project the metadata JupyterLab would save; return those changed.

    Otherwise a notebook looks modified the moment it opens (the kernel's
    language_info differs from the file's) and its first save rewrites metadata.
    """
    import nbformat

    from tito.files import write_atomic
    from tito.notebook.source import notebook_text

    language_info = kernel_language_info()
    changed = []
    for module in list_modules(root):
        path = module.notebook_path
        if not path.is_file():
            continue
        nb = nbformat.read(path, as_version=4)
        wanted = saved_metadata(nb.metadata, language_info)
        if wanted != nb.metadata:
            nb.metadata = nbformat.from_dict(wanted)
            write_atomic(path, notebook_text(nb))
            changed.append(path)
    return changed
