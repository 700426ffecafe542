"""`gateway loadtest URL --callers N --audio FILES`: real-time callers against a running gateway.

Run it as its own process against `gateway serve` (or any deployment): each caller opens a
session over the public WebSocket protocol, speaks real recordings in real time as 20 ms frames,
keeps its line open with silence while it waits (as a phone line does), and judges every reply
from its own side of the wire:

- reply latency: the caller's end of speech (the last voiced window of the recording by Silero
  VAD run offline over the file in this process, by energy without the VAD's weights:
  modalities/audio/speech_spans.py, the same definition for any server) to the first reply audio
  that reaches the caller after it;
- talked over: reply audio that started while the caller was still mid-recording (in a pause or
  over their speech);
- reply audio over the caller's speech: turns during whose speech any reply audio arrived,
  including the rest of an earlier reply the caller took for finished (a phone wire's guess, below);
  on a wire without marks that is what makes the gateway count a barge-in;
- unanswered: no reply audio within --timeout seconds of the end of speech;
- listening: a caller hears each reply to its end (its audio played in real time from arrival)
  and speaks its next recording GAP_S after that, so it never barges in;
- refused: the session was not admitted (`busy`), which is the right answer past capacity;
- word error rate (references in words, English) and character error rate (references in Chinese
  characters) of what the gateway heard: each recording's `transcript.final` events against its
  reference text, pooled over all scored turns (gateway/cli/loadtest_scoring.py says how a final
  is attributed to a recording). References come from gateway/speech_references.py (the
  ../shared/realdata and samples/audio recordings) or `--reference PATH=TEXT`; a recording with
  neither is named as not scored.

With --server-pid (same machine) it also reads the server's resident memory and CPU time.

--protocol twilio|audiosocket|sip drives the phone entry points instead (docs/phone.md): the same
callers and end of speech, the recording converted to the wire's codec (mu-law 8 kHz JSON media
frames on the Twilio-style WebSocket, signed 16-bit 8 kHz on AudioSocket's TCP frames, PCMU RTP
after a SIP INVITE; a refused INVITE, 486 past capacity, counts as `busy`). Those wires carry no
events: a Twilio reply has finished at the gateway's mark after its audio, an AudioSocket or SIP
reply after PHONE_QUIET_S without reply audio. Nor do they carry transcripts: the error rates are
not measured there (null in --json).
--port-per-caller sends caller i to the URL's port + i (one server process per caller, as
Pipecat deploys: `gateway bench pipecat`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from gateway.cli.groups import CommandGroups
from gateway.cli.loadtest_scoring import Accuracy, Final, Spoken, reference_for, reference_texts, report_lines
from gateway.cli.processes import cpu_seconds, rss_bytes
from gateway.client import DEFAULT_URL, GatewayClient, encode_frames, heard_reply_audio, played_out
from gateway.errors import GatewayError, ModelUnavailable
from gateway.evaluation import percentile
from gateway.events import AudioFormat
from gateway.transports.phone_callers import AudioSocketCaller, Heard, SipCaller, TwilioCaller
from modalities.audio.files import read_audio
from modalities.audio.resample import resample
from modalities.audio.speech_spans import SpeechSpan, judge_turn, speech_span, voiced_span

FRAME_MS = 20
MAX_CALLERS = 500
MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_SECONDS = 120.0
GAP_S = 1.0  # silence between a reply and the caller's next recording
PHONE_QUIET_S = 2.0  # a phone wire's reply has ended after this long without reply audio (a loaded
# gateway can leave a second between two clauses of one reply: that is not a new reply)
PROTOCOLS = ("v1", "twilio", "audiosocket", "sip")
V1_FORMAT = AudioFormat("pcm16", 16000)
PHONE_FORMAT = AudioFormat("pcm16", 8000)  # what the phone callers take; each wire encodes it


def register(groups: CommandGroups) -> None:
    p = groups.top.add_parser("loadtest", help="real-time callers speaking recordings to a running gateway")
    p.add_argument("url", nargs="?", default=DEFAULT_URL, help=f"WebSocket URL (default {DEFAULT_URL})")
    p.add_argument("--audio", nargs="+", required=True, help="recordings the callers speak (WAV, FLAC, ...)")
    p.add_argument("--callers", type=int, default=1, help=f"concurrent callers (1..{MAX_CALLERS})")
    p.add_argument("--turns", type=int, default=3, help="recordings each caller speaks, one per turn")
    p.add_argument("--language", default="auto", help="session language (ISO 639-1) or auto")
    p.add_argument("--ramp", type=float, default=0.5, help="seconds between caller starts")
    p.add_argument("--timeout", type=float, default=20.0,
                   help="seconds after the end of speech before a turn counts as unanswered")
    p.add_argument("--protocol", choices=PROTOCOLS, default="v1",
                   help="entry point: v1 (WebSocket protocol v1, URL ws://HOST:PORT/ws), twilio "
                        "(ws://HOST:PORT/phone/twilio), audiosocket (tcp://HOST:PORT) or sip "
                        "(sip://HOST:PORT, the phone.sip_port)")
    p.add_argument("--port-per-caller", action="store_true",
                   help="caller i connects to the URL's port + i (one server process per caller)")
    p.add_argument("--reference", action="append", default=[], metavar="PATH=TEXT",
                   help="what a recording says, to score what the gateway heard (repeatable; the "
                        "project's known recordings need none)")
    p.add_argument("--server-pid", type=int, help="the gateway's process id, for its RSS and CPU (same host)")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    p.set_defaults(func=run)


@dataclass(frozen=True)
class Recording:
    name: str
    frames: tuple[bytes, ...]
    span: SpeechSpan
    reference: str | None  # what it says; None: not scored


@dataclass
class Tally:
    callers: int
    accuracy: Accuracy
    latencies_s: list[float] = field(default_factory=list)
    turns: int = 0
    unanswered: int = 0
    talked_over: int = 0
    audio_over_speech: int = 0  # turns whose speech had reply audio arriving over it
    refused: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)


def load_recordings(paths: list[str], fmt: AudioFormat, references: list[str]) -> list[Recording]:
    given = reference_texts(references, paths)
    recordings = []
    for path in paths:
        audio, rate = read_audio(Path(path), max_bytes=MAX_FILE_BYTES, max_seconds=MAX_SECONDS)
        span = offline_voiced_span(audio, rate) or speech_span(audio, rate)
        if span is None:
            raise ValueError(f"{path}: no speech found (silent recording)")
        frames = encode_frames(audio, rate, fmt, FRAME_MS)
        recordings.append(Recording(Path(path).name, tuple(frames), span, reference_for(path, given)))
    return recordings


def offline_voiced_span(audio: np.ndarray, rate: int) -> SpeechSpan | None:
    """The recording's speech by Silero VAD over the whole file (the client's own instance, run
    before the call); None without the VAD's weights: the energy rule then decides."""
    try:
        from models.vad_silero import SileroVad

        vad = SileroVad()
    except (ModelUnavailable, ImportError):
        return None
    try:
        pcm = resample(audio, rate, vad.sample_rate) if rate != vad.sample_rate else audio
        size = vad.window_samples
        scores = np.array([vad.probability(pcm[i:i + size]) for i in range(0, len(pcm) - size + 1, size)])
    finally:
        vad.close()
    return voiced_span(scores, size / vad.sample_rate)


