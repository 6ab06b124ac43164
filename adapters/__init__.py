"""Adapters between crosswind applications and WSGI/ASGI servers, both directions."""
