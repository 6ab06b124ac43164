"""Testing helpers: an in-memory client over the real connection driver."""

from .client import Client, MemoryTransport, Response, parse_responses, serve_bytes

__all__ = ["Client", "MemoryTransport", "Response", "parse_responses", "serve_bytes"]
