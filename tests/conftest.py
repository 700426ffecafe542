"""Shared fixtures: a real gateway on a loopback port, run on its own thread and event loop."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Self

import pytest

from gateway.app import Gateway
from gateway.config import Settings, load_settings
from models.vad_silero import SileroVad

PROJECT = Path(__file__).resolve().parents[1]
SAMPLES = PROJECT / "samples"


class GatewayThread:
    """Runs gateway.local.local_gateway on a thread so tests talk to it only over sockets."""

    def __init__(self, settings: Settings, *, preload: bool = True) -> None:
        self.settings = settings
        self.preload = preload  # False: no speech models (tests that send no audio)
        self.url = ""
        self.http = ""
        self.gateway: Gateway | None = None
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="gateway-under-test", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._main())

    async def _main(self) -> None:
        from gateway.local import local_gateway

        self._stop = asyncio.Event()
        try:
            async with local_gateway(self.settings, preload=self.preload) as local:
                self.url, self.http, self.gateway = local.url, local.http, local.gateway
                self._ready.set()
                await self._stop.wait()
        except BaseException as exc:  # reported to the test that started it
            self._error = exc
            self._ready.set()

    def start(self) -> Self:
        self._thread.start()
        self._ready.wait(timeout=300)
        if self._error is not None:
            raise RuntimeError(f"gateway failed to start: {self._error!r}") from self._error
        return self

    def call(self, coro):
        """Runs a coroutine on the gateway's own loop (to inspect its state) and returns the result."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=60)

    def stop(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=60)


def make_settings(tmp: Path, **speech: object) -> Settings:
    base = load_settings(environ={})
    return dataclasses.replace(
        base,
        store=dataclasses.replace(base.store, path=str(tmp / "transcripts.sqlite3")),
        core=dataclasses.replace(base.core, db_path=str(tmp / "kb.sqlite3")),
        speech=dataclasses.replace(base.speech, **speech),  # type: ignore[arg-type]
        # The test machine's load must not refuse sessions (tests/e2e/test_admission.py sets adaptive).
        admission=dataclasses.replace(base.admission, mode="static"),
    )


@pytest.fixture(scope="session")
def live_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayThread]:
    """One real gateway (real models, real sockets) shared by the end-to-end tests."""
    gw = GatewayThread(make_settings(tmp_path_factory.mktemp("gateway"))).start()
    yield gw
    gw.stop()


@pytest.fixture(scope="session")
def vad() -> Iterator[SileroVad]:
    """One real Silero VAD for the tests that score audio with it (each use resets it first)."""
    detector = SileroVad()
    yield detector
    detector.close()
