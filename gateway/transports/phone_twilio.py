"""Twilio-style media stream over WebSocket: `handle_twilio(ws, factory)` serves one connection.

Frames go through gateway.protocol.twilio.TwilioStream. A bad frame is logged and skipped; the
call goes on. A handoff closes the stream, which makes Twilio run the next TwiML verb (e.g. a
<Dial> to the agent queue placed after <Connect><Stream>).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping

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
from gateway.protocol.ws_v1 import LANGUAGES
from gateway.security.identifiers import check_tenant_name
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


def _session_fields(params: Mapping[str, str]) -> tuple[str, str]:
    """(tenant, language) from customParameters; a tenant that is no tenant name (or carries a
    number the PII rules would mask) refuses the call, like session.start on /ws."""
    tenant = check_tenant_name(params.get("tenant", "default"))
    language = params.get("language", "auto").lower()
    if language not in LANGUAGES:
        language = language.split("-", 1)[0]  # "en-US" is English
    if language not in LANGUAGES:
        raise GatewayError("customParameters.language is not a supported language",
                           code="twilio-bad-parameter")
    return tenant, language


async def _await_start(ws: ServerConnection, proto: TwilioStream) -> TwilioStart | None:
    bad = 0
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
            return event
    return None


async def handle_twilio(ws: ServerConnection, factory: SessionFactory,
                        settings: PhoneSettings = DEFAULT_SETTINGS, *,
                        start_timeout_s: float = START_TIMEOUT_S) -> CallStats | None:
    proto = TwilioStream()
    try:
        async with asyncio.timeout(start_timeout_s):  # an unstarted stream holds a slot: bounded
            start = await _await_start(ws, proto)
    except ConnectionClosed:
        return None
    except TimeoutError:
        log.info("twilio stream closed: no 'start' within %g s", start_timeout_s)
        await ws.close(1008, "twilio-start-timeout")
        return None
    if start is None:
        return None
    params = {**start.custom_parameters, "stream_sid": start.stream_sid, "call_sid": start.call_sid}
    try:
        tenant, language = _session_fields(params)
    except GatewayError as exc:
        log.warning("twilio call refused: %s", exc.code)  # never the value: it may be a number
        await ws.close(1008, "twilio-bad-parameter")
        return None
    request = SessionRequest(channel="phone", audio=MULAW_8K, language=language, tenant=tenant,
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
