"""`gateway bench load`: N concurrent callers on loopback against a gateway in this process (or,
with --separate-gateway, in a `gateway serve` child process).

Each virtual caller is one session that rotates voice (samples/audio streamed in real time),
screenshots (samples/screens), signing (30 fps camera frames of a real hand photo from
../shared/realdata/hands between empty frames; skipped with a message when that is absent) and
typed text, and listens to each reply as a caller would
(streaming silence for the reply's length, capped) before its next turn. Printed: per-stage
p50/p95 from `turn.timing`, reply latency per modality, lost turns (a sent turn without its
transcript.final and turn.timing), resident memory after warm-up and at the end. `--find-max`
steps N up and reports the largest N whose voice reply latency p50 stays within the target.

By default the callers share this process (and its 2 cores) with the gateway: the figures include
the clients' own cost, so they understate what a dedicated gateway host would do. With
--separate-gateway they share only the cores (the gateway's RSS is then the child's).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gateway.cli.groups import CommandGroups
from gateway.cli.processes import GatewayProcess, free_port, rss_bytes
from gateway.client import GatewayClient
from gateway.config import Settings, load_settings
from gateway.evaluation import percentile, realdata_dir
from modalities.audio.files import read_audio

PROJECT = Path(__file__).resolve().parents[2]
MODALITIES = ("voice", "screen", "sign", "text")
SIGN_PHOTOS = ("four", "call")  # ASL 4 and Y in realdata/hands/mediapipe_model_maker_raw_data
FRAME_S = 1 / 30
TEXTS = ("How long do I have to return an item?", "When will my order arrive?",
         "Can I change my delivery address?")
VOICE_FILES = ("en_question_returns.wav", "en_question_shipping.wav")
SCREEN_FILES = ("error_en.png", "order_en.png", "payment_en.png")
MAX_SESSIONS = 200
MAX_LISTEN_S = 5.0  # a caller listens to at most this much of a reply before the next turn
TARGET_P50_MS = 700.0


def register(groups: CommandGroups) -> None:
    p = groups.bench.add_parser("load", help="N concurrent mixed sessions: stage latency, lost turns, RSS")
    p.add_argument("--sessions", type=int, default=4, help=f"concurrent sessions (1..{MAX_SESSIONS})")
    p.add_argument("--seconds", type=float, default=60.0, help="duration of the load (default 60)")
    p.add_argument("--minutes", type=float, help="duration in minutes (at most 10); overrides --seconds")
    p.add_argument("--mix", default="voice,screen,sign,text",
                   help=f"modalities each caller rotates, of {MODALITIES}")
    p.add_argument("--turn-timeout", type=float, default=30.0, help="seconds before a turn counts as lost")
    p.add_argument("--same-screens", action="store_true",
                   help="re-send identical screenshots (screen share: OCR reuse caches hit)")
    p.add_argument("--find-max", action="store_true", help="step N up; report the largest N within target")
    p.add_argument("--max-n", type=int, default=40, help="--find-max: largest N to try")
    p.add_argument("--target-ms", type=float, default=TARGET_P50_MS,
                   help=f"--find-max: voice reply latency p50 target (default {TARGET_P50_MS:.0f} ms)")
    p.add_argument("--separate-gateway", action="store_true",
                   help="run the gateway as a `gateway serve` child process (callers stay in this one)")
    p.set_defaults(func=run)


@dataclass
class Phase:
    sessions: int
    sent: Counter[str] = field(default_factory=Counter)
    lost: Counter[str] = field(default_factory=Counter)
    stages: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    latency: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter[str] = field(default_factory=Counter)
    rss_start: int = 0
    rss_ramped: int = 0  # after the first 20% of the run: every caller connected, pools warm
    rss_end: int = 0
    seconds: float = 0.0

    @property
    def voice_p50(self) -> float:
        return percentile(self.latency["voice"], 50)


@dataclass(frozen=True)
class Material:
    voice: list[tuple[np.ndarray, int]]
    screens: list[bytes]
    fresh_screens: bool  # make every screenshot differ (defeats the OCR reuse caches)
    signs: list[list[bytes]]  # camera frames per signed turn: a hand held ~0.8 s, then rest


def _perturbed(png: bytes, index: int) -> bytes:
    """The screenshot with every pixel shifted by 1..3 levels: the same text, a different image,
    so the reader's exact-match tile and crop caches miss (a new screenshot, not a re-send)."""
    import io

    from PIL import Image

    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)
    shift = 1 + index % 3
    out = io.BytesIO()
    Image.fromarray(np.clip(rgb + shift, 0, 255).astype(np.uint8)).save(out, format="PNG", compress_level=1)
    return out.getvalue()


