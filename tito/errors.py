"""Errors a user can cause. `tito` prints their message as one red line."""


class TitoError(Exception):
    """A problem the user can fix; the message says what to do."""

    exit_code = 1


class UsageError(TitoError):
    """The command line names something that does not exist (a module, a student)."""

    exit_code = 2
