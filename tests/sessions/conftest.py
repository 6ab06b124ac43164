"""The session's ``redis-server``, shared by the session tests that do not stop it."""

from tests.support.redis_server import redis_server

__all__ = ["redis_server"]
