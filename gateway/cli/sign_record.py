"""`gateway sign record WORD (--video FILE | --camera N)`: a deployment's own sign, a few examples.

The tracker runs over the video (or camera) at the decoder's sampling rate; every stretch with
hands in view (gaps under 300 ms bridged) of at least MIN_FRAMES frames is one example, cut to
`--seconds`. Examples are saved as OUT/WORD/NNN.npy, (frames, 2, 21, 3) float32 landmarks in the
classifier's hand slots, for `gateway sign train --recordings OUT` to learn.
"""

from __future__ import annotations

import argparse
import re
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt

from models.base import Hand

MIN_FRAMES = 8
WORD = re.compile(r"^[A-Z][A-Z0-9-]{0,23}$")
GAP_MS = 300
F32 = npt.NDArray[np.float32]


def _camera(device: int, seconds: float, fps: float) -> Iterator[tuple[int, bytes]]:
    import cv2

    cap = cv2.VideoCapture(device)
    if not cap.isOpened():
        raise SystemExit(f"camera {device} cannot be opened")
    started = time.monotonic()
    try:
        while (now := time.monotonic() - started) < seconds:
            ok, frame = cap.read()
            if not ok:
                break
            ok, buf = cv2.imencode(".jpg", frame)
            if ok:
                yield int(now * 1000), buf.tobytes()
            time.sleep(max(0.0, 1.0 / fps - (time.monotonic() - started - now)))
    finally:
        cap.release()


def slots(hands: list[Hand]) -> F32:
    """Tracker hands -> (2, 21, 3): slot 0 the tracker's "Left" label, 1 "Right" (as the data)."""
    out = np.zeros((2, 21, 3), np.float32)
    for hand in hands[:2]:
        slot = 0 if getattr(hand, "handedness", "Right") == "Left" else 1
        out[slot if not out[slot].any() else 1 - slot] = np.asarray(hand.landmarks).reshape(21, 3)
    return out


def examples(timeline: list[tuple[int, F32 | None]], seconds: float) -> list[F32]:
    """Stretches with hands in view (short gaps bridged), each cut to `seconds`."""
    out: list[F32] = []
    current: list[tuple[int, F32 | None]] = []
    last_hand = -(10**9)
    for t, frame in [*timeline, (10**12, None)]:
        if frame is not None:
            current.append((t, frame))
            last_hand = t
        elif current and t - last_hand > GAP_MS:
            kept = [(ct, f if f is not None else np.zeros((2, 21, 3), np.float32)) for ct, f in current]
            while kept and not kept[-1][1].any():
                kept.pop()
            kept = [(ct, f) for ct, f in kept if ct - kept[0][0] <= seconds * 1000]
            if len(kept) >= MIN_FRAMES:
                out.append(np.stack([f for _, f in kept]).astype(np.float32))
            current = []
        elif current:
            current.append((t, None))
    return out


def record(args: argparse.Namespace) -> int:
    from gateway.cli.sign_frames import frames_from_files
    from gateway.errors import GatewayError
    from modalities.sign.pipeline import decode_jpeg
    from modalities.sign.settings import SignSettings
    from models.hands_mediapipe import MediapipeHandTracker

    if len(args.inputs) != 2 or not WORD.match(args.inputs[1].upper()):
        raise SystemExit("usage: gateway sign record WORD (--video FILE | --camera N); WORD: A-Z, 0-9, '-'")
    word = args.inputs[1].upper()
    if bool(args.video) == (args.camera >= 0):
        raise SystemExit("give exactly one of --video FILE or --camera N")
    settings = SignSettings(max_frame_bytes=5_000_000)
    fps = min(args.fps, 30.0)
    if args.video:
        frames = frames_from_files([args.video], fps)
    else:
        total = args.count * (args.seconds + 1.5)
        print(f"sign {word} {args.count} times, hands out of view between examples ({total:.0f} s)")
        frames = _camera(args.camera, total, fps)
    tracker = MediapipeHandTracker(video=True)
    timeline: list[tuple[int, F32 | None]] = []
    next_due, last = 0.0, -1
    try:
        for t_ms, data in frames:
            if t_ms < next_due - 100.0 / fps or t_ms <= last:  # a tenth of a period early still counts
                continue
            next_due, last = t_ms + 1000.0 / fps, t_ms
            try:
                hands = tracker.track(decode_jpeg(data, settings), t_ms)
            except GatewayError as exc:
                print(f"{t_ms / 1000:8.3f}s  skipped frame: {exc.code}")
                continue
            timeline.append((t_ms, slots(list(hands)) if hands else None))
    finally:
        tracker.close()
    found = examples(timeline, args.seconds)[: args.count]
    folder = Path(args.out) / word
    folder.mkdir(parents=True, exist_ok=True)
    start = len(list(folder.glob("*.npy")))
    for i, example in enumerate(found):
        np.save(folder / f"{start + i:03d}.npy", example, allow_pickle=False)
    print(f"{len(found)} example(s) of {word} saved in {folder} ({len(timeline)} frames tracked)")
    if len(found) < args.count:
        print(f"fewer than the {args.count} asked for: hands were in view in fewer separate stretches")
    print(f"then: gateway sign train --recordings {args.out}")
    return 0 if found else 1
