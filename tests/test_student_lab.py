"""`tito student lab`: options go to JupyterLab, instructor tools are off, notebooks open unmodified."""

from __future__ import annotations

import json

import nbformat

from helpers import make_scratch_project, run_tito, write_scratch_module
from tito.project import resolve_module
from tito.student.lab import (INSTRUCTOR_LAB_PLUGINS, INSTRUCTOR_SERVER_EXTENSIONS, kernel_language_info,
                              saved_metadata, settle_notebook_metadata, write_student_config)


def test_options_tito_does_not_know_go_to_jupyter_lab(tmp_path):
    root = make_scratch_project(tmp_path)
    write_scratch_module(root, "01_scratch")
    version = run_tito("student", "lab", "--version", cwd=root)  # jupyter lab's own option, without --
    assert version.returncode == 0 and version.stdout.strip()[:1].isdigit(), version.stdout + version.stderr
    rejected = run_tito("export", "--no-browser", cwd=root)  # other commands still refuse what they do not know
    assert rejected.returncode == 2 and "unrecognized arguments: --no-browser" in rejected.stderr


def test_student_config_switches_the_instructor_tools_off(tmp_path):
    write_student_config(tmp_path)
    page = json.loads((tmp_path / "labconfig" / "page_config.json").read_text())
    assert page["disabledExtensions"] == {plugin: True for plugin in INSTRUCTOR_LAB_PLUGINS}
    assert "@jupyter/nbgrader:validate-assignment" not in page["disabledExtensions"]
    server = json.loads((tmp_path / "jupyter_server_config.json").read_text())
    assert server["ServerApp"]["jpserver_extensions"] == {name: False for name in INSTRUCTOR_SERVER_EXTENSIONS}


def test_saved_metadata_is_what_jupyterlab_writes():
    info = {"name": "python", "version": "3.11.7"}
    jupytext = {"text_representation": {"extension": ".py"}, "formats": "ipynb,py:percent"}
    metadata = {"kernelspec": {"name": "python3"}, "language_info": {"name": "python"}, "jupytext": jupytext}
    assert saved_metadata(metadata, info) == {"kernelspec": {"name": "python3"}, "language_info": info,
                                              "jupytext": {"formats": "ipynb,py:percent"}}
    assert "jupytext" not in saved_metadata({"jupytext": {"text_representation": {}}}, info)
    assert metadata["jupytext"] == jupytext, "the input is left as it was"


def test_settling_rewrites_only_metadata_and_only_once(tmp_path):
    root = make_scratch_project(tmp_path)
    write_scratch_module(root, "01_scratch")
    module = resolve_module("01", root)
    from tito.notebook.source import notebook_text, read_source

    nb = read_source(module.source_path)
    module.notebook_path.write_text(notebook_text(nb))
    module.source_path.unlink()  # a workspace: the notebook is the source
    assert settle_notebook_metadata(root) == [module.notebook_path]
    settled = nbformat.read(module.notebook_path, as_version=4)
    assert settled.metadata["language_info"] == kernel_language_info() and "jupytext" not in settled.metadata
    assert [c.source for c in settled.cells] == [c.source for c in nb.cells]
    assert settle_notebook_metadata(root) == []
