"""The one error of :mod:`crosswind.serving`: a problem to report on one line, with an exit status."""

from __future__ import annotations

__all__ = ["EXIT_FAILURE", "EXIT_USAGE", "CLIError"]

# Exit statuses: 2 for a command that cannot work as given (usage, imports,
# configuration), 1 for one that failed while running (the port is taken).
EXIT_USAGE = 2
EXIT_FAILURE = 1


class CLIError(Exception):
    """A problem to report on one line, and the exit status to report it with.

    Raised by loading an application, loading a backend and starting workers;
    the command line prints the message and exits with *exit_code*, and a
    program calling those functions itself (``Application.listen``) sees it
    as an ordinary exception.

    :param message: what went wrong, naming the module, file or address.
    :param exit_code: the process's exit status.
    """

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
