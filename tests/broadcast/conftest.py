"""The session's ``redis-server``, shared by the broadcast tests that need one."""

from tests.support.redis_server import redis_server

__all__ = ["redis_server"]
