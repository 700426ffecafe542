"""Twilio-style media stream over WebSocket: `handle_twilio(ws, factory)` serves one connection.

Frames go through gateway.protocol.twilio.TwilioStream. A bad frame is logged and skipped; the
call goes on. A handoff closes the stream, which makes Twilio run the next TwiML verb (e.g. a
<Dial> to the agent queue placed after <Connect><Stream>).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from gateway.errors import GatewayError
from gateway.events import AudioFormat
from gateway.ports import SessionFactory, SessionRequest
from gateway.protocol.twilio import (
    TwilioDtmf,
    TwilioMark,
    TwilioMedia,
    TwilioStart,
    TwilioStop,
    TwilioStream,
)
from gateway.telephony import (
    DEFAULT_SETTINGS,
    CallBridge,
    PhoneDtmf,
    PhoneHangup,
    PhoneInput,
    PhoneMark,
    PhoneSettings,
    TelephonyFrame,
    Transfer,
)
from gateway.transports.phone_bridge import CallStats, run_call

log = logging.getLogger("gateway.phone.twilio")
MULAW_8K = AudioFormat("mulaw", 8000)
START_TIMEOUT_S = 10.0
MAX_BAD_FRAMES = 100  # a peer that sends nothing valid is cut off


class _TwilioWire:
    def __init__(self, ws: ServerConnection, proto: TwilioStream) -> None:
        self.ws, self.proto = ws, proto

    async def _send(self, text: str) -> None:
        try:
            await self.ws.send(text)
        except ConnectionClosed as exc:
            raise ConnectionError("twilio stream closed") from exc

    async def play(self, frame: TelephonyFrame) -> None:
        await self._send(self.proto.media(frame.audio))

    async def clear(self) -> None:
        await self._send(self.proto.clear())

    async def mark(self, name: str) -> None:
        await self._send(self.proto.mark(name))

    async def transfer(self, command: Transfer) -> bool:
        await self._send(self.proto.mark(f"handoff-{command.reason}"))
        await self.ws.close(1000, "handoff")
        return True

    async def hangup(self, reason: str) -> None:
        await self.ws.close(1000, reason[:100])


def _to_input(proto: TwilioStream, frame: str | bytes) -> PhoneInput | None:
    event = proto.receive(frame)
    if isinstance(event, TwilioMedia):
        return TelephonyFrame(event.payload, event.timestamp_ms or 0) if event.track != "outbound" else None
    if isinstance(event, TwilioDtmf):
        return PhoneDtmf(event.digit)
    if isinstance(event, TwilioMark):
        return PhoneMark(event.name)
    if isinstance(event, TwilioStop):
        return PhoneHangup("caller-hangup")
    return None


async def handle_twilio(ws: ServerConnection, factory: SessionFactory,
                        settings: PhoneSettings = DEFAULT_SETTINGS) -> CallStats | None:
    proto = TwilioStream()
    bad = 0
    start: TwilioStart | None = None
    try:
        async for frame in ws:
            try:
                event = proto.receive(frame)
            except GatewayError as exc:
                bad += 1
                log.warning("twilio frame refused before start: %s (%s)", exc.code, exc.message)
                if bad > MAX_BAD_FRAMES:
                    await ws.close(1008, exc.code)
                    return None
                continue
            if isinstance(event, TwilioStart):
                start = event
                break
    except ConnectionClosed:
        return None
    if start is None:
        return None
    params = {**start.custom_parameters, "stream_sid": start.stream_sid, "call_sid": start.call_sid}
    request = SessionRequest(channel="phone", audio=MULAW_8K,
                             language=params.get("language", "auto"), tenant=params.get("tenant", "default"),
                             params=params)
    try:
        session = await factory.open(request)
    except GatewayError as exc:
        log.warning("twilio call refused: %s", exc.code)
        await ws.close(1013, exc.code)
        return None

    async def inputs() -> AsyncIterator[PhoneInput]:
        bad_frames = 0
        try:
            async for frame in ws:
                try:
                    item = _to_input(proto, frame)
                except GatewayError as exc:
                    bad_frames += 1
                    log.warning("twilio frame refused: %s (%s)", exc.code, exc.message)
                    if bad_frames > MAX_BAD_FRAMES:
                        return
                    continue
                if item is not None:
                    yield item
        except ConnectionClosed:
            return

    bridge = CallBridge(MULAW_8K, lead_ms=settings.websocket_lead_ms, far_end_marks=True,
                        handoff_grace_ms=settings.handoff_grace_ms)
    return await run_call(session, inputs(), _TwilioWire(ws, proto), bridge)
