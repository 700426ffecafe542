"""`gateway bench phone` and `gateway sip-call`.

The bench runs a whole gateway in this process with every phone transport on loopback, places
calls with the protocol-accurate callers (gateway/transports/phone_callers.py) streaming a
spoken question in real time, and prints reply latency measured on the wire (last voiced caller
frame sent -> first reply frame received) per protocol, next to the gateway's own WebSocket
protocol measured the same way in the same run; then how many concurrent phone calls stay
within the latency target (p50 <= 700 ms, p95 <= 1200 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import random
import sqlite3
import time
import wave
from collections.abc import Awaitable, Callable
from pathlib import Path

import numpy as np

from gateway.cli.groups import CommandGroups
from gateway.config import Settings, load_settings
from gateway.evaluation import percentile, word_error_rate
from gateway.events import AudioFormat
from gateway.telephony import PhoneSettings
from gateway.transports.phone_callers import (
    AudioSocketCaller,
    ChanWebsocketCaller,
    PhoneCaller,
    SipCaller,
    TwilioCaller,
)

PROJECT = Path(__file__).resolve().parents[2]
QUESTION = PROJECT / "samples" / "audio" / "en_question_returns.wav"
REFERENCE = "Hello, how long do I have to return an item?"  # samples/audio/README.md
PROTOCOLS = ("twilio", "chan_websocket", "audiosocket", "sip")
TARGET_P50_MS, TARGET_P95_MS = 700.0, 1200.0
LINGER_S = 3.0  # stay on the line after the reply starts, so the gateway stores the turn's timings


def register(groups: CommandGroups) -> None:
    p = groups.bench.add_parser("phone", help="reply latency per phone protocol, concurrent calls")
    p.add_argument("--calls", type=int, default=3, help="sequential calls per protocol")
    p.add_argument("--protocols", default=",".join(PROTOCOLS))
    p.add_argument("--levels", default="1,5,10,15,25", help="concurrent call counts to try")
    p.add_argument("--load-protocol", default="sip", choices=PROTOCOLS)
    p.add_argument("--model", default="tiny.en", help="ASR model of the gateway under test")
    p.set_defaults(func=run_bench)
    s = groups.top.add_parser("sip-call", help="place one SIP call (test utility): stream a WAV, send DTMF")
    s.add_argument("target", help="HOST:PORT of a SIP endpoint")
    s.add_argument("--wav", default=str(QUESTION), help="what the caller says")
    s.add_argument("--seconds", type=float, default=12.0, help="call length")
    s.add_argument("--dtmf", default="", help="digits to send after the audio, e.g. 0")
    s.add_argument("--codec", default="PCMU", choices=("PCMU", "PCMA"))
    s.add_argument("--out", default="", help="write what the caller heard to this WAV")
    s.set_defaults(func=run_sip_call)


def question_frames(path: Path = QUESTION) -> tuple[list[np.ndarray], int]:
    """20 ms PCM16 8 kHz frames (0.5 s of silence first) and the index of the last voiced one."""
    from modalities.audio.files import read_audio
    from modalities.audio.resample import resample

    audio, rate = read_audio(path, max_bytes=20_000_000, max_seconds=60)
    pcm = np.clip(resample(audio, rate, 8000) * 32767, -32768, 32767).astype(np.int16)
    pcm = np.concatenate([np.zeros(4000, np.int16), pcm])
    pcm = np.pad(pcm, (0, -len(pcm) % 160))
    frames = list(pcm.reshape(-1, 160))
    voiced = [i for i, f in enumerate(frames) if np.sqrt(np.mean(f.astype(np.float64) ** 2)) > 300]
    return frames, voiced[-1] if voiced else len(frames) - 1


async def place_call(caller: PhoneCaller, frames: list[np.ndarray], last_voiced: int, *,
                     wait_s: float = 15.0, linger_s: float = 0.0) -> float | None:
    """Streams the frames in real time, then silence until the reply starts (and `linger_s`
    more, so the gateway finishes and stores the turn); wire latency in ms."""
    loop = asyncio.get_running_loop()
    await caller.connect()
    silence = np.zeros(160, np.int16)
    t0 = loop.time()
    voiced_at = t0
    try:
        for i in range(len(frames) + int(wait_s * 50)):
            await asyncio.sleep(max(0.0, t0 + i * 0.02 - loop.time()))
            await caller.send(frames[i] if i < len(frames) else silence)
            if i == last_voiced:
                voiced_at = loop.time()
            first = caller.heard.first_reply_at
            if caller.heard.hung_up or (first is not None and loop.time() - first >= linger_s):
                break
    finally:
        await caller.hangup()
    first = caller.heard.first_reply_at
    return None if first is None else (first - voiced_at) * 1000


async def websocket_call(url: str, frames: list[np.ndarray], last_voiced: int, *,
                         linger_s: float = 0.0) -> float | None:
    """The gateway's own WebSocket protocol, same audio (mu-law 8 kHz) and same measure."""
    from gateway.client import GatewayClient

    audio = (np.concatenate(frames) / 32768).astype(np.float32)
    async with GatewayClient(url, audio=AudioFormat("mulaw", 8000), language="en") as client:
        last_sent = await client.stream(audio, 8000, realtime=True, trailing_silence_s=0.0)
        voiced_at = last_sent - (len(frames) - 1 - last_voiced) * 0.02
        deadline = time.perf_counter() + 15
        while time.perf_counter() < deadline:  # the caller's line stays open: silence
            first = min(client.result.first_audio_at.values(), default=None)
            if first is not None and time.perf_counter() - first >= linger_s:
                break
            await client.send_bytes(b"\xff" * 160)
            await asyncio.sleep(0.02)
    first = min(client.result.first_audio_at.values(), default=None)
    return None if first is None else (first - voiced_at) * 1000


