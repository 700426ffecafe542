"""The admission decision (gateway/capacity.py) on scripted samples: no clock, no real load."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from pathlib import Path

import pytest

from gateway.app import Gateway
from gateway.capacity import AdmissionSettings, Capacity, Sample
from gateway.config import load_settings
from gateway.engines import Engines
from gateway.errors import ConfigError, LimitExceeded
from gateway.events import AudioFormat
from gateway.ports import SessionRequest
from gateway.session.runner import INBOX_SIZE
from tests.conftest import make_settings

SETTINGS = AdmissionSettings(interval_s=0.5, cpu_window_s=2.0, trip_samples=2, recover_samples=3)


class Feed:
    """Samples every 0.5 s; CPU given as the share of 2 cores used since the previous sample."""

    def __init__(self, settings: AdmissionSettings = SETTINGS) -> None:
        self.capacity = Capacity(settings, cores=2, max_sessions=10)
        self.at = 0.0
        self.cpu_s = 0.0
        self.capacity.observe(Sample(self.at, self.cpu_s))

    def __call__(self, cpu: float = 0.1, **signals: float) -> str:
        self.at += 0.5
        self.cpu_s += cpu * 2 * 0.5
        return self.capacity.observe(Sample(self.at, self.cpu_s, **signals))  # type: ignore[arg-type]


def test_an_idle_node_admits() -> None:
    feed = Feed()
    assert [feed() for _ in range(10)] == ["ok"] * 10
    assert feed.capacity.admitting
    assert feed.capacity.cpu == pytest.approx(0.1)


@pytest.mark.parametrize("signal", [{"loop_lag_ms": 400.0}, {"inbox": 0.3}, {"engine_backlog": 9},
                                    {"engine_wait_ms": 900.0}])
def test_one_signal_over_its_threshold_trips_after_trip_samples(signal: dict[str, float]) -> None:
    feed = Feed()
    assert feed(**signal) == "ok"  # one sample is a spike, not overload
    assert feed() == "ok"  # and the count restarts after a normal sample
    assert feed(**signal) == "ok"
    assert feed(**signal) == "busy"
    assert feed.capacity.reason == {"loop_lag_ms": "loop-lag", "inbox": "session-inbox",
                                    "engine_backlog": "engine-backlog", "engine_wait_ms": "engine-wait"}[
        next(iter(signal))]
    assert not feed.capacity.admitting
    assert feed.capacity.headroom(sessions=1) == 0.0


def test_cpu_is_averaged_over_its_window() -> None:
    feed = Feed()
    for _ in range(4):
        feed(cpu=0.2)
    assert feed(cpu=1.0) == "ok"  # one saturated half-second: the 2 s average is 0.4
    assert feed.capacity.cpu == pytest.approx(0.4)
    states = [feed(cpu=1.0) for _ in range(4)]
    assert states[-1] == "busy" and feed.capacity.reason == "cpu"
    assert feed.capacity.cpu == pytest.approx(1.0)


def test_hysteresis_stays_busy_between_the_thresholds_and_recovers_under_them() -> None:
    feed = Feed()
    feed(loop_lag_ms=500.0)
    assert feed(loop_lag_ms=500.0) == "busy"
    # Under the busy threshold but over the ok one: still refusing (no flapping at the edge).
    assert [feed(loop_lag_ms=150.0) for _ in range(10)] == ["busy"] * 10
    assert feed(loop_lag_ms=10.0) == "busy"
    assert feed(loop_lag_ms=10.0) == "busy"
    assert feed(loop_lag_ms=150.0) == "busy"  # the recovery count restarts
    assert [feed(loop_lag_ms=10.0) for _ in range(3)] == ["busy", "busy", "ok"]
    assert feed.capacity.admitting and feed.capacity.reason == ""


def test_static_mode_admits_whatever_the_load() -> None:
    feed = Feed(dataclasses.replace(SETTINGS, mode="static"))
    for _ in range(5):
        feed(cpu=1.0, loop_lag_ms=5000.0, inbox=0.9)
    assert feed.capacity.admitting  # only server.max_sessions applies (Gateway.open)
    assert feed.capacity.headroom(sessions=5) == 0.5


def test_status_and_headroom() -> None:
    feed = Feed()
    feed(cpu=0.45, loop_lag_ms=125.0, inbox=0.05, engine_backlog=2, sessions=3)
    status = feed.capacity.status(sessions=3)
    assert status["state"] == "ok" and status["loop_lag_ms"] == 125.0
    assert status["headroom"] == 0.5  # CPU and loop lag, at half their busy thresholds, are the highest
    assert feed.capacity.status(sessions=10)["state"] == "busy"  # server.max_sessions reached
    assert feed.capacity.status(sessions=10)["reason"] == "max-sessions"


def test_admission_trips_well_before_an_inbox_drops_caller_audio() -> None:
    """The inbox holds INBOX_SIZE 20-ms frames; past that caller audio is dropped. With the default
    settings the node refuses new sessions while the fullest inbox still has most of its room."""
    s = AdmissionSettings()
    frames_at_trip = s.inbox_busy * INBOX_SIZE + s.trip_samples * s.interval_s / 0.020  # still filling
    assert frames_at_trip <= INBOX_SIZE / 2


def test_settings_are_validated() -> None:
    settings = load_settings(environ={"GATEWAY_ADMISSION__MODE": "static",
                                      "GATEWAY_ADMISSION__LOOP_LAG_BUSY_MS": "300"})
    assert settings.admission.mode == "static" and settings.admission.loop_lag_busy_ms == 300.0
    for bad in ({"GATEWAY_ADMISSION__MODE": "magic"}, {"GATEWAY_ADMISSION__CPU_OK": "0.95"},
                {"GATEWAY_ADMISSION__INBOX_BUSY": "1.0"}, {"GATEWAY_ADMISSION__TRIP_SAMPLES": "0"}):
        with pytest.raises(ConfigError, match="admission"):
            load_settings(environ=bad)


async def test_engines_count_the_calls_waiting_for_an_engine() -> None:
    """Engines.run: the backlog and the longest wait the admission probe reads."""
    engines = Engines(load_settings(environ={}))
    release = threading.Event()
    first = asyncio.ensure_future(engines.run("asr:x", release.wait, 10))
    second = asyncio.ensure_future(engines.run("asr:x", lambda: None))
    for _ in range(3):  # both start: the first holds the engine, the second waits for it
        await asyncio.sleep(0)
    assert engines.waiting == 1
    release.set()
    await asyncio.gather(first, second)
    assert engines.waiting == 0
    assert engines.take_max_wait() > 0.0  # the second call's wait
    assert engines.take_max_wait() == 0.0  # taken: the next sample starts afresh
    third = asyncio.ensure_future(engines.run("asr:x", release.wait, 10))
    release.clear()
    fourth = asyncio.ensure_future(engines.run("asr:x", lambda: None))
    for _ in range(3):
        await asyncio.sleep(0)
    assert engines.waiting == 1
    fourth.cancel()  # cancelled while waiting: no longer counted
    await asyncio.sleep(0)
    assert engines.waiting == 0
    release.set()
    await third


@pytest.mark.parametrize("channel", ["websocket", "phone", "browser", "kiosk"])
async def test_gateway_open_refuses_every_channel_while_over_capacity(tmp_path: Path, channel: str) -> None:
    """All transports (/ws, WebRTC pages, Twilio, Asterisk, AudioSocket, SIP) open sessions through
    Gateway.open: over capacity, each gets `busy` before anything is opened."""
    settings = make_settings(tmp_path)
    gateway = Gateway(dataclasses.replace(settings, admission=AdmissionSettings(trip_samples=1)))
    gateway._ready, gateway.core = True, object()  # type: ignore[assignment]  # never reached
    gateway.capacity.observe(Sample(0.0, 0.0))
    gateway.capacity.observe(Sample(0.5, 0.0, loop_lag_ms=1000.0))
    with pytest.raises(LimitExceeded, match="capacity") as refused:
        await gateway.open(SessionRequest(channel=channel, audio=AudioFormat("pcm16", 8000)))
    assert refused.value.code == "busy" and not gateway.sessions
    assert gateway.health()["capacity"]["state"] == "busy"  # type: ignore[index]
    assert b"gateway_admitting 0.0" in gateway.metrics.render()
    assert b"gateway_sessions_rejected_total 1.0" in gateway.metrics.render()
