"""The image is real: deploy/Dockerfile is built with podman (daemonless), started, and /health,
a WebSocket call and /metrics are checked against the running container.

Skips, naming what is missing, where no builder can run: podman and runc must be installed
(`apt-get install -y podman runc debootstrap`); the base image is built from the Debian archive
by deploy/base-image.sh when it is not there yet. The first build downloads the locked packages
(about 2 GB) and takes minutes; later builds reuse podman's layer cache.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
TAG = "localhost/cc-gateway:test"
NAME = "cc-gateway-test"
BUILD_TIMEOUT_S = 1800
START_TIMEOUT_S = 240

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _missing_builder() -> str | None:
    for tool, package in (("podman", "podman"), ("runc", "runc")):
        if shutil.which(tool) is None:
            return f"no image builder: {tool} is not installed (apt-get install -y {package})"
    base = subprocess.run(["podman", "image", "exists", "localhost/debian-python:bookworm"],
                          capture_output=True, timeout=60)
    if base.returncode != 0 and shutil.which("debootstrap") is None:
        return "no base image and no debootstrap to make one (apt-get install -y debootstrap)"
    return None


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, ""


@pytest.fixture(scope="module")
def container() -> Iterator[str]:
    reason = _missing_builder()
    if reason:
        pytest.skip(reason)
    build = subprocess.run(["bash", str(PROJECT / "deploy/image.sh"), "build", TAG], cwd=PROJECT,
                           capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    subprocess.run(["podman", "rm", "-f", NAME], capture_output=True, timeout=120)
    port = _free_port()
    run = subprocess.run(["bash", str(PROJECT / "deploy/image.sh"), "run", TAG, NAME, str(port)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    http = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        status = 0
        while time.monotonic() < deadline:
            try:
                status, _ = _get(f"{http}/health")
            except OSError:
                status = 0
            if status == 200:
                break
            state = subprocess.run(["podman", "inspect", "-f", "{{.State.Running}}", NAME],
                                   capture_output=True, text=True, timeout=60).stdout.strip()
            if state != "true":
                break
            time.sleep(2)
        if status != 200:
            logs = subprocess.run(["podman", "logs", NAME], capture_output=True, text=True, timeout=60)
            pytest.fail(f"the container never answered /health 200 (last {status}):\n"
                        + (logs.stdout + logs.stderr)[-3000:])
        yield http
    finally:
        subprocess.run(["podman", "rm", "-f", "-t", "20", NAME], capture_output=True, timeout=120)
        # Layers of earlier builds of this image only: other images are not touched.
        subprocess.run(["podman", "image", "prune", "-f", "--filter",
                        "label=org.opencontainers.image.title=cc-gateway"], capture_output=True, timeout=300)


def test_health_call_and_metrics_against_the_running_container(container: str) -> None:
    status, body = _get(f"{container}/health")
    assert status == 200 and body, body
    ws = container.replace("http://", "ws://") + "/ws"
    call = subprocess.run([sys.executable, "-m", "gateway.cli.main", "call",
                           str(PROJECT / "samples/audio/en_question_returns.wav"), "--url", ws],
                          cwd=PROJECT, capture_output=True, text=True, timeout=180)
    assert call.returncode == 0, call.stderr
    assert call.stdout.startswith("session "), call.stdout
    assert "return" in call.stdout.lower(), call.stdout  # the caller's question and the answer
    status, metrics = _get(f"{container}/metrics")
    assert status == 200
    assert re.search(r'^gateway_sessions_total\{channel="websocket"\} [1-9]', metrics, re.M), metrics[:2000]
    assert re.search(r'^gateway_reply_latency_seconds_count [1-9]', metrics, re.M)
    assert re.search(r'^gateway_stage_seconds_count\{stage="asr"\} [1-9]', metrics, re.M)
