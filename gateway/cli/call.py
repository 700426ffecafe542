"""`gateway call AUDIO_FILE`: call the gateway as a caller would, print what was said, save the reply."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
from websockets.exceptions import ConnectionClosed

from gateway.cli.groups import CommandGroups
from gateway.client import DEFAULT_URL, GatewayClient, decode_reply, settle, summary_lines
from gateway.errors import GatewayError
from gateway.events import SAMPLE_RATES, AudioFormat
from modalities.audio.files import read_audio

MAX_FILE_BYTES = 100 * 1024 * 1024
MAX_SECONDS = 600.0


def register(groups: CommandGroups) -> None:
    p = groups.top.add_parser("call", help="stream an audio file to the gateway as a caller")
    p.add_argument("audio_file", help="WAV, FLAC, MP3 or OGG")
    p.add_argument("--url", default=DEFAULT_URL, help=f"gateway WebSocket URL (default {DEFAULT_URL})")
    p.add_argument("--out", help="write the reply audio here (WAV)")
    p.add_argument("--realtime", action="store_true", help="pace 20 ms frames in real time")
    p.add_argument("--language", default="auto", help="session language (ISO 639-1) or auto")
    p.add_argument("--encoding", default="pcm16", choices=sorted(SAMPLE_RATES))
    p.add_argument("--rate", type=int, default=16000, help="session sample rate")
    p.add_argument("--wait", type=float, default=30.0, help="seconds to wait for the reply")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.rate not in SAMPLE_RATES[args.encoding]:
        print(f"{args.encoding} supports {SAMPLE_RATES[args.encoding]} Hz", file=sys.stderr)
        return 2
    try:
        audio, rate = read_audio(Path(args.audio_file), max_bytes=MAX_FILE_BYTES, max_seconds=MAX_SECONDS)
    except GatewayError as exc:
        print(f"{exc.code}: {exc}", file=sys.stderr)
        return 2
    fmt = AudioFormat(args.encoding, args.rate)
    try:
        code = asyncio.run(_call(args, audio, rate, fmt))
    except OSError as exc:
        print(f"cannot reach the gateway at {args.url}: {exc}", file=sys.stderr)
        return 1
    except GatewayError as exc:  # e.g. `busy` while the gateway is still loading its models
        print(f"the gateway refused the call: {exc.code}: {exc}", file=sys.stderr)
        return 1
    except ConnectionClosed as exc:
        reason = exc.rcvd.reason if exc.rcvd is not None else "no close frame"
        print(f"the gateway closed the call: {reason}", file=sys.stderr)
        return 1
    return code


async def _call(args: argparse.Namespace, audio: np.ndarray, rate: int, fmt: AudioFormat) -> int:
    async with GatewayClient(args.url, audio=fmt, language=args.language) as client:
        await client.stream(audio, rate, realtime=args.realtime)
        try:
            await client.wait_for("turn.timing", timeout=args.wait)
        except TimeoutError:
            print(f"no reply within {args.wait:.0f} s after the audio ended", file=sys.stderr)
        else:
            unsettled = await settle(client.result, timeout=args.wait)
            if unsettled:
                print(f"turns {sorted(unsettled)} got no reply within {args.wait:.0f} s", file=sys.stderr)
    result = client.result
    print(f"session {result.session_id}")
    for line in summary_lines(result):
        print(line)
    if args.out and result.reply_audio:
        sf.write(args.out, decode_reply(bytes(result.reply_audio), fmt), fmt.sample_rate, subtype="PCM_16")
        print(f"reply audio: {args.out} ({fmt.duration_ms(len(result.reply_audio)) / 1000:.1f} s)")
    return 0 if result.of("transcript.final") else 1
