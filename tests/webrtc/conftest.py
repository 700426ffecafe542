"""A real gateway with its WebRTC transport and web pages, on its own thread (like live_gateway)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import GatewayThread, make_settings


class WebRtcGatewayThread(GatewayThread):
    media = None

    async def _main(self) -> None:
        import asyncio

        from gateway.cli.webrtc_bench import webrtc_gateway

        self._stop = asyncio.Event()
        try:
            async with webrtc_gateway(self.settings) as local:
                self.url, self.http = local.url, local.http
                self.gateway, self.media = local.gateway, local.media
                self._ready.set()
                await self._stop.wait()
        except BaseException as exc:  # reported to the test that started it
            self._error = exc
            self._ready.set()


@pytest.fixture(scope="session")
def webrtc_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebRtcGatewayThread]:
    gw = WebRtcGatewayThread(make_settings(tmp_path_factory.mktemp("webrtc-gateway"))).start()
    yield gw
    gw.stop()
