"""Runs a whole gateway in this process on a loopback port (benchmarks, tests, `gateway call` demos)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from gateway.app import Gateway
from gateway.config import Settings
from gateway.transports.websocket import WebSocketServer


@dataclass(frozen=True)
class LocalGateway:
    gateway: Gateway
    url: str  # ws://127.0.0.1:PORT/ws
    http: str  # http://127.0.0.1:PORT


@asynccontextmanager
async def local_gateway(settings: Settings, *, preload: bool = True) -> AsyncIterator[LocalGateway]:
    gateway = Gateway(settings)
    server = WebSocketServer(gateway)
    port = await server.start("127.0.0.1", 0)
    try:
        await gateway.start(preload=preload)
        yield LocalGateway(gateway, f"ws://127.0.0.1:{port}/ws", f"http://127.0.0.1:{port}")
    finally:
        await server.aclose()
        await gateway.aclose()