class Wire(Protocol):
    """One caller's connection, whatever the entry point."""

    bursts: list[float]  # wall times at which reply audio (re)started arriving
    burst_ends: list[float]  # when each burst's last audio arrived

    async def send(self, frame: bytes) -> None: ...
    def settled_after(self, t: float) -> bool: ...
    @property
    def gone(self) -> bool: ...
    async def end(self) -> list[str]: ...  # the error codes the server sent
    def finals(self) -> list[Final] | None: ...  # the caller's transcripts; None: the wire has none


class V1Wire:
    def __init__(self, client: GatewayClient) -> None:
        self.client = client
        self.bursts = client.result.audio_bursts
        self.burst_ends = client.result.audio_burst_ends

    async def send(self, frame: bytes) -> None:
        await self.client.send_bytes(frame)

    def settled_after(self, t: float) -> bool:
        """A reply to speech that ended at wall time `t` has finished and been heard to its end
        (the gateway sends audio ahead of real time), or the turn ended otherwise."""
        result = self.client.result
        return (any(e["_t"] >= t and e.get("type") in ("reply.audio.end", "turn.timing", "error")
                    for e in result.events)
                and time.perf_counter() >= result.played_until)

    @property
    def gone(self) -> bool:
        return False  # a closed connection fails the next send

    async def end(self) -> list[str]:
        await self.client.end()
        return [e.get("code", "?") for e in self.client.result.errors]

    def finals(self) -> list[Final]:
        return [(e["_t"], e["text"]) for e in self.client.result.of("transcript.final")
                if e.get("modality", "speech") == "speech"]


