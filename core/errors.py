"""The exceptions crosswind raises, in two families.

* :class:`LocalProtocolError` -- *our* caller misused an API (sent a body on a
  304, wrote after finishing, passed a header value with a newline).  It is a
  bug in the application and is never the peer's fault.
* :class:`RequestError` and its subclass :class:`RemoteProtocolError` -- the
  *peer* sent something we refuse.  Each carries the HTTP status code to answer
  with and a short reason that is safe to show to that peer.
"""

from __future__ import annotations

__all__ = ["CrosswindError", "LocalProtocolError", "RemoteProtocolError", "RequestError"]


class CrosswindError(Exception):
    """Base class of every exception crosswind raises on purpose."""


class LocalProtocolError(CrosswindError):
    """The application used an API in a way HTTP does not allow."""


class RequestError(CrosswindError):
    """The request cannot be served; answer with :attr:`status_code`.

    :param reason: a short, plain-text explanation that is safe to send back
        to the client (it must never contain secrets).
    :param status_code: the 4xx/5xx status that answers this request.
    """

    def __init__(self, reason: str, status_code: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status_code = status_code


class RemoteProtocolError(RequestError):
    """The peer broke HTTP/1.1 framing or syntax; the connection must close."""