def _turns_since(store: str, since: float) -> list[tuple[str, float | None]]:
    """(caller transcript, gateway-side reply latency) of each session started since `since`."""
    conn = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT s.id, t.speaker, t.text, t.timings FROM turns t JOIN sessions s ON s.id = t.session_id "
            "WHERE s.started_at >= ? ORDER BY s.id, t.seq", (since,)).fetchall()
    finally:
        conn.close()
    calls: dict[str, tuple[list[str], list[float]]] = {}
    for sid, speaker, text, timings in rows:
        heard, latency = calls.setdefault(sid, ([], []))
        if speaker == "caller":
            heard.append(str(text))
        elif speaker == "bot" and timings:
            value = json.loads(timings).get("reply_latency")
            if value is not None:
                latency.append(float(value))
    return [(" ".join(h), lat[0] if lat else None) for h, lat in calls.values() if h]


def _summary(name: str, values: list[float | None], baseline: float | None = None) -> str:
    ok = [v for v in values if v is not None]
    if not ok:
        return f"{name:<16} no reply in {len(values)} calls"
    ratio = f"  ratio to websocket p50 {percentile(ok, 50) / baseline:.2f}" if baseline else ""
    return (f"{name:<16} reply latency ms p50 {percentile(ok, 50):.0f}  p95 {percentile(ok, 95):.0f}  "
            f"n={len(ok)}/{len(values)}{ratio}")


