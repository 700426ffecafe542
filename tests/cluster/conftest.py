"""A real redis-server (Debian `redis-server`) on a free loopback port, killable and restartable."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gateway.cli.processes import MissingProgram, RedisProcess, free_port

__all__ = ["RedisServer", "free_port", "redis_server"]


class RedisServer(RedisProcess):
    """RedisProcess that skips the test (naming the package) where redis-server is absent."""

    def __init__(self) -> None:
        try:
            super().__init__()
        except MissingProgram as exc:
            pytest.skip(str(exc))


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.destroy()
