"""`gateway bench pipecat`: the gateway against Pipecat at the same N, in the same run.

For each N: `gateway loadtest` (its own process) drives N real-time callers against one
`gateway serve`, then against N Pipecat bot processes (benchmarks/pipecat/bot.py, one per
caller, as Pipecat deploys) that speak the same protocol v1 through a serializer of our own; the
same client, recordings and end-of-speech definition measure both. It prints both p50/p95, the
ratio gateway / Pipecat, the servers' CPU and memory, and the load average (the machine may be
shared). Pipecat lives in its own virtualenv (--venv); without it the bench is skipped with a
line that says what is missing. A benchmark, not a test: nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gateway.cli.groups import CommandGroups
from gateway.cli.processes import PROJECT, ChildCpu, GatewayProcess, _wait_port, node_config, rss_bytes
from gateway.errors import ModelUnavailable
from models import weights

BOT = PROJECT / "benchmarks" / "pipecat" / "bot.py"
DEFAULT_VENV = "/tmp/venv-pipecat"
INSTALL = ("python3.11 -m venv VENV && "
           "VENV/bin/pip install 'pipecat-ai[silero,whisper,piper,websocket]==1.14.0'")
MAX_CALLERS = 32


def register(groups: CommandGroups) -> None:
    p = groups.bench.add_parser("pipecat", help="gateway vs Pipecat (one process per caller) at the same N")
    p.add_argument("--audio", nargs="+", required=True, help="recordings the callers speak")
    p.add_argument("--callers", type=int, nargs="+", default=[1, 4, 8], help="the N to run, in order")
    p.add_argument("--turns", type=int, default=3, help="recordings each caller speaks")
    p.add_argument("--language", default="en", help="session language (the Pipecat bot is English)")
    p.add_argument("--venv", default=DEFAULT_VENV, help=f"Pipecat's virtualenv (default {DEFAULT_VENV})")
    p.add_argument("--gateway-port", type=int, default=8103, help="port of the `gateway serve` child")
    p.add_argument("--pipecat-port", type=int, default=8200, help="first Pipecat bot port (+1 per caller)")
    p.add_argument("--timeout", type=float, default=20.0, help="loadtest --timeout")
    p.add_argument("--json", action="store_true", help="print one JSON object per N")
    p.set_defaults(func=run)


def pipecat_missing(venv: Path) -> str | None:
    """Why the Pipecat side cannot run, or None."""
    python = venv / "bin" / "python"
    if not python.exists():
        return f"no Pipecat virtualenv at {venv} (create it: {INSTALL.replace('VENV', str(venv))})"
    probe = "import pipecat.transports.websocket.server, pipecat.services.whisper.stt, " \
            "pipecat.services.piper.tts, pipecat.audio.vad.silero"
    done = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["?"])[-1]
        how = INSTALL.replace("VENV", str(venv))
        return f"Pipecat or one of its extras is missing in {venv}: {last} ({how})"
    return None


def loadavg() -> float:
    return round(os.getloadavg()[0], 1)


def drive(args: argparse.Namespace, url: str, callers: int, extra: list[str]) -> dict[str, object]:
    """One `gateway loadtest` run in its own process; its JSON figures."""
    command = [sys.executable, "-m", "gateway.cli.main", "loadtest", url, "--json", "--audio", *args.audio,
               "--callers", str(callers), "--turns", str(args.turns), "--language", args.language,
               "--timeout", str(args.timeout), *extra]
    done = subprocess.run(command, cwd=PROJECT, capture_output=True, text=True,
                          timeout=600 + callers * args.turns * 60)
    lines = done.stdout.strip().splitlines()
    try:
        figures: dict[str, object] = json.loads(lines[-1])
    except (IndexError, ValueError):
        raise RuntimeError(f"loadtest failed: {done.stdout[-1000:]} {done.stderr[-2000:]}") from None
    return figures


class PipecatBots:
    """N bot processes on consecutive ports, each serving one caller."""

    def __init__(self, venv: Path, first_port: int, count: int, home: Path) -> None:
        whisper = weights.resolve("whisper-tiny.en")
        voice = weights.resolve("piper-en_US-joe-medium") / "en_US-joe-medium.onnx"
        self.ports = [first_port + i for i in range(count)]
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs = [home / f"pipecat-{port}.log" for port in self.ports]
        for port, log in zip(self.ports, self.logs, strict=True):
            with log.open("wb") as out:
                self.procs.append(subprocess.Popen(
                    [str(venv / "bin" / "python"), str(BOT), "--port", str(port),
                     "--whisper-dir", str(whisper), "--piper-voice", str(voice)],
                    cwd=PROJECT, stdout=out, stderr=subprocess.STDOUT,
                    env={**os.environ, "PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1"}))
        self.cpu = ChildCpu(self.procs)  # a bot that has ended keeps its CPU in the figure

    def wait_ready(self, timeout_s: float = 300) -> None:
        deadline = time.monotonic() + timeout_s
        for proc, port, log in zip(self.procs, self.ports, self.logs, strict=True):
            while not _wait_port(port, 0.5):
                if not self.cpu.alive(proc) or time.monotonic() > deadline:
                    raise RuntimeError(f"pipecat bot on {port} did not start: {log.read_text()[-2000:]}")

    def cpu_seconds(self) -> float:
        return self.cpu.seconds()

    def rss_mb(self) -> int:
        return round(sum(rss_bytes(p.pid) for p in self.procs if self.cpu.alive(p)) / 2**20)

    def stop(self) -> None:
        for proc in self.procs:
            if self.cpu.alive(proc):
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def one_n(args: argparse.Namespace, gateway: GatewayProcess, n: int, home: Path) -> dict[str, object]:
    row: dict[str, object] = {"callers": n, "load_start": loadavg()}
    row["gateway"] = drive(args, gateway.url, n, ["--server-pid", str(gateway.proc.pid)])
    bots = PipecatBots(Path(args.venv), args.pipecat_port, n, home)
    try:
        bots.wait_ready()
        time.sleep(1.0)  # let the bots settle after their model loads
        cpu0, t0, rss0 = bots.cpu_seconds(), time.perf_counter(), bots.rss_mb()
        pipecat = drive(args, f"ws://127.0.0.1:{args.pipecat_port}/ws", n, ["--port-per-caller"])
        wall = time.perf_counter() - t0
        pipecat["server_rss_mb"] = [rss0, bots.rss_mb()]
        pipecat["server_cpu_percent"] = round((bots.cpu_seconds() - cpu0) / wall * 100, 1)
        row["pipecat"] = pipecat
    finally:
        bots.stop()
    row["load_end"] = loadavg()
    g, p = row["gateway"], row["pipecat"]
    assert isinstance(g, dict) and isinstance(p, dict)
    for q in ("p50", "p95"):
        mine, theirs = g[f"latency_{q}_ms"], p[f"latency_{q}_ms"]
        row[f"ratio_{q}"] = round(mine / theirs, 2) if theirs else None
    return row


def print_row(row: dict[str, object]) -> None:
    g, p = row["gateway"], row["pipecat"]
    assert isinstance(g, dict) and isinstance(p, dict)
    print(f"N={row['callers']} (load average {row['load_start']} -> {row['load_end']})")
    for name, f in (("gateway", g), ("pipecat", p)):
        print(f"  {name:8} answered {f['answered']}/{f['turns']}  p50 {f['latency_p50_ms']:.0f} ms  "
              f"p95 {f['latency_p95_ms']:.0f} ms  talked over {f['talked_over']}  errors {f['errors'] or 0}  "
              f"CPU {f.get('server_cpu_percent')}%  RSS {f.get('server_rss_mb')} MB")
    print(f"  ratio gateway/pipecat: p50 {row['ratio_p50']}  p95 {row['ratio_p95']}")


def run(args: argparse.Namespace) -> int:
    if not all(1 <= n <= MAX_CALLERS for n in args.callers) or not 1 <= args.turns <= 20:
        print(f"--callers must be 1..{MAX_CALLERS} and --turns 1..20")
        return 2
    missing = pipecat_missing(Path(args.venv))
    if missing is not None:
        print(f"skipped: {missing}")
        return 0
    try:
        weights.resolve("whisper-tiny.en")
        weights.resolve("piper-en_US-joe-medium")
    except ModelUnavailable as exc:
        print(f"skipped: {exc}")
        return 0
    home = Path(tempfile.mkdtemp(prefix="gw-pipecat-bench-"))
    gateway = GatewayProcess("gateway", node_config(home / "gateway", "max_sessions = 50"), args.gateway_port,
                             home / "gateway.log", env={"GATEWAY_SERVER__PRELOAD": "true"})
    try:
        gateway.wait_ready()
        for n in args.callers:
            row = one_n(args, gateway, n, home)
            if args.json:
                print(json.dumps(row), flush=True)
            else:
                print_row(row)
    finally:
        gateway.stop()
    print(f"logs in {home}")
    return 0