class _TimedMarks(list[str]):
    """Twilio marks as the caller receives them, with the wall time of each."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    def append(self, name: str) -> None:
        self.times.append(time.perf_counter())
        super().append(name)


class _BurstHeard(Heard):
    """What a phone caller heard, with the wall times at which reply audio (re)started."""

    def __init__(self) -> None:
        super().__init__()
        self.bursts: list[float] = []
        self.burst_ends: list[float] = []
        self.played_until = 0.0  # wall time the reply audio heard so far has played out
        self.marks: _TimedMarks = _TimedMarks()

    def add(self, pcm16: bytes) -> None:
        super().add(pcm16)
        now = time.perf_counter()
        heard_reply_audio(self.bursts, self.burst_ends, now)
        self.played_until = played_out(self.played_until, now, PHONE_FORMAT.duration_ms(len(pcm16)) / 1000.0)


class PhoneWire:
    def __init__(self, caller: TwilioCaller | AudioSocketCaller | SipCaller) -> None:
        self.caller = caller
        self.heard = _BurstHeard()
        caller.heard = self.heard
        self.bursts = self.heard.bursts
        self.burst_ends = self.heard.burst_ends

    async def send(self, frame: bytes) -> None:
        if self.heard.hung_up:  # the server ended the call (a handoff hangs up the phone wire)
            return
        try:
            await self.caller.send(np.frombuffer(frame, "<i2"))
        except OSError:  # the server closed the TCP line (AudioSocket): a hang-up, not a crash
            self.heard.hung_up = True

    def settled_after(self, t: float) -> bool:
        """Twilio: the gateway marks the end of each reply's audio. AudioSocket has no marks: the
        reply ended after PHONE_QUIET_S without audio. Either way the caller has heard it to its end."""
        started = [b for b in self.bursts if b >= t]
        if not started or time.perf_counter() < self.heard.played_until:
            return False
        if isinstance(self.caller, TwilioCaller):
            return any(m >= started[0] for m in self.heard.marks.times)
        return time.perf_counter() - self.heard.burst_ends[-1] > PHONE_QUIET_S  # `started`: not empty

    @property
    def gone(self) -> bool:
        return self.heard.hung_up

    async def end(self) -> list[str]:
        hung_up = self.heard.hung_up
        await self.caller.hangup()
        return ["hung-up"] if hung_up else []

    def finals(self) -> None:
        return None  # the phone wires carry audio (and marks) only


def caller_url(url: str, index: int, per_caller: bool) -> str:
    if not per_caller:
        return url
    parts = urlsplit(url)
    if parts.port is None:
        raise ValueError(f"--port-per-caller needs a port in the URL: {url}")
    return urlunsplit(parts._replace(netloc=f"{parts.hostname}:{parts.port + index}"))


async def connect(args: argparse.Namespace, url: str) -> Wire:
    if args.protocol == "v1":
        client = GatewayClient(url, audio=V1_FORMAT, language=args.language)
        await client.__aenter__()
        return V1Wire(client)
    caller: TwilioCaller | AudioSocketCaller | SipCaller
    if args.protocol == "twilio":
        caller = TwilioCaller(url, language=args.language)
    elif args.protocol == "sip":
        parts = urlsplit(url if "//" in url else f"sip://{url}")
        caller = SipCaller(parts.hostname or "127.0.0.1", parts.port or 5060)
    else:
        parts = urlsplit(url if "//" in url else f"tcp://{url}")
        caller = AudioSocketCaller(parts.hostname or "127.0.0.1", parts.port or 9092)
    wire = PhoneWire(caller)
    try:
        await caller.connect()
    except ConnectionError as exc:  # SIP: the INVITE was refused (486 Busy Here past capacity)
        raise GatewayError(str(exc), code="busy" if " 486 " in f" {exc} " else "refused") from exc
    except TimeoutError as exc:  # SIP: no final answer to the INVITE within 10 s
        raise GatewayError("the INVITE was not answered", code="no-answer") from exc
    return wire


class Line:
    """The caller's side of the line: sends 20 ms frames at the real-time rate, never faster."""

    def __init__(self, wire: Wire, fmt: AudioFormat) -> None:
        self.wire = wire
        self.silence = encode_frames(np.zeros(fmt.sample_rate * FRAME_MS // 1000, np.float32),
                                     fmt.sample_rate, fmt, FRAME_MS)[0]
        self.next_at = time.perf_counter()

    async def send(self, frame: bytes) -> float:
        """Sends one frame at its slot; returns the wall time of the slot."""
        delay = self.next_at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        else:  # the caller fell behind (an overloaded client): restart the clock, do not burst
            self.next_at = time.perf_counter()
        slot = self.next_at
        await self.wire.send(frame)
        self.next_at += FRAME_MS / 1000
        return slot

    async def silence_for(self, seconds: float) -> None:
        for _ in range(max(1, int(seconds * 1000 / FRAME_MS))):
            await self.send(self.silence)


async def one_turn(line: Line, recording: Recording, timeout_s: float, tally: Tally) -> Spoken:
    wire = line.wire
    start = await line.send(recording.frames[0])
    for frame in recording.frames[1:]:
        await line.send(frame)
    speech_start = start + recording.span.start_s
    speech_end = start + recording.span.end_s
    deadline = speech_end + timeout_s
    while time.perf_counter() < deadline and not wire.settled_after(speech_end) and not wire.gone:
        await line.silence_for(0.1)
    await line.silence_for(GAP_S)
    verdict = judge_turn(speech_start, speech_end, wire.bursts, deadline, wire.burst_ends)
    tally.turns += 1
    tally.talked_over += verdict.talked_over
    tally.audio_over_speech += verdict.audio_over_speech
    if verdict.latency_s is None:
        tally.unanswered += 1
    else:
        tally.latencies_s.append(verdict.latency_s)
    return Spoken(recording.name, recording.reference, speech_start)


async def caller(index: int, args: argparse.Namespace, fmt: AudioFormat, recordings: list[Recording],
                 tally: Tally) -> None:
    await asyncio.sleep(index * args.ramp)
    try:
        wire = await connect(args, caller_url(args.url, index, args.port_per_caller))
    except GatewayError as exc:  # `busy` past capacity; anything else is an error
        tally.refused[exc.code] += 1
        return
    spoken: list[Spoken] = []
    try:
        line = Line(wire, fmt)
        for turn in range(args.turns):
            if wire.gone:  # the server hung up: the turns left count as unanswered (never spoken: not scored)
                tally.turns += 1
                tally.unanswered += 1
                continue
            spoken.append(await one_turn(line, recordings[(index + turn) % len(recordings)], args.timeout,
                                         tally))
    finally:
        tally.errors.update(await wire.end())
        finals = wire.finals()
        if finals is not None:
            tally.accuracy.add(spoken, finals)


async def loadtest(args: argparse.Namespace) -> dict[str, object]:
    fmt = V1_FORMAT if args.protocol == "v1" else PHONE_FORMAT
    recordings = await asyncio.to_thread(load_recordings, args.audio, fmt, args.reference)
    unscored = tuple(dict.fromkeys(r.name for r in recordings if r.reference is None))
    tally = Tally(args.callers, Accuracy(measured=args.protocol == "v1", unscored=unscored))
    pid = args.server_pid
    rss_start = rss_bytes(pid) if pid else 0
    cpu_start, wall_start = (cpu_seconds(pid) if pid else 0.0), time.perf_counter()
    await asyncio.gather(*(caller(i, args, fmt, recordings, tally) for i in range(args.callers)))
    wall = time.perf_counter() - wall_start
    figures: dict[str, object] = {
        "protocol": args.protocol, "callers": args.callers,
        "admitted": args.callers - sum(tally.refused.values()),
        "refused": dict(tally.refused), "turns": tally.turns,
        "answered": tally.turns - tally.unanswered, "unanswered": tally.unanswered,
        "talked_over": tally.talked_over, "audio_over_speech": tally.audio_over_speech,
        "errors": dict(tally.errors), "seconds": round(wall, 1),
        "latency_p50_ms": round(percentile(tally.latencies_s, 50) * 1000, 1),
        "latency_p95_ms": round(percentile(tally.latencies_s, 95) * 1000, 1),
        **tally.accuracy.figures(),
    }
    if pid:
        figures["server_rss_mb"] = [round(rss_start / 2**20), round(rss_bytes(pid) / 2**20)]
        figures["server_cpu_percent"] = round((cpu_seconds(pid) - cpu_start) / wall * 100, 1)
    return figures


def print_report(f: dict[str, object]) -> None:
    print(f"callers {f['callers']}: admitted {f['admitted']}, refused {f['refused'] or 0}")
    print(f"turns {f['turns']}: answered {f['answered']}, unanswered {f['unanswered']}; "
          f"replies started during the caller's speech or pauses: {f['talked_over']}; "
          f"turns with reply audio over the caller's speech: {f['audio_over_speech']}")
    print(f"reply latency (end of speech -> first reply audio at the caller): "
          f"p50 {f['latency_p50_ms']:.0f} ms  p95 {f['latency_p95_ms']:.0f} ms")
    for line in report_lines(f, str(f["protocol"])):
        print(line)
    if f["errors"]:
        print(f"error events: {f['errors']}")
    if "server_rss_mb" in f:
        print(f"server RSS {f['server_rss_mb']} MB (start, end); CPU {f['server_cpu_percent']}% "
              f"of one core over {f['seconds']} s")


def run(args: argparse.Namespace) -> int:
    if not 1 <= args.callers <= MAX_CALLERS or not 1 <= args.turns <= 100:
        print(f"--callers must be 1..{MAX_CALLERS} and --turns 1..100")
        return 2
    try:
        figures = asyncio.run(loadtest(args))
    except GatewayError as exc:  # an unreadable or oversized recording
        print(f"{exc.code}: {exc}")
        return 2
    except ValueError as exc:
        print(exc)
        return 2
    except (OSError, TimeoutError) as exc:
        print(f"cannot reach the gateway at {args.url}: {exc}")
        return 1
    if args.json:
        print(json.dumps(figures))
    else:
        print_report(figures)
    return 0 if figures["unanswered"] == 0 else 1
