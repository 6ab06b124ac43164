"""Peak server memory while a Flask-style app receives a 1 GiB upload.

For each backend, a server process serves a ``crosswind.app`` application
whose ``MAX_CONTENT_LENGTH`` is 2 GiB (above the server's 100 MiB default).
The client streams 1 GiB from a generator, never holding it: once as a raw
body that the view reads from ``request.stream`` in 1 MiB pieces, once as a
``multipart/form-data`` file that the view finds in ``request.files`` (on
disk: the part passes the 500 KiB spool threshold).  Both are sent with a
``Content-Length`` and chunked.  The server's peak RSS (``VmHWM``) is read
from ``/proc`` before and after each upload; a flat figure is the point.

Run ``python bench/upload_rss.py`` (``make bench`` runs it too);
``--size`` changes the upload size in MiB, ``--backends`` the backends.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MiB = 1024 * 1024
PIECE = 1 * MiB
BOUNDARY = "bench-upload-boundary-5e1d"


# -- the server side ---------------------------------------------------------------


def make_app() -> Any:
    from crosswind.app import App, request

    app = App("upload_rss")
    app.config["MAX_CONTENT_LENGTH"] = 2048 * MiB

    @app.post("/raw")
    def raw() -> Any:
        digest = hashlib.sha256()
        size = 0
        while chunk := request.stream.read(PIECE):
            digest.update(chunk)
            size += len(chunk)
        return {"size": size, "sha256": digest.hexdigest()}

    @app.post("/araw")
    async def araw() -> Any:
        digest = hashlib.sha256()
        size = 0
        while chunk := await request.stream.read(PIECE):
            digest.update(chunk)
            size += len(chunk)
        return {"size": size, "sha256": digest.hexdigest()}

    @app.post("/upload")
    def upload() -> Any:
        upload = request.files["f"]
        digest = hashlib.sha256()
        size = 0
        while chunk := upload.read(PIECE):
            digest.update(chunk)
            size += len(chunk)
        return {"size": size, "sha256": digest.hexdigest()}

    return app


def serve(backend: str, port: int) -> None:
    from crosswind.serving.backends import load_backend

    def started(_: Any) -> None:
        print("ready", flush=True)

    load_backend(backend)(make_app(), host="127.0.0.1", port=port, started=started)


# -- the client side ---------------------------------------------------------------


def _pattern() -> bytes:
    return bytes(range(256)) * (PIECE // 256)


def _raw(size: int) -> Iterator[bytes]:
    piece = _pattern()
    left = size
    while left > 0:
        take = min(left, PIECE)
        yield piece[:take]
        left -= take


def _multipart(size: int) -> tuple[int, Iterator[bytes]]:
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="f"; filename="big.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()

    def body() -> Iterator[bytes]:
        yield head
        yield from _raw(size)
        yield tail

    return len(head) + size + len(tail), body()


def _expected(size: int) -> str:
    digest = hashlib.sha256()
    for piece in _raw(size):
        digest.update(piece)
    return digest.hexdigest()


def _hwm_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc (Linux only)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _post(port: int, path: str, body: Iterator[bytes], length: int | None, content_type: str) -> dict[str, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    headers = {"Content-Type": content_type}
    if length is not None:
        headers["Content-Length"] = str(length)
    try:
        connection.request("POST", path, body=body, headers=headers, encode_chunked=length is None)
        response = connection.getresponse()
        payload = response.read()
        if response.status != 200:
            raise RuntimeError(f"{path}: {response.status} {payload[:200]!r}")
        return dict(json.loads(payload))
    finally:
        connection.close()


def measure(backend: str, size: int) -> list[dict[str, Any]]:
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve", backend, "--port", str(port)],
        stdout=subprocess.PIPE, text=True, env=env,
    )
    rows = []
    try:
        assert process.stdout is not None
        if process.stdout.readline().strip() != "ready":
            raise RuntimeError(f"the {backend} server did not start")
        expected = _expected(size)
        start_kib = _hwm_kib(process.pid)
        raw_path = "/raw" if backend == "threads" else "/araw"
        multipart_length, _ = _multipart(size)
        uploads = [
            ("raw, Content-Length", raw_path, lambda: _raw(size), size, "application/octet-stream"),
            ("raw, chunked", raw_path, lambda: _raw(size), None, "application/octet-stream"),
            ("multipart, Content-Length", "/upload", lambda: _multipart(size)[1], multipart_length,
             f"multipart/form-data; boundary={BOUNDARY}"),
            ("multipart, chunked", "/upload", lambda: _multipart(size)[1], None,
             f"multipart/form-data; boundary={BOUNDARY}"),
        ]
        for label, path, body, length, content_type in uploads:
            began = time.perf_counter()
            result = _post(port, path, body(), length, content_type)
            seconds = time.perf_counter() - began
            if result != {"size": size, "sha256": expected}:
                raise RuntimeError(f"{backend} {label}: the server saw {result}")
            rows.append({
                "backend": backend, "upload": label, "seconds": seconds,
                "start_mib": start_kib / 1024, "peak_mib": _hwm_kib(process.pid) / 1024,
            })
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1024, help="upload size in MiB (default 1024)")
    parser.add_argument("--backends", default="asyncio,trio,threads")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return
    size = args.size * MiB
    print(f"Peak server RSS while receiving {args.size} MiB (VmHWM; MAX_CONTENT_LENGTH 2 GiB)")
    print(f"{'backend':<9} {'upload':<27} {'at start':>9} {'peak':>9} {'MiB/s':>7}")
    for backend in args.backends.split(","):
        for row in measure(backend, size):
            rate = args.size / row["seconds"]
            print(
                f"{row['backend']:<9} {row['upload']:<27} {row['start_mib']:>7.1f}M "
                f"{row['peak_mib']:>7.1f}M {rate:>7.0f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
