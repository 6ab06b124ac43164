"""An HTTP/2 conformance suite modelled on h2spec, run against any server.

h2spec cannot be installed on every machine that runs the tests, so its
method lives here: one fresh connection per case, frames written by hand
(hyperframe for the well-formed ones, raw bytes for the rest), header blocks
by hpack or by hand, and a verdict per case from what the server sends back
within a bounded time.

The cases are grouped as h2spec groups them: ``generic`` (what a server must
accept), ``http2`` (RFC 9113 sections 3 to 8, mostly what it must refuse and
how) and ``hpack`` (RFC 7541 decoding errors).  Run them with::

    python -m tests.support.h2spec --port 8000 [--tls]

or from Python with :func:`run_cases` and a :class:`Target`.
"""

from __future__ import annotations

from tests.support.h2spec import compression, generic, http2_framing, http2_messages
from tests.support.h2spec.harness import CaseFailure, CaseSkipped, Connection, Target
from tests.support.h2spec.registry import CASES, Case, Result, run_case, run_cases

__all__ = [
    "CASES",
    "Case",
    "CaseFailure",
    "CaseSkipped",
    "Connection",
    "Result",
    "Target",
    "run_case",
    "run_cases",
]

# The case modules register their cases on import; keep them referenced.
_MODULES = (generic, http2_framing, http2_messages, compression)
