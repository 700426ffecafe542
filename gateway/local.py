"""Assembles a whole gateway: the Gateway, its WebSocket server (protocol v1, phone streams,
/health, /metrics, the /call, /kiosk and /agent pages, WebRTC peers) and the phone listeners
(SIP, AudioSocket). Used by `gateway serve`, the
benchmarks and the end-to-end tests."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from websockets.asyncio.server import ServerConnection

from gateway.analytics.page import report_routes  # GET /admin/report (docs/report.md)
from gateway.app import Gateway
from gateway.config import Settings
from gateway.transports.webrtc import WebRtcPeers
from gateway.transports.websocket import WebSocketServer
from gateway.web_routes import web_routes
from models.extras import MissingExtra


@dataclass(frozen=True)
class LocalGateway:
    gateway: Gateway
    url: str  # ws://HOST:PORT/ws
    http: str  # http://HOST:PORT (also the pages: /call, /kiosk, /agent)
    media: WebRtcPeers | None  # None without the webrtc extra
    sip_port: int | None = None
    audiosocket_port: int | None = None


@asynccontextmanager
async def local_gateway(settings: Settings, *, host: str = "127.0.0.1", port: int = 0,
                        preload: bool = True, phone: bool = False) -> AsyncIterator[LocalGateway]:
    """phone=True also starts the SIP endpoint and the AudioSocket server (settings.phone)."""
    from gateway.transports.phone_chan_websocket import handle_chan_websocket
    from gateway.transports.phone_twilio import handle_twilio

    gateway = Gateway(settings)

    async def twilio(ws: ServerConnection) -> None:
        await handle_twilio(ws, gateway, settings.phone, start_timeout_s=settings.security.start_timeout_s)

    async def asterisk(ws: ServerConnection) -> None:
        await handle_chan_websocket(ws, gateway, settings.phone,
                                    start_timeout_s=settings.security.start_timeout_s)

    try:
        media: WebRtcPeers | None = WebRtcPeers(settings.webrtc)
    except MissingExtra as exc:  # no webrtc extra: WebSocket and phone calls still work
        logging.getLogger("gateway").warning("%s; offers get webrtc-unavailable", exc)
        media = None
    server = WebSocketServer(gateway, ws_routes={"/phone/twilio": twilio, "/phone/asterisk": asterisk},
                             extra_routes={**web_routes(), **report_routes(settings)}, media=media)
    async with AsyncExitStack() as stack:
        bound = await server.start(host, port)
        stack.push_async_callback(gateway.aclose)
        stack.push_async_callback(server.aclose)
        stack.push_async_callback(gateway.close_sessions)  # first: the server's close waits on them
        await gateway.start(preload=preload)
        sip_port = audiosocket_port = None
        if phone:
            from gateway.transports.phone_services import PhoneServices

            services = await PhoneServices.start(gateway, settings.phone)
            stack.push_async_callback(services.aclose)
            sip_port, audiosocket_port = services.sip_port, services.audiosocket_port
        yield LocalGateway(gateway, f"ws://{host}:{bound}/ws", f"http://{host}:{bound}", media, sip_port,
                           audiosocket_port)
