"""The judge's running session, where the tools a graded test calls can find it.

A graded test runs inline in the student's notebook, or in the trusted judge
(`tito.judge`), where the student's names are proxies into the student's process.
While a test runs there, the judge puts its session here (`set_current`), and the
tools (`tito.tools.judging`, `tito.tools.speed`) ask it for what only the judge can
do. The tools sit below the judge and import nothing of it: `StudentSession` is all
they know of it.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol

NOT_RUNNING = "no graded test is running: the student's objects exist only while a test runs"


class StudentSession(Protocol):
    """What a tool may ask of the judge's session with the student's process (`tito.judge.proxy.JudgeSession`)."""

    pid: int  # the student's process, for what the operating system shows of it (`tito.tools.observe`)

    def is_open(self) -> bool:
        """Whether the student's process still answers this session."""

    def request(self, op: str, args: list, **extra: Any) -> Any:
        """One request to the student's process; its answer as plain data or a proxy."""

    def is_proxy(self, value: Any) -> bool:
        """Whether `value` stands for an object of the student's process."""

    def fetch_plain(self, value: Any) -> Any:
        """A proxy's value as plain data, fetched by value; `TypeError` when it is not plain data."""

    def call_returning_arguments(self, func: Callable[..., Any], args: tuple, kwargs: dict) -> tuple[Any, list[Any]]:
        """`func(*args, **kwargs)` in the student's process, with its array arguments as they were after it."""

    def memory_of(self, value: Any) -> list | None:
        """Where a proxied array lies in the student's memory, in the student's word: to read, never to believe."""


_current: StudentSession | None = None


def set_current(session: StudentSession | None) -> None:
    """The judge's session for the test that starts now; None when it ends."""
    global _current
    _current = session


def current() -> StudentSession | None:
    """The running session; None inline, and in any process that is not the judge.

    `RuntimeError` once the student's process no longer answers it."""
    if _current is not None and not _current.is_open():
        raise RuntimeError(NOT_RUNNING)
    return _current


def running() -> StudentSession:
    """The running session; `RuntimeError` when no graded test is running."""
    session = current()
    if session is None:
        raise RuntimeError(NOT_RUNNING)
    return session
