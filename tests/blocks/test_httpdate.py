"""HTTP-dates: formatting, parsing, and the per-second cache a server stamps responses with."""

from __future__ import annotations

import datetime

from crosswind.httpdate import DateCache, format_http_date, parse_http_date
from hypothesis import given
from hypothesis import strategies as st


def test_format_is_the_imf_fixdate_of_rfc_9110() -> None:
    assert format_http_date(784111777) == "Sun, 06 Nov 1994 08:49:37 GMT"
    assert format_http_date(datetime.datetime(1994, 11, 6, 8, 49, 37)) == (
        "Sun, 06 Nov 1994 08:49:37 GMT"
    )


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        return self.now


def test_the_cache_formats_once_per_second() -> None:
    clock = Clock(784111777.1)
    dates = DateCache(clock)
    first = dates.as_str()
    assert first == "Sun, 06 Nov 1994 08:49:37 GMT"
    clock.now = 784111777.9
    # The same object: nothing was formatted again within the second.
    assert dates.as_str() is first
    assert dates.as_bytes() == first.encode()
    clock.now = 784111778.0
    assert dates.as_bytes() == b"Sun, 06 Nov 1994 08:49:38 GMT"
    assert dates.as_str() == "Sun, 06 Nov 1994 08:49:38 GMT"
    assert clock.reads == 5  # the clock itself is read on every call


def test_the_cache_follows_a_clock_that_goes_back() -> None:
    clock = Clock(784111777.0)
    dates = DateCache(clock)
    dates.as_str()
    clock.now = 784111700.0
    assert dates.as_str() == "Sun, 06 Nov 1994 08:48:20 GMT"


def test_caches_made_per_connection_share_the_formatting_of_a_second() -> None:
    # Each HTTP/1.1 and HTTP/2 connection makes a cache of its own; a new
    # connection in a second another one has stamped gets the same text.
    first = DateCache(Clock(784111777.2))
    second = DateCache(Clock(784111777.8))
    assert second.as_str() is first.as_str()
    # Caches whose clocks stand at other seconds each keep their own.
    later, earlier = DateCache(Clock(784111778.0)), DateCache(Clock(784111700.0))
    for _ in range(2):
        assert later.field_line() == b"Date: Sun, 06 Nov 1994 08:49:38 GMT\r\n"
        assert earlier.field_line() == b"Date: Sun, 06 Nov 1994 08:48:20 GMT\r\n"
        assert first.as_bytes() == b"Sun, 06 Nov 1994 08:49:37 GMT"


@given(st.integers(min_value=0, max_value=253402300799), st.floats(min_value=0, max_value=0.999))
def test_the_cache_agrees_with_the_formatter_and_the_parser(second: int, fraction: float) -> None:
    dates = DateCache(lambda: second + fraction)
    assert dates.as_str() == format_http_date(second) == dates.as_bytes().decode()
    parsed = parse_http_date(dates.as_str())
    assert parsed is not None and parsed.timestamp() == second