def material(fresh_screens: bool) -> Material:
    audio = [read_audio(PROJECT / "samples" / "audio" / name, max_bytes=5_000_000, max_seconds=30)
             for name in VOICE_FILES]
    screens = [(PROJECT / "samples" / "screens" / name).read_bytes() for name in SCREEN_FILES]
    return Material(audio, screens, fresh_screens, sign_scripts())


def sign_scripts() -> list[list[bytes]]:
    """Signed turns made from real hand photos (never stored in the project): [] when absent."""
    import base64
    import io

    from PIL import Image

    root = realdata_dir()
    photos = root / "hands" / "mediapipe_model_maker_raw_data" if root is not None else None
    if photos is None or not photos.is_dir():
        return []
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (40, 40, 40)).save(out, "JPEG")
    blank = base64.b64encode(out.getvalue())
    scripts = []
    for name in SIGN_PHOTOS:
        hand = base64.b64encode(sorted((photos / name).glob("*.jpg"))[0].read_bytes())
        scripts.append([blank] * 6 + [hand] * 24 + [blank] * 45)
    return scripts


async def one_turn(client: GatewayClient, modality: str, index: int, stuff: Material, phase: Phase | None,
                   timeout_s: float) -> None:
    """Sends one turn, waits for its transcript, timing and reply, then listens to the reply."""
    finals_before = len(client.result.of("transcript.final"))
    audio_before = len(client.result.reply_audio)
    sent_at = time.perf_counter()
    if modality == "voice":
        audio, rate = stuff.voice[index % len(stuff.voice)]
        await client.stream(audio, rate, realtime=True, trailing_silence_s=1.0)
    elif modality == "sign":
        frames = stuff.signs[index % len(stuff.signs)]
        last_hand = max(i for i, f in enumerate(frames) if f != frames[0])
        t0 = time.perf_counter()
        for i, frame in enumerate(frames):  # paced like a camera: 30 frames per second
            await asyncio.sleep(max(0.0, t0 + i * FRAME_S - time.perf_counter()))
            await client.send_json({"type": "video.frame", "t_ms": client.video_ms, "data": frame.decode()})
            client.video_ms += round(FRAME_S * 1000)
            if i == last_hand:
                sent_at = time.perf_counter()  # signing ends: latency counts from here
        await _answer_readback(client, finals_before, timeout_s)
    elif modality == "screen":
        image = stuff.screens[index % len(stuff.screens)]
        if stuff.fresh_screens:
            image = await asyncio.to_thread(_perturbed, image, index)
        await client.send_image(image, "image/png")
    else:
        await client.send_text(TEXTS[index % len(TEXTS)])
    if phase is not None:
        phase.sent[modality] += 1
    try:
        final = await client.wait_for("transcript.final", timeout=timeout_s, count=finals_before + 1)
        tid = final["turn_id"]
        timing = await client.wait_for("turn.timing", timeout=timeout_s, where={"turn_id": tid})
    except TimeoutError:
        if phase is not None:
            phase.lost[modality] += 1
            for e in client.result.errors:
                phase.errors[e["code"]] += 1
        client.result.events.clear()
        return
    if phase is not None:
        for stage, ms in timing["stages"].items():
            phase.stages[f"{modality}.{stage}"].append(ms)
        if timing.get("reply_latency_ms") is not None:
            phase.latency[modality].append(timing["reply_latency_ms"])
        elif tid in client.result.first_audio_at:  # typed, screenshot, signed: sent -> first audio
            phase.latency[modality].append((client.result.first_audio_at[tid] - sent_at) * 1000)
    reply_s = (len(client.result.reply_audio) - audio_before) / (2 * client.audio.sample_rate)
    listen = min(reply_s, MAX_LISTEN_S)
    if listen > 0:  # an open microphone while the reply plays, as on a call
        await client.stream(np.zeros(int(listen * 16000), np.float32), 16000, realtime=True,
                            trailing_silence_s=0.0)
    if phase is not None:
        for e in client.result.errors:
            phase.errors[e["code"]] += 1
    # The callers share the gateway's process: drop what they collected so their buffers do not
    # show up as the gateway's memory growth (the turn is complete: its timing has arrived).
    client.result.events.clear()
    client.result.reply_audio.clear()
    client.result.first_audio_at.clear()


