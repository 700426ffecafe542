"""Asterisk AudioSocket server (TCP): `AudioSocketServer(factory).start(host, port)`.

Asterisk sends the call id first, then 20 ms PCM frames, DTMF and hang-up. We pace our own
20 ms frames (Asterisk plays what arrives), so a barge-in has little to take back: the bridge
drops its queue and stops sending. A framing error (oversized length) ends that call only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from gateway.errors import GatewayError
from gateway.events import AudioFormat
from gateway.ports import SessionFactory, SessionRequest
from gateway.protocol.audiosocket import (
    AsAudio,
    AsCallId,
    AsDtmf,
    AsError,
    AsHangup,
    AsInvalid,
    AudioSocketParser,
    audio_frame,
    hangup_frame,
)
from gateway.telephony import (
    DEFAULT_SETTINGS,
    CallBridge,
    PhoneDtmf,
    PhoneHangup,
    PhoneInput,
    PhoneSettings,
    TelephonyFrame,
    Transfer,
)
from gateway.transports.phone_bridge import CallStats, run_call

log = logging.getLogger("gateway.phone.audiosocket")
PCM_8K = AudioFormat("pcm16", 8000)
START_TIMEOUT_S = 10.0
MAX_CONNECTIONS = 200  # beyond server.max_sessions' default of 50: calls end and start at once
READ_BYTES = 4096
LEAD_MS = 40  # a little ahead of real time, so event-loop jitter never starves Asterisk


class _AudioSocketWire:
    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.closed = False

    async def play(self, frame: TelephonyFrame) -> None:
        if self.writer.is_closing():
            raise ConnectionError("audiosocket closed")
        self.writer.write(audio_frame(frame.audio))
        await self.writer.drain()

    async def clear(self) -> None:
        return None  # nothing is queued at the far end beyond LEAD_MS

    async def mark(self, name: str) -> None:
        return None

    async def transfer(self, command: Transfer) -> bool:
        await self.hangup(f"handoff-{command.reason}")  # the dialplan continues to a person
        return True

    async def hangup(self, reason: str) -> None:
        if not self.closed:
            self.closed = True
            with contextlib.suppress(ConnectionError, OSError):
                self.writer.write(hangup_frame())
                await self.writer.drain()
            self.writer.close()


class AudioSocketServer:
    def __init__(self, factory: SessionFactory, settings: PhoneSettings = DEFAULT_SETTINGS, *,
                 max_connections: int = MAX_CONNECTIONS) -> None:
        self.factory = factory
        self.settings = settings
        self.max_connections = max_connections  # open TCP connections, started or not
        self.server: asyncio.Server | None = None
        self.calls: set[asyncio.Task[CallStats | None]] = set()
        self.last_stats: CallStats | None = None

    async def start(self, host: str | None = None, port: int | None = None) -> int:
        self.server = await asyncio.start_server(
            self._connection, host or self.settings.audiosocket_host,
            self.settings.audiosocket_port if port is None else port)
        return int(self.server.sockets[0].getsockname()[1])

    async def aclose(self) -> None:
        if self.server is not None:
            self.server.close()
            for task in list(self.calls):
                task.cancel()
            await asyncio.gather(*self.calls, return_exceptions=True)
            await self.server.wait_closed()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        if len(self.calls) >= self.max_connections:  # unstarted ones count too: each holds an fd
            log.warning("audiosocket connection refused: all %d connections open", self.max_connections)
            writer.close()
            return
        self.calls.add(task)
        try:
            self.last_stats = await self._call(reader, writer)
        finally:
            self.calls.discard(task)
            writer.close()

    async def _call(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> CallStats | None:
        parser = AudioSocketParser()
        pending: list[PhoneInput] = []
        call_id: str | None = None
        try:
            async with asyncio.timeout(START_TIMEOUT_S):
                while call_id is None:
                    data = await reader.read(READ_BYTES)
                    if not data:
                        return None
                    for event in parser.feed(data):
                        if isinstance(event, AsCallId):
                            call_id = event.call_id
                        elif call_id is not None:
                            pending.extend(_to_inputs(event))
        except (TimeoutError, GatewayError) as exc:
            log.warning("audiosocket call refused before start: %s", getattr(exc, "code", "timeout"))
            return None
        try:
            peer = writer.get_extra_info("peername")
            session = await self.factory.open(SessionRequest(
                channel="phone", audio=PCM_8K, params={"call_id": call_id},
                source=str(peer[0]) if peer else None))
        except GatewayError as exc:
            log.warning("audiosocket call refused: %s", exc.code)
            writer.write(hangup_frame())
            return None

        async def inputs() -> AsyncIterator[PhoneInput]:
            for item in pending:
                yield item
            while True:
                try:
                    data = await reader.read(READ_BYTES)
                except (ConnectionError, OSError):
                    return
                try:
                    if not data:
                        parser.eof()
                        return
                    events = parser.feed(data)
                except GatewayError as exc:  # oversized or truncated frame: this call cannot go on
                    log.warning("audiosocket stream broken: %s (%s)", exc.code, exc.message)
                    yield PhoneHangup(exc.code)
                    return
                for event in events:
                    for item in _to_inputs(event):
                        yield item

        bridge = CallBridge(PCM_8K, lead_ms=LEAD_MS, handoff_grace_ms=self.settings.handoff_grace_ms)
        return await run_call(session, inputs(), _AudioSocketWire(writer), bridge)


def _to_inputs(event: object) -> list[PhoneInput]:
    if isinstance(event, AsAudio):
        return [TelephonyFrame(event.pcm, 0)]
    if isinstance(event, AsDtmf):
        return [PhoneDtmf(event.digit)]
    if isinstance(event, AsHangup):
        return [PhoneHangup("caller-hangup")]
    if isinstance(event, AsError):
        log.warning("asterisk reported audiosocket error 0x%02x", event.code)
        return [PhoneHangup(f"audiosocket-error-{event.code}")]
    if isinstance(event, AsInvalid):
        log.warning("audiosocket frame refused: %s (%s)", event.error.code, event.error.message)
    return []
