"""A caller-side client of the gateway WebSocket protocol v1 (used by `gateway call`, benches, tests).

It streams audio as a caller would: 20 ms frames in the session's format, paced in real time or
as fast as possible, then silence so the gateway can hear the turn end; it collects every event.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from gateway.errors import GatewayError
from gateway.events import AudioFormat
from gateway.media import CallerAudio, ReplyEncoder
from modalities.audio.pcm import float32_to_int16
from models.base import Float32Audio

DEFAULT_URL = "ws://127.0.0.1:8080/ws"
BURST_GAP_S = 0.3  # reply audio after this long without any starts a new burst (a new reply)


def played_out(until: float, now: float, seconds: float) -> float:
    """When `seconds` of reply audio arriving at `now` will have played, in real time after what
    was playing until `until` (a caller's phone or browser plays reply audio in arrival order)."""
    return max(until, now) + seconds


def heard_reply_audio(starts: list[float], ends: list[float], now: float) -> None:
    """Reply audio arrived at `now`: it starts a new burst (a new reply) after BURST_GAP_S
    without any, else the current burst goes on to `now`. `ends[i]` is when burst i last arrived."""
    if not ends or now - ends[-1] > BURST_GAP_S:
        starts.append(now)
        ends.append(now)
    else:
        ends[-1] = now


async def next_of(ws: ClientConnection, kind: str, wait: float = 30,
                  where: Callable[[dict[str, Any]], bool] = lambda m: True,
                  seen: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The next text message of type `kind` (matching `where`) within `wait` seconds, skipping
    reply audio; every text message read on the way is appended to `seen` when given. For
    protocol-level callers (benches, tests) that drive a raw connection instead of GatewayClient."""
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


@dataclass
class CallResult:
    session_id: str = ""
    events: list[dict[str, Any]] = field(default_factory=list)
    reply_audio: bytearray = field(default_factory=bytearray)
    first_audio_at: dict[int, float] = field(default_factory=dict)  # turn -> client wall time
    audio_bursts: list[float] = field(default_factory=list)  # wall times reply audio (re)started
    audio_burst_ends: list[float] = field(default_factory=list)  # when each burst's last audio arrived
    # Wall time at which the reply audio received so far has played out, played in real time
    # from its arrival (as a caller's phone or browser plays it); `audio.clear` drops the rest.
    played_until: float = 0.0

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("type") == kind]

    @property
    def transcripts(self) -> list[str]:
        return [e["text"] for e in self.of("transcript.final")]

    def replies(self) -> dict[int, str]:
        out: dict[int, str] = {}
        for e in self.of("reply.text"):
            sep = "" if e.get("language") in ("zh", "yue", "ja") else " "
            out[e["turn_id"]] = (out.get(e["turn_id"], "") + sep + e["text"]).strip()
        return out

    @property
    def errors(self) -> list[dict[str, Any]]:
        return self.of("error")


class GatewayClient:
    """One session over one WebSocket connection; events are collected by a reader task."""

    def __init__(self, url: str = DEFAULT_URL, *, audio: AudioFormat | None = None,
                 language: str = "auto", channel: str = "websocket", **start: Any) -> None:
        self.url = url
        self.audio = audio or AudioFormat("pcm16", 16000)
        self.start_fields = {"language": language, "channel": channel, **start}
        self.result = CallResult()
        self.video_ms = 0  # media time of the next video frame: it must keep rising within a session
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    async def __aenter__(self) -> GatewayClient:
        self._ws = await connect(self.url, max_size=None, open_timeout=30)
        self._reader = asyncio.create_task(self._read())
        await self.send_json({"type": "session.start", "v": 1, **self.start_fields,
                              "audio": {"encoding": self.audio.encoding,
                                        "sample_rate": self.audio.sample_rate}})
        try:
            started = await self.wait_for("session.started", timeout=30)
        except TimeoutError:
            await self.end()
            refusal = next(iter(self.result.errors), None)  # e.g. `busy` while models load
            if refusal is None:
                raise
            code = refusal.get("code", "internal-error")
            raise GatewayError(refusal.get("message", ""), code=code) from None
        self.result.session_id = started["session_id"]
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.end()

    async def end(self) -> None:
        if self._ws is None:
            return
        try:
            await self.send_json({"type": "session.end"})
            await self.wait_for("session.ended", timeout=15)
        except Exception:  # the server may already be gone; closing is all that is left
            pass
        await self._ws.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)
        self._ws = None

    async def _read(self) -> None:
        assert self._ws is not None
        turn = 0
        with contextlib.suppress(ConnectionClosed):  # the gateway's close ends the reading
            async for message in self._ws:
                if isinstance(message, bytes):
                    now = time.perf_counter()
                    self.result.first_audio_at.setdefault(turn, now)
                    heard_reply_audio(self.result.audio_bursts, self.result.audio_burst_ends, now)
                    self.result.reply_audio.extend(message)
                    self.result.played_until = played_out(self.result.played_until, now,
                                                          self.audio.duration_ms(len(message)) / 1000.0)
                else:
                    event = json.loads(message)
                    event["_t"] = time.perf_counter()
                    if event.get("type") == "audio.clear":
                        self.result.played_until = min(self.result.played_until, event["_t"])
                    if "turn_id" in event:
                        turn = event["turn_id"]
                    self.result.events.append(event)
                self._changed.set()
        self._changed.set()

    async def send_json(self, message: dict[str, Any]) -> None:
        assert self._ws is not None
        await self._ws.send(json.dumps(message, ensure_ascii=False))

    async def send_bytes(self, data: bytes) -> None:
        assert self._ws is not None
        await self._ws.send(data)

    async def send_text(self, text: str) -> None:
        await self.send_json({"type": "text", "text": text})

    async def send_image(self, data: bytes, mime: str = "") -> None:
        await self.send_json({"type": "image", "mime": mime, "data": base64.b64encode(data).decode()})

    async def wait_for(self, kind: str, *, timeout: float, count: int = 1,  # noqa: ASYNC109
                       where: dict[str, Any] | None = None) -> dict[str, Any]:
        """Waits until `count` events of a type (matching `where`) have arrived; returns the last."""
        deadline = time.perf_counter() + timeout
        while True:
            found = [e for e in self.result.of(kind)
                     if all(e.get(k) == v for k, v in (where or {}).items())]
            if len(found) >= count:
                return found[count - 1]
            remaining = deadline - time.perf_counter()
            if remaining <= 0 or (self._reader is not None and self._reader.done()):
                raise TimeoutError(f"no {kind} event {where or ''} within {timeout:.0f} s; got "
                                   f"{[e.get('type') for e in self.result.events][-12:]}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(remaining, 0.5)):  # not wait_for: it may swallow a cancel
                    await self._changed.wait()

    async def stream(self, audio: Float32Audio, rate: int, *, realtime: bool,
                     trailing_silence_s: float = 2.0, frame_ms: int | None = None) -> float:
        """Sends audio (float32 mono at `rate`) as frames in the session format; returns the wall
        time at which the last frame of the audio itself (before the trailing silence) was sent.

        Faster than real time, frames default to 100 ms (the gateway counts media time, not
        frames) so a long file stays under the per-connection message rate limit."""
        frame_ms = frame_ms or (20 if realtime else 100)
        frames = encode_frames(audio, rate, self.audio, frame_ms)
        silence = encode_frames(np.zeros(int(trailing_silence_s * rate), np.float32), rate,
                                self.audio, frame_ms)
        t0 = time.perf_counter()
        last_audio_sent = t0
        for i, frame in enumerate([*frames, *silence]):
            if realtime:
                delay = t0 + i * frame_ms / 1000 - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            elif i % 25 == 0:
                await asyncio.sleep(0)  # let the reader run
            await self.send_bytes(frame)
            if i == len(frames) - 1:
                last_audio_sent = time.perf_counter()
        return last_audio_sent


def unsettled_turns(result: CallResult) -> set[int]:
    """Caller turns still waiting for their reply. A turn is settled by its timing event, by an
    error, or by `audio.clear` (the caller talked over it, so no timing event will come)."""
    finals = {e["turn_id"] for e in result.of("transcript.final")}
    done = {e.get("turn_id") for kind in ("turn.timing", "audio.clear", "error") for e in result.of(kind)}
    return finals - done


async def settle(result: CallResult, *, timeout: float, quiet_s: float = 1.5) -> set[int]:  # noqa: ASYNC109
    """Waits until every caller turn is settled and the events have stopped for `quiet_s`, or
    until `timeout` seconds have passed; returns the turns still unsettled then."""
    deadline = time.monotonic() + timeout
    while True:
        count = len(result.events)
        await asyncio.sleep(quiet_s)
        pending = unsettled_turns(result)
        answered = bool(result.of("transcript.final")) and not pending  # nothing heard yet: not settled
        if (answered and len(result.events) == count) or time.monotonic() >= deadline:
            return pending


def encode_frames(audio: Float32Audio, rate: int, fmt: AudioFormat, frame_ms: int = 20) -> list[bytes]:
    """Audio -> whole frames in a session format (the last one padded with silence)."""
    encoder = ReplyEncoder(fmt)
    pcm = float32_to_int16(audio)
    frames = [*encoder.encode(pcm, rate), *encoder.flush()]
    if frame_ms == 20:
        return frames
    joined = b"".join(frames)
    size = fmt.frame_bytes(frame_ms)
    return [joined[i:i + size] for i in range(0, len(joined), size)]


def decode_reply(audio: bytes, fmt: AudioFormat) -> Float32Audio:
    """Reply audio in a session format -> float32 at the session's own rate."""
    return CallerAudio(fmt, out_rate=fmt.sample_rate).decode(audio)


def summary_lines(result: CallResult) -> Sequence[str]:
    lines = []
    replies = result.replies()
    for e in result.of("transcript.final"):
        lines.append(f"caller [{e['turn_id']}] ({e['language']}): {e['text']}")
        if e["turn_id"] in replies:
            lines.append(f"gateway [{e['turn_id']}]: {replies[e['turn_id']]}")
    for e in result.of("turn.timing"):
        if e.get("reply_latency_ms") is not None:
            lines.append(f"turn {e['turn_id']}: reply latency {e['reply_latency_ms']:.0f} ms "
                         f"stages {e['stages']}")
    for e in result.errors:
        lines.append(f"error {e['code']}: {e['message']}")
    return lines