async def _answer_readback(client: GatewayClient, finals_before: int, timeout_s: float) -> None:
    """A low-confidence signed turn is read back ("Did you sign Y?") before it becomes a turn:
    the kiosk user taps YES, as a person at the kiosk would."""
    deadline = time.perf_counter() + timeout_s
    while time.perf_counter() < deadline and len(client.result.of("transcript.final")) <= finals_before:
        if any(c.get("kind") == "sign-readback" for c in client.result.of("caption")):
            await client.send_json({"type": "sign.confirm", "yes": True})
            return
        await asyncio.sleep(0.05)


async def caller(url: str, n: int, mix: tuple[str, ...], stuff: Material, phase: Phase, deadline: float,
                 timeout_s: float) -> None:
    await asyncio.sleep(n * 0.25)  # staggered arrivals, not one burst
    turn = n  # each caller starts at a different point of the rotation
    async with GatewayClient(url, language="en") as client:
        while time.perf_counter() < deadline:
            await one_turn(client, mix[turn % len(mix)], turn, stuff, phase, timeout_s)
            turn += 1
    for e in client.result.errors:
        phase.errors[e["code"]] += 1


async def load_phase(url: str, sessions: int, seconds: float, mix: tuple[str, ...], stuff: Material,
                     timeout_s: float, rss_bytes: Callable[[], int]) -> Phase:
    phase = Phase(sessions)
    phase.rss_start = rss_bytes()
    started = time.perf_counter()
    deadline = started + seconds

    async def sample_after_ramp() -> None:
        await asyncio.sleep(max(seconds * 0.2, sessions * 0.25 + 5))
        phase.rss_ramped = rss_bytes()

    sampler = asyncio.create_task(sample_after_ramp())
    await asyncio.gather(*(caller(url, i, mix, stuff, phase, deadline, timeout_s) for i in range(sessions)))
    await sampler
    phase.seconds = time.perf_counter() - started
    phase.rss_end = rss_bytes()
    return phase


def report(phase: Phase) -> None:
    mb = 1024 * 1024
    growth = (phase.rss_end - phase.rss_ramped) / phase.rss_ramped * 100
    print(f"\n== {phase.sessions} concurrent sessions, {phase.seconds:.0f} s ==")
    print(f"turns sent {dict(phase.sent)}  lost {sum(phase.lost.values())} {dict(phase.lost) or ''}")
    print(f"{'stage':<22}{'n':>6}{'p50 ms':>10}{'p95 ms':>10}")
    for stage in sorted(phase.stages):
        values = phase.stages[stage]
        print(f"{stage:<22}{len(values):>6}{percentile(values, 50):>10.0f}{percentile(values, 95):>10.0f}")
    for modality in MODALITIES:
        values = phase.latency[modality]
        if values:
            what = {"voice": "speech end", "sign": "signing end"}.get(modality, "sent")
            print(f"reply latency {modality:<7} ({what} -> first reply audio): "
                  f"p50 {percentile(values, 50):.0f} ms  p95 {percentile(values, 95):.0f} ms  "
                  f"n={len(values)}")
    print(f"RSS after warm-up {phase.rss_start / mb:.0f} MB, after ramp-up {phase.rss_ramped / mb:.0f} MB, "
          f"at end {phase.rss_end / mb:.0f} MB (growth since ramp-up {growth:+.1f}%)")
    if phase.errors:
        print(f"error events: {dict(phase.errors)}")


