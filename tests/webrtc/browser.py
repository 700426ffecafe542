"""Headless Debian Chromium driven by Playwright, its microphone and camera fed from files."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
import soundfile

from modalities.audio.files import read_audio

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext

CHROMIUM = Path("/usr/bin/chromium")
# Screenshots the browser tests take, for people to look at (docs/evidence holds a copy kept in git).
EVIDENCE = Path(os.environ.get("GATEWAY_EVIDENCE_DIR")
                or Path(__file__).resolve().parents[2] / "var" / "evidence")


def need_chromium() -> None:
    if not CHROMIUM.exists():
        pytest.skip("chromium is not installed (/usr/bin/chromium): "
                    "apt-get install -y chromium chromium-driver")


def padded_wav(source: Path, out: Path, *, lead_s: float = 1.5, tail_s: float = 12.0) -> Path:
    """Chromium loops its fake microphone file: silence around the question makes it one turn."""
    audio, rate = read_audio(source, max_bytes=20_000_000, max_seconds=60)
    pcm = np.concatenate([np.zeros(int(lead_s * rate), np.float32), audio,
                          np.zeros(int(tail_s * rate), np.float32)])
    soundfile.write(out, pcm, rate, subtype="PCM_16")
    return out


@contextmanager
def chromium(profile: Path, audio: Path, video: Path | None = None, *,
             allow_media: bool = True) -> Iterator[BrowserContext]:
    """allow_media=False: no fake permission prompt, so getUserMedia is refused."""
    from playwright.sync_api import sync_playwright

    args = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync",
            "--use-fake-device-for-media-stream", f"--use-file-for-fake-audio-capture={audio}",
            "--allow-loopback-in-peer-connection", "--autoplay-policy=no-user-gesture-required"]
    if allow_media:
        args.append("--use-fake-ui-for-media-stream")
    if video is not None:
        args.append(f"--use-file-for-fake-video-capture={video}")
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile), executable_path=str(CHROMIUM), headless=True, args=args,
            viewport={"width": 1280, "height": 900}, bypass_csp=True)  # for wait_for_function
        try:
            yield context
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)


def still_frame(jpeg: bytes | None, size: tuple[int, int] = (640, 480)) -> bytes:
    """One 640x480 camera frame: a photo letterboxed on grey (None: an empty grey scene)."""
    import io

    from PIL import Image

    canvas = Image.new("RGB", size, (128, 128, 128))
    if jpeg is not None:
        with Image.open(io.BytesIO(jpeg)) as source:
            photo = source.convert("RGB")
            photo.thumbnail(size)
            canvas.paste(photo, ((size[0] - photo.width) // 2, (size[1] - photo.height) // 2))
    out = io.BytesIO()
    canvas.save(out, "JPEG", quality=85)
    return out.getvalue()


def mjpeg(script: list[tuple[bytes | None, float]], out: Path, fps: int = 30) -> Path:
    """A fake camera file: each still held for its seconds, concatenated JPEG frames (Chromium's
    `.mjpeg` fake capture), like `ffmpeg -loop 1` stills joined together."""
    with out.open("wb") as f:
        for jpeg, seconds in script:
            frame = still_frame(jpeg)
            for _ in range(round(seconds * fps)):
                f.write(frame)
    return out
