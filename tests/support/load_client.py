"""A keep-alive load client, run as its own process: ``python -m tests.support.load_client PORT N SECONDS``.

Each of *N* connections sends ``GET /`` as soon as its last request was
answered, for up to *SECONDS*, and stops once the server closes it.  It
prints one JSON object: how many requests were answered, and the send
times (``time.monotonic()`` when ``sendall`` returned, which is the same
clock in every process on this system) of requests whose connection closed before they were answered.
A separate process, so that the load does not share the server's GIL.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time

REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


class LoadClient:
    """The connections and what became of their requests."""

    def __init__(self, port: int, connections: int, seconds: float) -> None:
        self.port = port
        self.until = time.monotonic() + seconds
        self.lost: list[float] = []
        self.answered = 0
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run) for _ in range(connections)]

    def run(self) -> None:
        for thread in self._threads:
            thread.start()
        for thread in self._threads:
            thread.join()

    def _run(self) -> None:
        try:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        except OSError:
            return
        with sock:
            buffer = b""
            while time.monotonic() < self.until:
                try:
                    sock.sendall(REQUEST)
                except OSError:
                    self._lose(time.monotonic())
                    return
                # Taken once the bytes are in the kernel, not before: a thread
                # of this process may wait for the GIL between the two, and
                # the request is only "sent" when the server could read it.
                sent_at = time.monotonic()
                head, buffer = one_response(sock, buffer)
                if head is None:
                    self._lose(sent_at)
                    return
                with self._lock:
                    self.answered += 1
                if b"\r\nconnection: close\r\n" in head.lower():
                    return

    def _lose(self, sent_at: float) -> None:
        with self._lock:
            self.lost.append(sent_at)


def one_response(sock: socket.socket, buffer: bytes) -> tuple[bytes | None, bytes]:
    """The head of one ``Content-Length`` response and what follows it; ``None`` if it never came."""
    while True:
        end = buffer.find(b"\r\n\r\n")
        if end >= 0:
            head = buffer[: end + 4]
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            if len(buffer) >= end + 4 + length:
                return head, buffer[end + 4 + length :]
        try:
            chunk = sock.recv(65536)
        except OSError:
            chunk = b""
        if not chunk:
            return None, buffer
        buffer += chunk


def main() -> None:
    port, connections, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    client = LoadClient(port, connections, seconds)
    client.run()
    print(json.dumps({"answered": client.answered, "lost": client.lost}))


if __name__ == "__main__":
    main()
