"""The README's code runs: its Python example executes and every tito command it shows exists."""

from __future__ import annotations

import re
import shlex

import pytest

from helpers import REPO, run_tito

README = (REPO / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```(\w+)\n(.*?)```", README, re.S)


def test_python_examples_run():
    examples = [code for lang, code in BLOCKS if lang == "python"]
    assert examples, "the README has no Python example"
    for code in examples:
        exec(compile(code, "README.md", "exec"), {})


def _tito_commands():
    for lang, code in BLOCKS:
        if lang != "bash":
            continue
        for line in code.splitlines():
            line = line.split("#", 1)[0].strip()
            if line.startswith("tito "):
                yield shlex.split(line)[1:]


@pytest.mark.parametrize("argv", list(_tito_commands()), ids=" ".join)
def test_shown_tito_commands_exist(argv):
    # the subcommand path (without its arguments) must answer --help
    words = [w for w in argv if not w.startswith("-")][:2]
    result = run_tito(*words, "--help")
    assert result.returncode == 0, f"`tito {' '.join(words)}` from the README does not exist: {result.stderr}"


def test_quickstart_is_setup_demo_and_test():
    quickstart = README.split("## Quickstart", 1)[1].split("##", 1)[0]
    commands = [l.split("#")[0].strip() for l in quickstart.splitlines() if l.startswith("make ")]
    assert commands == ["make setup", "make demo", "make test"]
    makefile = (REPO / "Makefile").read_text()
    for target in ("setup", "demo", "test"):
        assert re.search(rf"^{target}:", makefile, re.M), target
    assert "make test" in (REPO / ".ci" / "run").read_text()


def test_each_role_shown_has_its_make_target():
    roles = README.split("## What each role installs", 1)[1].split("##", 1)[0]
    makefile = (REPO / "Makefile").read_text()
    shown = set(re.findall(r"`make ([\w-]+)`", roles))
    assert {"setup", "setup-instructor", "setup-student"} <= shown
    for target in shown:
        assert re.search(rf"^(?:[\w-]+ )*{re.escape(target)}(?: [\w-]+)*:", makefile, re.M), target
