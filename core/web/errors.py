"""The exceptions a Tornado-style handler raises to end a request early."""

from __future__ import annotations

import http.client
from typing import Any

__all__ = ["Finish", "HTTPError", "MissingArgumentError"]


class HTTPError(Exception):
    """Raise to answer the request with an HTTP error status.

    The response body comes from :meth:`RequestHandler.write_error`.

    :param status_code: the status to send.
    :param log_message: written to the log, never to the client; it is
        ``%``-formatted with *args* when any are given.
    :param args: values for the placeholders of *log_message*.
    :param reason: the reason phrase for the status line, for codes without a
        standard one (keyword only).
    """

    def __init__(
        self,
        status_code: int = 500,
        log_message: str | None = None,
        *args: Any,
        reason: str | None = None,
    ) -> None:
        super().__init__(status_code, log_message, *args)
        self.status_code = status_code
        self._log_message = log_message
        self.args = args
        self.reason = reason

    @property
    def log_message(self) -> str | None:
        """The message as given, with ``%`` doubled when it has no arguments.

        Code written for Tornado formats ``log_message % args`` itself; doubling
        keeps a literal ``%`` in an argument-less message from breaking that.
        """
        if self._log_message and not self.args:
            return self._log_message.replace("%", "%%")
        return self._log_message

    def get_message(self) -> str | None:
        """The log message with its arguments filled in."""
        if self._log_message and self.args:
            return self._log_message % self.args
        return self._log_message

    def __str__(self) -> str:
        text = "HTTP %d: %s" % (
            self.status_code,
            self.reason or http.client.responses.get(self.status_code, "Unknown"),
        )
        message = self.get_message()
        return f"{text} ({message})" if message else text


class MissingArgumentError(HTTPError):
    """A required argument was not given; it answers ``400``.

    :param arg_name: the missing argument's name (logged, not shown).
    """

    def __init__(self, arg_name: str) -> None:
        super().__init__(400, "Missing argument %s" % arg_name)
        self.arg_name = arg_name


class Finish(Exception):
    """End the request without an error page.

    The response written so far is sent as it is; an argument is passed to
    :meth:`RequestHandler.finish` first (``raise Finish("done")``).
    """
