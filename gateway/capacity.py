"""Admission by measured capacity: refuse new sessions with `busy` before admitted ones degrade.

`Capacity` is pure: it is fed `Sample`s (a clock reading, the process's cumulative CPU seconds,
the event loop's lag, the fullest session inbox, the ASR/TTS calls waiting for an engine and how
long they waited) and decides `ok` (admit) or `busy` with hysteresis: it turns busy only after
`trip_samples` samples in a row over a busy threshold and admits again only after
`recover_samples` samples in a row with every signal under its (lower) ok threshold, so a node
near its limit does not flap.

`CapacityMonitor` is the thin asyncio shell: a probe task that sleeps `interval_s`, measures how
late it woke (the loop's lag), reads the rest through `source` (replaceable: tests script it) and
feeds the sample in. docs/production.md ("Admission") explains the signals and their defaults.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from gateway.errors import ConfigError

log = logging.getLogger("gateway.capacity")
MODES = ("adaptive", "static")


@dataclass(frozen=True)
class AdmissionSettings:
    mode: str = "adaptive"  # "adaptive": server.max_sessions and measured load; "static": the cap only
    interval_s: float = 0.5  # how often the load is sampled (the loop-lag probe's sleep)
    cpu_window_s: float = 3.0  # the process's CPU share is averaged over this long
    cpu_busy: float = 0.9  # CPU share of the node's cores (0..1) over which new sessions are refused
    cpu_ok: float = 0.75  # ... and under which they are admitted again
    loop_lag_busy_ms: float = 250.0  # event-loop lag over which new sessions are refused
    loop_lag_ok_ms: float = 80.0  # ... and under which they are admitted again
    inbox_busy: float = 0.2  # fullest session inbox, as a fraction of its bound, that refuses
    inbox_ok: float = 0.05  # ... and that admits again
    engine_backlog_busy: int = 8  # ASR/TTS calls waiting for an engine, over which new sessions are refused
    engine_backlog_ok: int = 3  # ... and under which they are admitted again
    engine_wait_busy_ms: float = 600.0  # longest wait of an ASR/TTS call for its engine, over which
    engine_wait_ok_ms: float = 200.0  # ... new sessions are refused; and under which admitted again
    trip_samples: int = 2  # samples in a row over a busy threshold before refusing
    recover_samples: int = 4  # samples in a row under every ok threshold before admitting again
    # Prediction (a burst is all admitted before anyone speaks, so measured load comes too late):
    # a new session is refused when (live sessions + 1) x the cost of a session would fill more
    # than `predict_busy` of the cores. The cost starts at `session_cost` (cores per live caller,
    # from `gateway loadtest`: docs/benchmarks.md) and follows the measured CPU per session while
    # the node is loaded. 0 turns prediction off.
    session_cost: float = 0.064  # 25 callers on 2 cores (30 measured within p95 1.2 s; docs/benchmarks.md)
    predict_busy: float = 0.8
    learn_rate: float = 0.1  # weight of each loaded sample in the measured cost (0: keep session_cost)

    def validate(self) -> None:
        def check(ok: bool, message: str) -> None:
            if not ok:
                raise ConfigError(message)

        check(self.mode in MODES, f"admission.mode must be one of {MODES}")
        check(0.05 <= self.interval_s <= 10.0, "admission.interval_s must be 0.05..10")
        check(self.interval_s <= self.cpu_window_s <= 60.0, "admission.cpu_window_s must be interval_s..60")
        check(0.0 < self.cpu_ok <= self.cpu_busy <= 1.0, "admission.cpu_ok/cpu_busy: 0 < ok <= busy <= 1")
        check(0.0 < self.loop_lag_ok_ms <= self.loop_lag_busy_ms <= 60_000,
              "admission.loop_lag_ok_ms/loop_lag_busy_ms: 0 < ok <= busy <= 60000")
        check(0.0 <= self.inbox_ok <= self.inbox_busy < 1.0,
              "admission.inbox_ok/inbox_busy: 0 <= ok <= busy < 1 (a full inbox drops caller audio)")
        check(0 <= self.engine_backlog_ok <= self.engine_backlog_busy,
              "admission.engine_backlog_ok/engine_backlog_busy: 0 <= ok <= busy")
        check(0.0 < self.engine_wait_ok_ms <= self.engine_wait_busy_ms <= 60_000,
              "admission.engine_wait_ok_ms/engine_wait_busy_ms: 0 < ok <= busy <= 60000")
        check(1 <= self.trip_samples <= 100 and 1 <= self.recover_samples <= 100,
              "admission.trip_samples/recover_samples must be 1..100")
        check(0.0 <= self.session_cost <= 64.0, "admission.session_cost must be 0..64 cores")
        check(0.0 < self.predict_busy <= 1.0, "admission.predict_busy must be in (0, 1]")
        check(0.0 <= self.learn_rate <= 1.0, "admission.learn_rate must be 0..1")


@dataclass(frozen=True)
class Sample:
    at: float  # a monotonic clock reading, seconds
    cpu_s: float  # the process's cumulative CPU seconds (all threads)
    loop_lag_ms: float = 0.0
    inbox: float = 0.0  # the fullest session inbox: depth / bound
    inbox_total: int = 0  # items waiting in all session inboxes (reported, not decided on)
    engine_backlog: int = 0
    engine_wait_ms: float = 0.0  # the longest wait for an engine since the previous sample
    sessions: int = 0


class Capacity:
    """The admission decision; pure (no clock, no I/O): everything arrives in `observe`."""

    def __init__(self, settings: AdmissionSettings, *, cores: int, max_sessions: int) -> None:
        self.settings, self.cores, self.max_sessions = settings, max(1, cores), max_sessions
        self.state = "ok"
        self.reason = ""  # the signal that made it busy
        self.cpu = 0.0
        self.last = Sample(0.0, 0.0)
        self._window: collections.deque[Sample] = collections.deque(maxlen=1000)
        self._over = 0
        self._under = 0
        self.session_cost = settings.session_cost  # cores per live session: the prior, then measured

    @property
    def admitting(self) -> bool:
        return self.settings.mode == "static" or self.state == "ok"

    @property
    def predicting(self) -> bool:
        return self.settings.mode == "adaptive" and self.settings.session_cost > 0

    def predicted(self, sessions: int) -> float:
        """The CPU share of the cores `sessions` live sessions are expected to use."""
        return sessions * self.session_cost / self.cores if self.predicting else 0.0

    def room_for(self, sessions: int) -> bool:
        """Whether one more session fits next to `sessions` live ones by the prediction."""
        return (not self.predicting or sessions == 0
                or self.predicted(sessions + 1) <= self.settings.predict_busy)

    def predicted_max(self) -> int:
        """Sessions the prediction admits at most (for /health; 0 when prediction is off)."""
        if not self.predicting or self.session_cost <= 0:
            return 0
        return int(self.settings.predict_busy * self.cores / self.session_cost + 1e-9)

    def observe(self, sample: Sample) -> str:
        """Takes one sample; returns the state (ok | busy)."""
        s = self.settings
        self._window.append(sample)
        while len(self._window) > 2 and sample.at - self._window[1].at >= s.cpu_window_s:
            self._window.popleft()
        first = self._window[0]
        if sample.at > first.at:
            self.cpu = max(0.0, (sample.cpu_s - first.cpu_s) / (sample.at - first.at) / self.cores)
        self.last = sample
        self._learn(sample)
        over = self._over_reason(sample)
        under = (self.cpu < s.cpu_ok and sample.loop_lag_ms < s.loop_lag_ok_ms
                 and sample.inbox <= s.inbox_ok and sample.engine_backlog <= s.engine_backlog_ok
                 and sample.engine_wait_ms < s.engine_wait_ok_ms)
        self._over = self._over + 1 if over else 0
        self._under = self._under + 1 if under else 0
        if self.state == "ok" and self._over >= s.trip_samples:
            self.state, self.reason = "busy", over
            log.warning("admission: busy (%s); new sessions are refused", over)
        elif self.state == "busy" and self._under >= s.recover_samples:
            self.state, self.reason = "ok", ""
            log.warning("admission: ok; new sessions are admitted again")
        return self.state

    def _learn(self, sample: Sample) -> None:
        """While the node is loaded (CPU over half of predict_busy) the cost per session is
        measured: the process's CPU over its live sessions, kept within 4x of session_cost either
        way (one caller's screenshot must not close the node). Otherwise it drifts back to
        session_cost: a quiet node says nothing about what its callers cost when they speak."""
        s = self.settings
        if not self.predicting:
            return
        if sample.sessions >= 1 and self.cpu >= s.predict_busy / 2:
            target = self.cpu * self.cores / sample.sessions
            target = min(s.session_cost * 4, max(s.session_cost / 4, target))
        else:
            target = s.session_cost
        self.session_cost += s.learn_rate * (target - self.session_cost)

    def _over_reason(self, sample: Sample) -> str:
        s = self.settings
        if self.cpu > s.cpu_busy:
            return "cpu"
        if sample.loop_lag_ms > s.loop_lag_busy_ms:
            return "loop-lag"
        if sample.inbox > s.inbox_busy:
            return "session-inbox"
        if sample.engine_backlog > s.engine_backlog_busy:
            return "engine-backlog"
        if sample.engine_wait_ms > s.engine_wait_busy_ms:
            return "engine-wait"
        return ""

    def headroom(self, sessions: int) -> float:
        """0..1 for an autoscaler: 1 - the highest of each signal over its busy threshold (and of
        the sessions over server.max_sessions); 0 while refusing."""
        s, last = self.settings, self.last
        if not self.admitting or sessions >= self.max_sessions:
            return 0.0
        used = [sessions / self.max_sessions]
        if self.predicting:
            used.append(self.predicted(sessions + 1) / s.predict_busy)
        if s.mode == "adaptive":
            used += [self.cpu / s.cpu_busy, last.loop_lag_ms / s.loop_lag_busy_ms,
                     last.inbox / s.inbox_busy if s.inbox_busy else 0.0,
                     last.engine_backlog / s.engine_backlog_busy if s.engine_backlog_busy else 0.0,
                     last.engine_wait_ms / s.engine_wait_busy_ms]
        return round(min(1.0, max(0.0, 1.0 - max(used))), 3)

    def status(self, sessions: int) -> dict[str, object]:
        """The /health `capacity` object."""
        full = sessions >= self.max_sessions
        no_room = not self.room_for(sessions)
        busy = full or no_room or not self.admitting
        reason = ("max-sessions" if full else self.reason if not self.admitting
                  else "predicted-load" if no_room else "")
        return {"state": "busy" if busy else "ok", "mode": self.settings.mode, "reason": reason,
                "cpu": round(self.cpu, 3), "loop_lag_ms": round(self.last.loop_lag_ms, 1),
                "inbox": round(self.last.inbox, 3), "inbox_total": self.last.inbox_total,
                "engine_backlog": self.last.engine_backlog,
                "engine_wait_ms": round(self.last.engine_wait_ms, 1), "sessions": sessions,
                "max_sessions": self.max_sessions, "headroom": self.headroom(sessions),
                "session_cost": round(self.session_cost, 4), "predicted": round(self.predicted(sessions), 3),
                "predicted_max_sessions": self.predicted_max()}


def node_cores() -> int:
    """The cores this process may run on (its CPU affinity), else the machine's."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


Source = Callable[[float, float], Sample]  # (now, loop lag ms) -> a sample


class CapacityMonitor:
    """Samples every `interval_s` on the event loop: a probe that measures its own late wake-up."""

    def __init__(self, capacity: Capacity, source: Source) -> None:
        self.capacity, self.source = capacity, source  # `source` may be replaced (tests script it)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="capacity-probe")

    async def _run(self) -> None:
        interval = self.capacity.settings.interval_s
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + interval
            await asyncio.sleep(interval)
            lag_ms = max(0.0, (loop.time() - due) * 1000.0)
            try:
                self.capacity.observe(self.source(time.monotonic(), lag_ms))
            except Exception:  # a probe must never stop: log and keep the last decision
                log.exception("capacity sample failed")

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