def run_bench(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    settings = dataclasses.replace(
        settings, speech=dataclasses.replace(settings.speech, asr_model=args.model),
        store=dataclasses.replace(settings.store, path=str(PROJECT / "var" / "bench-phone.sqlite3")))
    return asyncio.run(_bench(settings, args))


async def _bench(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.local import local_gateway
    from gateway.transports.phone_audiosocket import AudioSocketServer
    from gateway.transports.phone_sip import SipEndpoint
    from gateway.transports.phone_ws import ASTERISK_PATH, TWILIO_PATH, serve_phone_websockets

    frames, last_voiced = question_frames()
    protocols = [p.strip() for p in args.protocols.split(",") if p.strip() in PROTOCOLS]
    phone = PhoneSettings(max_calls=200)
    async with local_gateway(settings) as local:
        gateway = local.gateway
        ws_server = await serve_phone_websockets(gateway, phone)
        ws_port = ws_server.sockets[0].getsockname()[1]
        audiosocket = AudioSocketServer(gateway, phone)
        as_port = await audiosocket.start("127.0.0.1", 0)
        sip = SipEndpoint(gateway, phone)
        sip_port = await sip.start(port=0)
        makers: dict[str, Callable[[], PhoneCaller]] = {
            "twilio": lambda: TwilioCaller(f"ws://127.0.0.1:{ws_port}{TWILIO_PATH}", language="en"),
            "chan_websocket": lambda: ChanWebsocketCaller(f"ws://127.0.0.1:{ws_port}{ASTERISK_PATH}"),
            "audiosocket": lambda: AudioSocketCaller("127.0.0.1", as_port),
            "sip": lambda: SipCaller("127.0.0.1", sip_port)}
        try:
            print(f"ASR model {args.model}; question {QUESTION.name}; {args.calls} rounds, each placing "
                  "one call per protocol in turn (so load drift hits every protocol alike)")
            await websocket_call(local.url, frames, last_voiced)  # warm-up, not counted
            await _latency_rounds(args.calls, ["websocket", *protocols], makers, local.url, frames,
                                  last_voiced, settings.store.path, gateway.store.flush)
            await _capacity(args, makers[args.load_protocol], frames, last_voiced)
        finally:
            await sip.aclose()
            await audiosocket.aclose()
            ws_server.close()
    return 0


async def _latency_rounds(rounds: int, names: list[str], makers: dict[str, Callable[[], PhoneCaller]],
                          url: str, frames: list[np.ndarray], last_voiced: int, store: str,
                          flush: Callable[[], Awaitable[None]]) -> None:
    wire: dict[str, list[float | None]] = {n: [] for n in names}
    server: dict[str, list[float]] = {n: [] for n in names}
    overhead: dict[str, list[float]] = {n: [] for n in names}  # wire minus gateway-side, same call
    wer: dict[str, list[float]] = {n: [] for n in names}
    for _ in range(rounds):
        for name in names:
            since = time.time()
            if name == "websocket":
                measured = await websocket_call(url, frames, last_voiced, linger_s=LINGER_S)
            else:
                measured = await place_call(makers[name](), frames, last_voiced, linger_s=LINGER_S)
            wire[name].append(measured)
            await flush()
            for text, latency in await asyncio.to_thread(_turns_since, store, since):
                wer[name].append(word_error_rate(REFERENCE, text))
                if latency is not None:
                    server[name].append(latency)
                    if measured is not None:
                        overhead[name].append(measured - latency)
    ws_ok = [v for v in wire["websocket"] if v is not None]
    baseline = percentile(ws_ok, 50) if ws_ok else None
    for name in names:
        line = _summary(name, wire[name], None if name == "websocket" else baseline)
        if server[name]:
            line += (f"  gateway-side p50 {percentile(server[name], 50):.0f}  transport overhead p50 "
                     f"{percentile(overhead[name], 50):.0f}")
        if wer[name]:
            line += f"  WER {100 * sum(wer[name]) / len(wer[name]):.1f}%"
        print(line)


async def _capacity(args: argparse.Namespace, make: Callable[[], PhoneCaller], frames: list[np.ndarray],
                    last_voiced: int) -> None:
    sustained = level_before = 0  # the largest level with every smaller level within target
    for level in [int(x) for x in args.levels.split(",") if x.strip()]:
        lat = await _concurrent(level, make, frames, last_voiced)
        ok = [v for v in lat if v is not None]
        within = (len(ok) == level and percentile(ok, 50) <= TARGET_P50_MS
                  and percentile(ok, 95) <= TARGET_P95_MS)
        print(_summary(f"{level} concurrent", lat) + f"  {'within' if within else 'OVER'} target")
        if within and sustained == level_before:
            sustained = level
        level_before = level
    print(f"concurrent {args.load_protocol} calls within target (p50 <= {TARGET_P50_MS:.0f} ms, "
          f"p95 <= {TARGET_P95_MS:.0f} ms): {sustained}")


async def _concurrent(level: int, make: Callable[[], PhoneCaller], frames: list[np.ndarray],
                      last_voiced: int) -> list[float | None]:
    rng = random.Random(level)

    async def one(delay: float) -> float | None:
        await asyncio.sleep(delay)  # callers do not all finish speaking in the same 20 ms
        return await place_call(make(), frames, last_voiced)

    calls: list[Awaitable[float | None]] = [one(rng.uniform(0, 1.0)) for _ in range(level)]
    return list(await asyncio.gather(*calls))


def run_sip_call(args: argparse.Namespace) -> int:
    return asyncio.run(_sip_call(args))


async def _sip_call(args: argparse.Namespace) -> int:
    host, _, port = args.target.rpartition(":")
    frames, _ = question_frames(Path(args.wav))
    caller = SipCaller(host or "127.0.0.1", int(port), codec=args.codec)
    loop = asyncio.get_running_loop()
    await caller.connect()
    t0 = loop.time()
    n = int(args.seconds * 50)
    try:
        for i in range(n):
            await asyncio.sleep(max(0.0, t0 + i * 0.02 - loop.time()))
            await caller.send(frames[i] if i < len(frames) else np.zeros(160, np.int16))
            if i == len(frames) + 100 and args.dtmf:
                for digit in args.dtmf:
                    await caller.dtmf(digit)
            if caller.heard.hung_up:
                break
    finally:
        await caller.hangup()
    heard = np.frombuffer(bytes(caller.heard.audio), dtype="<i2")
    first = caller.heard.first_reply_at
    print(f"heard {len(heard) / 8000:.1f} s of reply audio; first reply "
          f"{'never' if first is None else f'{first - t0:.2f} s'} after the call started; "
          f"transfer to {caller.refer_to or '-'}; "
          f"{'hung up by the gateway' if caller.heard.hung_up else 'hung up by us'}")
    if args.out:
        with wave.open(args.out, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(8000)
            w.writeframes(heard.tobytes())
    return 0
