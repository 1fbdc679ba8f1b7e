"""Output that is piped or logged keeps whole values; in a terminal long cells fold instead of being cut."""

from __future__ import annotations

import io
import os
import subprocess

from rich.console import Console

from helpers import REPO, TITO
from tito.console import PIPED_WIDTH, output_width, table


def test_a_pipe_gets_whole_lines_and_a_terminal_its_own_width():
    reader, writer = os.pipe()
    main, secondary = os.openpty()
    try:
        with os.fdopen(writer, "w", closefd=False) as pipe, os.fdopen(secondary, "w", closefd=False) as terminal:
            assert output_width(pipe) == PIPED_WIDTH
            assert output_width(terminal) is None
    finally:
        for fd in (reader, writer, main, secondary):
            os.close(fd)


def test_piped_tito_output_keeps_every_cell_whole():
    # 80 columns, as a log or a pipe gets: Rich used to cut cells to fit
    result = subprocess.run([*TITO, "module", "status"], cwd=REPO, capture_output=True, text=True, timeout=300,
                            env=dict(os.environ, COLUMNS="80"))
    assert result.returncode == 0, result.stderr
    row = next(line for line in result.stdout.splitlines() if "02_activations" in line)
    assert "tinytorch.core.activations" in row and "…" not in result.stdout, result.stdout


def test_a_narrow_table_folds_long_values_instead_of_cutting_them():
    value = "course/release/11_kernels/kernels_dev.ipynb"
    narrow = Console(file=io.StringIO(), width=30)
    shown = table("tito nbgrader generate", ("module", "release notebook"))
    shown.add_row("11_kernels", value)
    narrow.print(shown)
    text = narrow.file.getvalue()
    assert "…" not in text
    assert value in "".join(line.split("│")[2].strip() for line in text.splitlines() if line.count("│") == 3)
