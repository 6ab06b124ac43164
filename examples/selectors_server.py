"""HTTP/1.1 on selectors around crosswind's sans-IO core: ``python selectors_server.py [PORT]``."""

import selectors
import socket
import sys
import time

from crosswind import NEED_DATA, Data, EndOfMessage, Request, RequestError, ServerConnection


def app(method: bytes, target: bytes, body: bytes) -> tuple[int, bytes]:  # the application
    return {b"/": (200, b"Hello from selectors\n"), b"/echo": (200, body)}.get(target, (404, b"no\n"))


class Client:
    """One accepted socket: its ServerConnection turns bytes into events, `out` awaits sending."""
    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.out, self.closing, self.request = sock, bytearray(), False, None
        self.conn = ServerConnection(clock=time.monotonic)  # its deadlines use this clock

    def process(self) -> None:
        while not self.closing:
            try:
                event = self.conn.next_event()
            except RequestError as error:  # refused: answer with its status, then close
                event, self.out = None, self.out + self.conn.send_error(error)
            if event is NEED_DATA:
                return
            if isinstance(event, Request):
                self.request, self.body = event, bytearray()
                self.out += self.conn.send_continue()  # b"" unless the client waits for it
            elif isinstance(event, Data):
                self.body += event.data
            elif isinstance(event, EndOfMessage):
                status, body = app(self.request.method, self.request.target, bytes(self.body))
                head = [(b"Content-Type", b"text/plain"), (b"Content-Length", b"%d" % len(body))]
                self.out += self.conn.send_response(status, head) + self.conn.send_data(body)
                self.out += self.conn.send_end()
                self.closing = not self.conn.start_next_cycle()  # a pipelined request may follow
            else:  # refused, or ConnectionClosed (the client left between requests)
                self.closing = True


def main(port: int) -> None:
    listener = socket.create_server(("127.0.0.1", port))
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    print("listening on http://127.0.0.1:%d" % listener.getsockname()[1], flush=True)
    while True:
        clients = [key.data for key in selector.get_map().values() if key.data]
        deadlines = [c.conn.deadline for c in clients if c.conn.deadline is not None]
        for key, mask in selector.select(min(deadlines) - time.monotonic() if deadlines else None):
            if (c := key.data) is None:  # the listener: a new connection
                sock = listener.accept()[0]
                sock.setblocking(False)
                selector.register(sock, selectors.EVENT_READ, Client(sock))
                continue
            try:
                if mask & selectors.EVENT_READ:
                    c.conn.receive_data(c.sock.recv(65536))  # b"" tells it the peer closed
                    c.process()
                if mask & selectors.EVENT_WRITE:
                    del c.out[: c.sock.send(c.out)]
            except OSError:  # reset by the peer
                c.out, c.closing = bytearray(), True
        for c in clients:
            if not c.closing and (c.conn.deadline or float("inf")) <= time.monotonic():
                error = c.conn.timeout_error()  # None: idle between requests, close silently
                c.out, c.closing = c.out + (c.conn.send_error(error) if error else b""), True
            if c.closing and not c.out:
                selector.unregister(c.sock)
                c.sock.close()
            else:  # read unless closing, write while output waits
                events = (not c.closing) * selectors.EVENT_READ | bool(c.out) * selectors.EVENT_WRITE
                selector.modify(c.sock, events, c)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 8000)
