"""Predictive admission (gateway/capacity.py): a burst of callers is refused by the expected cost of
its sessions before anyone speaks; the cost per session follows what loaded samples measure."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from gateway.app import Gateway
from gateway.capacity import AdmissionSettings, Capacity, Sample
from gateway.config import load_settings
from gateway.errors import ConfigError, LimitExceeded
from gateway.events import AudioFormat
from gateway.ports import SessionRequest
from tests.conftest import make_settings


class Live:
    """A live session as the gateway's gauges read it."""

    queue_depths = (0, 0)
    request = SessionRequest(channel="websocket", audio=AudioFormat("pcm16", 8000))


PREDICT = AdmissionSettings(session_cost=0.1, predict_busy=0.8, learn_rate=0.5)


def test_a_burst_is_refused_at_the_predicted_limit_before_any_load_shows() -> None:
    capacity = Capacity(PREDICT, cores=2, max_sessions=50)
    capacity.observe(Sample(0.0, 0.0))
    capacity.observe(Sample(0.5, 0.0, sessions=15))  # connected, silent: no CPU used yet
    assert capacity.admitting  # the measured signals see nothing
    assert capacity.predicted_max() == 16  # 0.8 x 2 cores / 0.1 per session
    assert capacity.room_for(15) and not capacity.room_for(16)
    status = capacity.status(sessions=16)
    assert status["state"] == "busy" and status["reason"] == "predicted-load"
    assert status["predicted"] == 0.8 and status["predicted_max_sessions"] == 16
    assert capacity.headroom(16) == 0.0 and capacity.headroom(0) > 0.8
    assert capacity.room_for(0)  # an empty node always takes its first caller


def test_the_cost_per_session_follows_loaded_samples_within_bounds_and_returns_when_quiet() -> None:
    capacity = Capacity(dataclasses.replace(PREDICT, cpu_window_s=0.5), cores=2, max_sessions=50)
    capacity.observe(Sample(0.0, 0.0))
    capacity.observe(Sample(0.5, 0.6, sessions=4))  # 1.2 cores for 4 sessions = 0.3 per session
    assert capacity.session_cost == pytest.approx(0.1 + 0.5 * (0.3 - 0.1))
    for i in range(20):
        capacity.observe(Sample(1.0 + i * 0.5, 0.6 + (i + 1) * 0.9, sessions=1))  # 1.8 cores, 1 session
    assert capacity.session_cost == pytest.approx(0.4, abs=1e-3)  # at most 4x session_cost
    assert capacity.predicted_max() == 4
    t, cpu = 11.0, 0.6 + 20 * 0.9
    for _ in range(30):  # quiet: the measured cost says nothing, back to the configured one
        t += 0.5
        capacity.observe(Sample(t, cpu, sessions=2))
    assert capacity.session_cost == pytest.approx(0.1, abs=1e-3)


def test_prediction_is_off_in_static_mode_and_with_no_session_cost() -> None:
    for settings in (dataclasses.replace(PREDICT, mode="static"),
                     dataclasses.replace(PREDICT, session_cost=0.0)):
        capacity = Capacity(settings, cores=2, max_sessions=50)
        assert capacity.room_for(49) and capacity.predicted(49) == 0.0 and capacity.predicted_max() == 0


def test_prediction_settings_are_validated() -> None:
    settings = load_settings(environ={"GATEWAY_ADMISSION__SESSION_COST": "0.05"})
    assert settings.admission.session_cost == 0.05
    for bad in ({"GATEWAY_ADMISSION__SESSION_COST": "-1"}, {"GATEWAY_ADMISSION__PREDICT_BUSY": "0"},
                {"GATEWAY_ADMISSION__LEARN_RATE": "2"}):
        with pytest.raises(ConfigError, match="admission"):
            load_settings(environ=bad)


async def test_gateway_open_refuses_the_session_that_would_overfill_the_node(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    gateway = Gateway(dataclasses.replace(settings, admission=PREDICT))
    gateway._ready, gateway.core = True, object()  # type: ignore[assignment]  # never reached
    gateway.sessions.update({f"s{i}": Live() for i in range(16)})  # type: ignore[misc]
    with pytest.raises(LimitExceeded, match="predicted-load") as refused:
        await gateway.open(SessionRequest(channel="websocket", audio=AudioFormat("pcm16", 8000)))
    assert refused.value.code == "busy" and len(gateway.sessions) == 16
    health = gateway.health()["capacity"]
    assert health["state"] == "busy" and health["reason"] == "predicted-load"  # type: ignore[index]
    metrics = gateway.metrics.render()
    assert b"gateway_admitting 0.0" in metrics and b"gateway_sessions_rejected_total 1.0" in metrics
    assert b"gateway_predicted_cpu_share 0.8" in metrics and b"gateway_session_cost_cores 0.1" in metrics
