"""Rich output shared by the commands."""

from __future__ import annotations

from rich.console import Console

console = Console()
error_console = Console(stderr=True)


def print_error(message: str) -> None:
    error_console.print(f"[bold red]error:[/] {message}", highlight=False, markup=True, soft_wrap=True)