async def bench(settings: Settings, args: argparse.Namespace, mix: tuple[str, ...], seconds: float) -> int:
    from gateway.local import local_gateway

    stuff = await asyncio.to_thread(material, not args.same_screens)
    if "sign" in mix and not stuff.signs:
        print("sign left out of the mix: ../shared/realdata/hands is absent (no real hand photos)")
        mix = tuple(m for m in mix if m != "sign")
    steps = [n for n in (1, 2, 4, 6, 8, 10, 12, 16, 20, 25, 30, 40, 50, 75, 100) if n <= args.max_n]
    counts = steps if args.find_max else [args.sessions]
    settings = dataclasses.replace(
        settings, server=dataclasses.replace(settings.server, max_sessions=max(counts) + 5),
        store=dataclasses.replace(settings.store, path=str(PROJECT / "var" / "bench-load.sqlite3")),
        # It measures latency past capacity on purpose: no session may be refused as over capacity.
        admission=dataclasses.replace(settings.admission, mode="static"))
    if args.separate_gateway:
        # The gateway in its own process (its own interpreter and GIL); the callers stay here.
        log = PROJECT / "var" / "bench-load-gateway.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        env = {"GATEWAY_SERVER__MAX_SESSIONS": str(settings.server.max_sessions),
               "GATEWAY_STORE__PATH": settings.store.path, "GATEWAY_ADMISSION__MODE": "static"}
        server = GatewayProcess("gateway", args.config, free_port(), log, env)
        try:
            await asyncio.to_thread(server.wait_ready)
            print(f"gateway in its own process (pid {server.proc.pid}); its log: {log}")
            return await drive(server.url, server.rss_bytes, stuff, args, mix, counts, seconds)
        finally:
            await asyncio.to_thread(server.stop)
    async with local_gateway(settings) as local:
        return await drive(local.url, rss_bytes, stuff, args, mix, counts, seconds)


async def drive(url: str, rss: Callable[[], int], stuff: Material, args: argparse.Namespace,
                mix: tuple[str, ...], counts: list[int], seconds: float) -> int:
    """Warm-up, then one load phase per N in counts; prints each and the largest N in target."""
    print("warm-up: every sample once (loads ASR, OCR, TTS, fills caches; not counted)")
    async with GatewayClient(url, language="en") as client:
        for modality in mix:
            count = {"voice": len(stuff.voice), "screen": len(stuff.screens),
                     "sign": len(stuff.signs)}.get(modality, len(TEXTS))
            for i in range(count):
                await one_turn(client, modality, i, stuff, None, args.turn_timeout)
    best = 0
    for n in counts:
        phase = await load_phase(url, n, seconds, mix, stuff, args.turn_timeout, rss)
        report(phase)
        within = sum(phase.lost.values()) == 0 and (
            "voice" not in mix or phase.voice_p50 <= args.target_ms)
        if not args.find_max:
            return 0 if sum(phase.lost.values()) == 0 else 1
        if not within:
            print(f"N={n}: voice reply p50 {phase.voice_p50:.0f} ms or lost turns: over target")
            break
        best = n
    print(f"\nlargest N with voice reply latency p50 <= {args.target_ms:.0f} ms "
          f"and no lost turns: {best}")
    return 0


def run(args: argparse.Namespace) -> int:
    mix = tuple(m.strip() for m in args.mix.split(",") if m.strip())
    if not mix or any(m not in MODALITIES for m in mix):
        print(f"--mix must list some of {MODALITIES}")
        return 2
    if not 1 <= args.sessions <= MAX_SESSIONS:
        print(f"--sessions must be 1..{MAX_SESSIONS}")
        return 2
    seconds = args.seconds if args.minutes is None else args.minutes * 60
    if not 5 <= seconds <= 600:
        print("duration must be 5 s .. 10 minutes")
        return 2
    return asyncio.run(bench(load_settings(args.config), args, mix, seconds))
