"""Fuzz target: ``multipart/form-data`` parsing.

Input: up to the first newline, the boundary; after it, the body.

Findings: an exception other than :class:`~crosswind.errors.RequestError`, a file
left open after a failure, and a result (or refusal) that changes when the body is
fed in small pieces instead of at once.
"""

from __future__ import annotations

from _common import FuzzFinding, split_by
from crosswind.errors import RequestError
from crosswind.multipart import MultipartParser

_LIMITS = {"max_parts": 20, "max_field_size": 4096, "max_file_size": 8192,
           "max_total_size": 16384, "spool_threshold": 1024}


def _parse(boundary: bytes, pieces: list[bytes]) -> object:
    try:
        parser = MultipartParser(boundary, **_LIMITS)
    except RequestError as error:
        return ("refused boundary", error.status_code)
    try:
        for piece in pieces:
            parser.feed(piece)
        parser.close()
    except RequestError as error:
        if any(not upload.closed for _, upload in parser.files.items(multi=True)):
            raise FuzzFinding("a file stayed open after the parser failed") from None
        return ("refused", error.status_code)
    files = []
    for name, upload in parser.files.items(multi=True):
        files.append((name, upload.filename, upload.content_type, upload.read()))
        upload.close()
    return (parser.fields.items(multi=True), files)


def test_one_input(data: bytes) -> None:
    boundary, _, body = data.partition(b"\n")
    whole = _parse(boundary, [body])
    for pieces in (split_by(body, 1 + len(body) % 7), [body[i : i + 1] for i in range(len(body))]):
        split = _parse(boundary, pieces)
        if whole != split:
            raise FuzzFinding(f"split feeding changed the result: {whole!r} vs {split!r}")
