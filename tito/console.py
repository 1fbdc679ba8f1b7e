"""Rich output shared by the commands.

In a terminal, output fits the terminal and a long table cell folds onto more
lines. Output that is piped or logged is not cut to Rich's 80-column default:
each line is as long as it needs to be, so paths and names stay whole (and
greppable) in a log.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import TextIO

from rich.console import Console
from rich.table import Table

PIPED_WIDTH = 10_000  # columns when not writing to a terminal: wider than any line tito prints


def output_width(stream: TextIO) -> int | None:
    """None (Rich asks the terminal) for a terminal, else PIPED_WIDTH."""
    try:
        interactive = stream.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream
        interactive = False
    return None if interactive else PIPED_WIDTH


console = Console(width=output_width(sys.stdout))
error_console = Console(stderr=True, width=output_width(sys.stderr))


def table(title: str, columns: Iterable[str | tuple[str, str]]) -> Table:
    """A table whose cells are never cut: each column is a name or (name, justify), and folds when narrow."""
    result = Table(title=title)
    for column in columns:
        name, justify = (column, "left") if isinstance(column, str) else column
        result.add_column(name, justify=justify, overflow="fold")
    return result


def print_error(message: str) -> None:
    from rich.markup import escape

    # the message is text, not markup: `.[instructor]` and the like must print as written
    error_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, markup=True, soft_wrap=True)
