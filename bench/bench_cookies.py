"""How long Cookie-header parsing takes on ordinary and hostile input.

Prints microseconds per parse for crosswind's ``parse_cookie_header`` and, when Tornado
is installed, for ``tornado.httputil.parse_cookie``.  The hostile headers are 64 KiB
shapes that made cookie parsers quadratic in the past (CVE-2024-52804); a linear parser
spends on them about what it spends on a benign header of the same size.

Run: ``.venv/bin/python bench/bench_cookies.py``
"""

from __future__ import annotations

import timeit
from collections.abc import Callable

from crosswind.cookies import parse_cookie_header

SIZE = 64 * 1024

HEADERS: dict[str, str] = {
    "typical (5 cookies)": "sid=abc123; theme=dark; lang=en-US; _ga=GA1.2.3.4; consent=yes",
    "64 KiB of benign cookies": "; ".join(f"c{i}=v{i}" for i in range(SIZE // 12))[:SIZE],
    'a= + 64 KiB of "': "a=" + '"' * SIZE,
    '64 KiB of ";"': ";" * SIZE,
    'repeated a=\\ (64 KiB)': "a=\\" * (SIZE // 3),
    "64 KiB of spaces": " " * SIZE,
    "quoted, 64 KiB of \\": 'a="' + "\\" * SIZE + '"',
    "quoted, 64 KiB of \\0": 'a="' + "\\0" * (SIZE // 2) + '"',
}


def _microseconds(parse: Callable[[str], object], header: str) -> float:
    timer = timeit.Timer(lambda: parse(header))
    loops, _ = timer.autorange()
    best = min(timer.repeat(repeat=3, number=loops))
    return best / loops * 1e6


def main() -> None:
    parsers: list[tuple[str, Callable[[str], object]]] = [("crosswind", parse_cookie_header)]
    try:
        from tornado.httputil import parse_cookie
    except ImportError:
        print("tornado is not installed; timing crosswind only")
    else:
        parsers.append(("tornado", parse_cookie))
    width = max(len(label) for label in HEADERS)
    print(f"{'header':<{width}}  " + "  ".join(f"{name:>12}" for name, _ in parsers))
    for label, header in HEADERS.items():
        cells = [f"{_microseconds(parse, header):9.1f} µs" for _, parse in parsers]
        print(f"{label:<{width}}  " + "  ".join(cells))


if __name__ == "__main__":
    main()
