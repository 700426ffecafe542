"""The gateway's WebSocket server (protocol v1) plus /health and /metrics on the same port.

Thin asyncio shell: frames go through gateway.protocol.ws_v1.ServerProtocol; typed inputs go into
the session; session events go back out through the same protocol object. A protocol error gets
an error event and the connection stays open; a vanished client ends its session cleanly.

Who connects is settled before the upgrade (gateway.security: keys, tokens, origins for clients;
source address, shared secret or Twilio signature for phone bridges); a refused upgrade is an
HTTP 401/403 whose JSON body names the error code. Each connection has a message/byte rate limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import json
import logging
import time
import weakref
from collections.abc import Awaitable, Callable

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from gateway.app import Gateway
from gateway.errors import GatewayError, LimitExceeded
from gateway.events import ErrorEvent, SessionEvent
from gateway.inputs import End
from gateway.ports import MediaPeer, MediaPeerFactory, SessionRequest, dispatch
from gateway.protocol.ws_v1 import ClientMessage, ServerProtocol, Start, WebRtcOffer, to_json
from gateway.security import (
    ANONYMOUS,
    AuthError,
    ConnectionLimiter,
    Principal,
    authenticate,
    authorize_start,
    check_bridge,
    check_twilio,
    http_status,
    query_of,
)
from gateway.session import Session
from gateway.transports.agent import AgentChannel

log = logging.getLogger("gateway.ws")

WS_PATHS = ("/", "/ws", "/v1/ws")
HttpRoute = Callable[[Request], Awaitable[Response | None]]
WsRoute = Callable[[ServerConnection], Awaitable[object]]  # another WebSocket protocol on its own path
TWILIO_PATH = "/phone/twilio"


def _response(status: http.HTTPStatus, body: bytes, content_type: str) -> Response:
    headers = Headers([("Content-Type", content_type), ("Content-Length", str(len(body))),
                       ("Cache-Control", "no-store")])
    return Response(status.value, status.phrase, headers, body)


def hard_ceiling(max_message_bytes: int) -> int:
    """What the WebSocket layer itself accepts: twice the soft cap, at most 8 MiB beyond it."""
    return max_message_bytes + min(max_message_bytes, 8 * 1024 * 1024)


def json_response(status: http.HTTPStatus, payload: object) -> Response:
    return _response(status, json.dumps(payload).encode(), "application/json")


class WebSocketServer:
    def __init__(self, gateway: Gateway, *, extra_routes: dict[str, HttpRoute] | None = None,
                 media: MediaPeerFactory | None = None, ws_routes: dict[str, WsRoute] | None = None) -> None:
        self.gateway = gateway
        self.media = media
        self.ws_routes = dict(ws_routes or {})  # e.g. /phone/twilio, /phone/asterisk
        self.routes: dict[str, HttpRoute] = {"/health": self._health, "/ready": self._ready,
                                             "/metrics": self._metrics,
                                             **(extra_routes or {})}
        self._server: Server | None = None
        # The principal settled at the upgrade, handed to the connection handler.
        self._principals: weakref.WeakKeyDictionary[ServerConnection, Principal] = weakref.WeakKeyDictionary()

    async def start(self, host: str, port: int) -> int:
        self._server = await serve(
            self._connection, host, port,
            # A message over server.max_message_bytes is refused with an error event and the
            # session goes on; only one far beyond it (the hard ceiling) closes the connection (1009).
            max_size=hard_ceiling(self.gateway.settings.server.max_message_bytes),
            process_request=self._process_request,
            ping_interval=20, ping_timeout=20, close_timeout=5,
        )
        sock = next(iter(self._server.sockets))
        return int(sock.getsockname()[1])

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    # ------------------------------------------------------------------ HTTP

    async def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path = request.path.split("?", 1)[0]
        if (path in WS_PATHS or path in self.ws_routes) and \
                request.headers.get("Upgrade", "").lower() == "websocket":
            try:
                self._principals[connection] = self._authenticate(connection, request, path)
            except AuthError as exc:
                self.gateway.metrics.errors.labels(exc.code).inc()
                log.info("upgrade of %s refused: %s", path, exc.code)  # never the credential
                return json_response(http_status(exc), {"type": "error", "code": exc.code,
                                                        "message": exc.message})
            return None
        route = self.routes.get(path)
        if route is None:
            return json_response(http.HTTPStatus.NOT_FOUND, {"error": "not-found", "path": path})
        return await route(request)

    def _authenticate(self, connection: ServerConnection, request: Request, path: str) -> Principal:
        security = self.gateway.settings.security
        if path not in self.ws_routes:
            return authenticate(request.headers, query_of(request.path), security, now=time.time())
        if path == TWILIO_PATH and security.twilio_auth_token:
            base = security.public_url or f"wss://{request.headers.get('Host', '')}"
            check_twilio(request.headers.get("X-Twilio-Signature"), base.rstrip("/") + request.path, {},
                         security.twilio_auth_token)
        else:  # Asterisk chan_websocket, or Twilio without a token: source address and shared secret
            peer = connection.remote_address
            check_bridge(str(peer[0]) if peer else None, query_of(request.path).get("secret"), security)
        return ANONYMOUS  # a trusted bridge; its calls carry no principal of their own

    async def _health(self, request: Request) -> Response:
        health = self.gateway.health()
        status = http.HTTPStatus.OK if self.gateway.ready else http.HTTPStatus.SERVICE_UNAVAILABLE
        return json_response(status, health)

    async def _ready(self, request: Request) -> Response:
        """200 while this node takes sessions; 503 while starting, draining or the store is degraded."""
        status = http.HTTPStatus.OK if self.gateway.serving else http.HTTPStatus.SERVICE_UNAVAILABLE
        return json_response(status, self.gateway.health())

    async def _metrics(self, request: Request) -> Response:
        security = self.gateway.settings.security
        if security.mode == "required" and not security.metrics_public:
            try:  # operational data: an admin credential (a scraper's API key) or nothing
                principal = authenticate(request.headers, query_of(request.path), security, now=time.time())
                if principal.role != "admin":
                    raise AuthError("/metrics needs an admin credential", code="role-forbidden")
            except AuthError as exc:
                self.gateway.metrics.errors.labels(exc.code).inc()
                return json_response(http_status(exc), {"type": "error", "code": exc.code,
                                                        "message": exc.message})
        return _response(http.HTTPStatus.OK, self.gateway.metrics.render(),
                         "text/plain; version=0.0.4; charset=utf-8")

    # ------------------------------------------------------------------ WebSocket

    async def _connection(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        principal = self._principals.pop(ws, ANONYMOUS)
        route = self.ws_routes.get(ws.request.path.split("?", 1)[0])
        if route is not None:
            await route(ws)
            return
        security = self.gateway.settings.security
        limiter = ConnectionLimiter(security.max_messages_per_s, security.max_bytes_per_s)
        max_bytes = self.gateway.settings.server.max_message_bytes
        protocol = ServerProtocol(max_binary_bytes=max_bytes)
        session: Session | None = None
        peers: list[MediaPeer] = []  # a WebRTC peer once the page sends webrtc.offer
        sender: asyncio.Task[None] | None = None
        reason = "caller-vanished"
        try:
            async for message in ws:
                try:
                    if len(message) > max_bytes:
                        raise LimitExceeded(f"message of {len(message)} bytes is over the {max_bytes}-byte "
                                            "limit (server.max_message_bytes); dropped",
                                            code="message-too-large")
                    limiter.check(len(message), time.monotonic())  # over the rate: dropped, reported
                    if isinstance(message, bytes):
                        item: ClientMessage = protocol.receive_bytes(message)
                    else:
                        item = protocol.receive_text(message)
                    if isinstance(item, Start):
                        tenant = authorize_start(principal, item.tenant, item.role)
                    if isinstance(item, Start) and item.role == "agent":
                        await AgentChannel(ws, self.gateway, protocol, tenant, principal).run()
                        return
                    if isinstance(item, Start):
                        session = await self.gateway.open(SessionRequest(
                            channel=item.channel, audio=item.audio, language=item.language,
                            tenant=tenant, session_id=item.session_id))
                        sender = asyncio.create_task(self._send_events(ws, protocol, session, peers))
                        continue
                    if session is None:  # the protocol object refuses everything else before start
                        continue
                    if isinstance(item, WebRtcOffer):
                        await self._offer(ws, session, item.sdp, peers)
                        continue
                    if isinstance(item, End):
                        reason = item.reason
                        break
                    dispatch(session, item)
                except GatewayError as exc:
                    if session is not None:
                        await session.refuse(exc)
                    else:
                        self.gateway.metrics.errors.labels(exc.code).inc()
                        await ws.send(json.dumps(to_json(ErrorEvent(exc.code, exc.message))))
                        if exc.code in ("busy", "tenant-busy"):
                            await ws.close(1013, exc.code)
                        elif exc.code in ("tenant-forbidden", "role-forbidden", "channel-forbidden"):
                            await ws.close(1008, exc.code)
        except ConnectionClosed:
            pass
        finally:
            for peer in peers:
                await peer.aclose()
            if session is not None:
                await session.close(reason)
            if sender is not None:
                with contextlib.suppress(asyncio.TimeoutError, ConnectionClosed):
                    await asyncio.wait_for(sender, timeout=5)
                sender.cancel()

    async def _offer(self, ws: ServerConnection, session: Session, sdp: str, peers: list[MediaPeer]) -> None:
        if self.media is None:
            raise GatewayError("this gateway has no WebRTC transport", code="webrtc-unavailable")
        if peers:
            raise GatewayError("this session already has a media connection", code="webrtc-bad-offer")
        peer = self.media.create(session)
        try:
            answer = await peer.answer(sdp)
        except BaseException:
            await peer.aclose()
            raise
        peers.append(peer)
        await ws.send(json.dumps({"type": "webrtc.answer", "sdp": answer}))

    async def _send_events(self, ws: ServerConnection, protocol: ServerProtocol, session: Session,
                           peers: list[MediaPeer]) -> None:
        event: SessionEvent
        try:
            async for event in session.events():
                if peers and peers[0].take(event):
                    continue
                frame = protocol.encode(event)
                if frame is not None:
                    await ws.send(frame)
            await ws.close(1000, "session ended")
        except ConnectionClosed:
            pass

