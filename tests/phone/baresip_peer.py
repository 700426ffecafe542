"""Drive Debian's baresip as a real SIP phone for end-to-end tests (config as in DESIGN.md)."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import wave
from pathlib import Path

import numpy as np
import pytest

BARESIP = shutil.which("baresip")
MODULES = Path("/usr/lib/baresip/modules")


def require_baresip() -> str:
    if BARESIP is None or not (MODULES / "g711.so").exists():
        pytest.skip("baresip is not installed (Debian package `baresip`: apt-get install -y baresip)")
    return BARESIP


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_wav(path: Path, pcm: np.ndarray, rate: int = 8000) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.astype("<i2").tobytes())


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")


class Baresip:
    """One baresip process calling `target` with `source` (8 kHz 16-bit mono WAV) as its microphone."""

    def __init__(self, workdir: Path, source: Path, *, seconds: int) -> None:
        self.dir = workdir
        self.source = source
        self.seconds = seconds
        self.sip_port = free_port()
        self.ctrl_port = free_port(socket.SOCK_STREAM)
        self.rec = workdir / "rec"
        self.proc: asyncio.subprocess.Process | None = None

    def _configure(self) -> Path:
        cfg = self.dir / "baresip"
        cfg.mkdir(parents=True, exist_ok=True)
        self.rec.mkdir(exist_ok=True)
        lines = [
            "poll_method epoll", f"sip_listen 127.0.0.1:{self.sip_port}", "net_interface 127.0.0.1",
            f"audio_source aufile,{self.source}", "audio_player alsa,null", "audio_alert alsa,null",
            f"module_path {MODULES}", "module g711.so", "module aufile.so", "module alsa.so",
            "module sndfile.so", "module_app account.so", "module_app ctrl_tcp.so", "module_app menu.so",
            f"snd_path {self.rec}", f"ctrl_tcp_listen 127.0.0.1:{self.ctrl_port}"]
        (cfg / "config").write_text("\n".join(lines) + "\n")
        (cfg / "accounts").write_text(
            f"<sip:caller@127.0.0.1:{self.sip_port}>;regint=0;audio_codecs=PCMU,PCMA;answermode=manual\n")
        (cfg / "contacts").write_text("")
        return cfg

    async def dial(self, uri: str) -> None:
        assert BARESIP is not None
        cfg = self._configure()
        self.proc = await asyncio.create_subprocess_exec(
            BARESIP, "-f", str(cfg), "-t", str(self.seconds), "-e", f"/dial {uri}",
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT)

    async def command(self, command: str, params: str = "") -> dict[str, object]:
        """One ctrl_tcp command (netstring-framed JSON); returns its response."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.ctrl_port)
        try:
            body = json.dumps({"command": command, "params": params, "token": "t"}).encode()
            writer.write(str(len(body)).encode() + b":" + body + b",")
            await writer.drain()
            while True:
                length = int((await reader.readuntil(b":"))[:-1])
                msg = json.loads((await reader.readexactly(length + 1))[:-1])
                if msg.get("response"):
                    return dict(msg)
        finally:
            writer.close()

    async def wait(self, seconds: float) -> int:
        assert self.proc is not None
        try:
            out, _ = await asyncio.wait_for(self.proc.communicate(), seconds)
            (self.dir / "baresip.log").write_bytes(out)  # kept beside the test's files for debugging
            return self.proc.returncode or 0
        finally:
            if self.proc.returncode is None:
                self.proc.kill()
                await self.proc.wait()

    def heard(self) -> np.ndarray:
        """What baresip played out (sndfile's decoder-side dump)."""
        dumps = sorted(self.rec.glob("dump-*-dec.wav"))
        assert dumps, f"baresip wrote no recording in {self.rec}"
        return read_wav(dumps[-1])


def best_alignment(reference: np.ndarray, signal: np.ndarray, span: int) -> tuple[int, float]:
    """Lag of `signal` within `reference` (FFT cross-correlation) and the Pearson correlation of
    `span` samples at that lag."""
    a = reference.astype(np.float64)
    b = signal[:span].astype(np.float64)
    n = 1 << int(np.ceil(np.log2(len(a) + len(b))))
    corr = np.fft.irfft(np.fft.rfft(a, n) * np.conj(np.fft.rfft(b, n)), n)
    lag = int(np.argmax(corr[: len(a)]))
    seg = a[lag: lag + len(b)]
    if len(seg) < len(b) // 2:
        return lag, 0.0
    m = min(len(seg), len(b))
    return lag, float(np.corrcoef(seg[:m], b[:m])[0, 1])
