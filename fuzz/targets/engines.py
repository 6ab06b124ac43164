"""Fuzz target: the native engine against h11, behind the same connection and bare.

Input: the first byte picks how the rest is cut into reads (0: one read), the rest is
what the client sends before closing.

Findings (see ``fuzz/differential.py``): the native and h11 engines make anything
different of the bytes behind the same policy layer; their verdict depends on how the
bytes were cut; native accepts a request bare h11 refuses, or parses one differently.
"""

from __future__ import annotations

import sys
from pathlib import Path

# fuzz/ itself, for the comparison functions shared with the Hypothesis suite.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import LIMITS, FuzzFinding, split_by  # noqa: E402
from differential import Divergence, compare_engines, compare_with_h11  # noqa: E402


def test_one_input(data: bytes) -> None:
    if not data:
        return
    seed, stream = data[0], data[1:]
    try:
        cut = compare_engines(split_by(stream, seed), LIMITS)
        whole = compare_engines([stream], LIMITS) if seed else cut
        compare_with_h11(stream, LIMITS)
    except Divergence as exc:
        raise FuzzFinding(str(exc)) from None
    if whole != cut:
        raise FuzzFinding(f"the verdict depends on how the bytes were cut:\n  {whole}\n  {cut}")
