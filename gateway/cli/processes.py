"""Real servers in child processes on loopback, for benchmarks and tests: a `gateway serve` node
and a throwaway `redis-server` (Debian `redis-server`; no persistence)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]


def rss_bytes(pid: int | None = None) -> int:
    """Resident memory of a process (this one by default), from /proc."""
    with open(f"/proc/{pid or 'self'}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a running (or not yet reaped) process, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class ChildCpu:
    """The CPU of child processes that may end while they are measured: read from /proc while a
    child runs, from its own exit accounting (wait4) once it has ended. Use `alive()` instead of
    Popen.poll(), which would reap the child and lose that accounting."""

    def __init__(self, procs: list[subprocess.Popen[bytes]]) -> None:
        self.procs = procs
        self._ended: dict[int, float] = {}  # pid -> CPU seconds at exit

    def _reap(self, proc: subprocess.Popen[bytes]) -> None:
        if proc.pid in self._ended or proc.returncode is not None:
            return
        try:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        except ChildProcessError:  # reaped elsewhere: its accounting is gone
            self._ended[proc.pid], proc.returncode = 0.0, -1
            return
        if pid:
            self._ended[proc.pid] = usage.ru_utime + usage.ru_stime
            proc.returncode = os.waitstatus_to_exitcode(status)

    def alive(self, proc: subprocess.Popen[bytes]) -> bool:
        self._reap(proc)
        return proc.returncode is None

    def seconds(self) -> float:
        """CPU seconds of every child since it started, ended ones included."""
        return sum(cpu_seconds(p.pid) if self.alive(p) else self._ended.get(p.pid, 0.0) for p in self.procs)


class MissingProgram(RuntimeError):
    """A system program a benchmark or test needs is not installed (the message names it)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.02)
    return False


class RedisProcess:
    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise MissingProgram("redis-server not installed: apt-get install redis-server")
        self.binary = binary
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="gw-redis-"))
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        # No persistence: a restart comes back empty, the worst case the nodes must repair.
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.dir), "--daemonize", "no", "--protected-mode", "yes"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not _wait_port(self.port, 10):
            raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None

    def destroy(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


class GatewayProcess:
    """`gateway --config CONFIG serve` as a child process; its output goes to `log`."""

    def __init__(self, name: str, config: Path | str | None, port: int, log: Path,
                 env: dict[str, str] | None = None) -> None:
        """`env`: extra GATEWAY_<SECTION>__<SETTING> overrides on top of the config file."""
        self.name, self.port, self.log = name, port, log
        environment = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        with log.open("wb") as out:
            command = [sys.executable, "-m", "gateway.cli.main",
                       *(["--config", str(config)] if config else []), "serve", "--port", str(port)]
            self.proc = subprocess.Popen(command, cwd=PROJECT, env=environment, stdout=out,
                                         stderr=subprocess.STDOUT)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def rss_bytes(self) -> int:
        return rss_bytes(self.proc.pid)

    def wait_ready(self, timeout_s: float = 180) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as response:
                    if json.loads(response.read())["status"] in ("ok", "degraded"):  # started
                        return
            except OSError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"{self.name} not ready: {self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def node_config(home: Path, server_toml: str = "", extra_toml: str = "") -> Path:
    """A settings file for one `gateway serve` child: its own store, knowledge index and records
    under `home`, no fixed phone ports, speech models loaded on first use. `server_toml` adds
    [server] settings; `extra_toml` adds sections (e.g. [cluster], [durable], [security])."""
    home.mkdir(parents=True, exist_ok=True)
    path = home / "gateway.toml"
    path.write_text(f"""
[server]
preload = false
{server_toml}

[store]
path = "{home / 'transcripts.sqlite3'}"

[core]
db_path = "{home / 'kb.sqlite3'}"
records_path = "{home / 'core.sqlite3'}"

[phone]
sip_port = 0
audiosocket_port = 0
{extra_toml}
""", encoding="utf-8")
    return path


def cluster_node_config(home: Path, node_id: str, redis_url: str, extra_toml: str = "", *,
                        key_prefix: str = "gw") -> Path:
    """A node of a loopback cluster (node_config), on the shared Redis."""
    return node_config(home, extra_toml=f"""
[cluster]
backend = "redis"
redis_url = "{redis_url}"
node_id = "{node_id}"
key_prefix = "{key_prefix}"
heartbeat_s = 0.5
ttl_s = 2.0
{extra_toml}
""")
