"""Asterisk chan_websocket (external media) over WebSocket: `handle_chan_websocket(ws, factory)`.

Asterisk re-times what it gets, but its queue is bounded: MEDIA_XOFF pauses our sending until
MEDIA_XON. Barge-in sends FLUSH_MEDIA. A handoff (or our hang-up) sends HANGUP: the dialplan
continues after Dial(WebSocket/...) and routes the caller to a person.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from gateway.errors import GatewayError
from gateway.ports import SessionFactory, SessionRequest
from gateway.protocol.chan_websocket import ChanWebsocket, CwAudio, CwDtmf, CwFlow, CwMediaStart
from gateway.telephony import (
    DEFAULT_SETTINGS,
    CallBridge,
    PhoneDtmf,
    PhoneInput,
    PhoneSettings,
    TelephonyFrame,
    Transfer,
)
from gateway.transports.phone_bridge import CallStats, run_call

log = logging.getLogger("gateway.phone.chan_websocket")
START_TIMEOUT_S = 10.0
MAX_BAD_FRAMES = 100


class _ChanWire:
    def __init__(self, ws: ServerConnection, proto: ChanWebsocket) -> None:
        self.ws, self.proto = ws, proto
        self.hung_up = False

    async def _send(self, message: str | bytes) -> None:
        try:
            await self.ws.send(message)
        except ConnectionClosed as exc:
            raise ConnectionError("chan_websocket closed") from exc

    async def play(self, frame: TelephonyFrame) -> None:
        await self._send(frame.audio)

    async def clear(self) -> None:
        await self._send(self.proto.flush_media())

    async def mark(self, name: str) -> None:
        return None  # chan_websocket has no mark echo: the bridge reports played audio itself

    async def transfer(self, command: Transfer) -> bool:
        await self.hangup(f"handoff-{command.reason}")
        return True

    async def hangup(self, reason: str) -> None:
        if not self.hung_up:
            self.hung_up = True
            await self._send(self.proto.hangup())
            await self.ws.close(1000, reason[:100])


async def handle_chan_websocket(ws: ServerConnection, factory: SessionFactory,
                                settings: PhoneSettings = DEFAULT_SETTINGS, *,
                                start_timeout_s: float = START_TIMEOUT_S) -> CallStats | None:
    proto = ChanWebsocket()
    try:
        async with asyncio.timeout(start_timeout_s):
            first = await ws.recv()
        start = proto.receive(first)
    except ConnectionClosed:
        return None
    except TimeoutError:
        await ws.close(1008, "chan-websocket-start-timeout")
        return None
    except GatewayError as exc:
        log.warning("chan_websocket start refused: %s (%s)", exc.code, exc.message)
        await ws.close(1008, exc.code)
        return None
    if not isinstance(start, CwMediaStart):
        await ws.close(1008, "chan-websocket-not-started")
        return None
    params = {"connection_id": start.connection_id, "channel": start.channel}
    try:
        session = await factory.open(SessionRequest(channel="phone", audio=start.audio, params=params))
    except GatewayError as exc:
        await ws.send(proto.hangup())
        await ws.close(1013, exc.code)
        return None
    await ws.send(proto.answer())
    bridge = CallBridge(start.audio, frame_ms=start.ptime, lead_ms=settings.websocket_lead_ms,
                        handoff_grace_ms=settings.handoff_grace_ms)

    async def inputs() -> AsyncIterator[PhoneInput]:
        bad, media_ms = 0, 0
        try:
            async for message in ws:
                try:
                    event = proto.receive(message)
                except GatewayError as exc:
                    bad += 1
                    log.warning("chan_websocket frame refused: %s (%s)", exc.code, exc.message)
                    if bad > MAX_BAD_FRAMES:
                        return
                    continue
                if isinstance(event, CwAudio):
                    yield TelephonyFrame(event.payload, media_ms)
                    media_ms += int(start.audio.duration_ms(len(event.payload)))
                elif isinstance(event, CwDtmf):
                    yield PhoneDtmf(event.digit)
                elif isinstance(event, CwFlow):
                    bridge.paused = event.paused
        except ConnectionClosed:
            return

    return await run_call(session, inputs(), _ChanWire(ws, proto), bridge)
