from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.store.pg_server import PostgresServer


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer()
    server.start()
    yield server
    server.destroy()
