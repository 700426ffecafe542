"""Reading a gateway WebSocket in tests: the next JSON message of a kind, skipping reply audio."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection


async def next_of(ws: ClientConnection, kind: str, wait: float = 30,
                  where: Callable[[dict[str, Any]], bool] = lambda m: True,
                  seen: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The next text message of type `kind` (matching `where`) within `wait` seconds; every text
    message read on the way is appended to `seen` when given."""
    async with asyncio.timeout(wait):
        while True:
            raw = await ws.recv()
            if isinstance(raw, bytes):
                continue  # reply audio
            message = json.loads(raw)
            if seen is not None:
                seen.append(message)
            if message["type"] == kind and where(message):
                return message
