"""The gateway's WebSocket server (protocol v1) plus /health and /metrics on the same port.

Thin asyncio shell: frames go through gateway.protocol.ws_v1.ServerProtocol; typed inputs go into
the session; session events go back out through the same protocol object. A protocol error gets
an error event and the connection stays open; a vanished client ends its session cleanly.

Who connects is settled before the upgrade (gateway.security: keys, tokens, origins for clients;
source address, shared secret or Twilio signature for phone bridges); a refused upgrade is an
HTTP 401/403 whose JSON body names the error code. Each connection has a message/byte rate limit.

Bounded (issue 16): open connections, started or not, are capped (`security.max_connections`,
then HTTP 503 `busy`); a connection that sends no `session.start` within
`security.start_timeout_s` is closed (1008); one that sends `security.max_bad_frames` invalid
frames is cut off (1008); error rows and log lines are rate-limited per session.
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
from gateway.errors import GatewayError, LimitExceeded, ProtocolError
from gateway.events import ErrorEvent, SessionEvent
from gateway.inputs import End
from gateway.ports import MediaPeer, MediaPeerFactory, SessionRequest, dispatch
from gateway.protocol.ws_v1 import ClientMessage, ServerProtocol, Start, WebRtcOffer, to_json
from gateway.security import (
    ANONYMOUS,
    AuthError,
    ConnectionLimiter,
    Principal,
    TokenBucket,
    authenticate,
    authorize_start,
    bridge_credential_configured,
    check_bridge,
    check_twilio,
    http_status,
    query_of,
)
from gateway.session import Session
from gateway.transports.agent import AgentChannel

log = logging.getLogger("gateway.ws")

WS_PATHS = ("/", "/ws", "/v1/ws")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
ERROR_BURST_S = 5.0  # error rows: a burst of this many seconds' worth, then the per-second rate
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
        self._own_origins: tuple[str, ...] = ()  # the gateway's own pages, set once the port is known
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
            # No permessage-deflate: PCM audio barely compresses, and zlib on every 20 ms frame
            # took about 5% of a core on the event loop with 16 callers (cProfile, docs/benchmarks.md).
            compression=None,
        )
        sock = next(iter(self._server.sockets))
        bound = int(sock.getsockname()[1])
        self._own_origins = own_origins(host, bound)
        return bound

    def max_connections(self) -> int:
        configured = self.gateway.settings.security.max_connections
        return configured or 2 * self.gateway.settings.server.max_sessions + 10

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    # ------------------------------------------------------------------ HTTP

    async def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path = request.path.split("?", 1)[0]
        if (path in WS_PATHS or path in self.ws_routes) and \
                request.headers.get("Upgrade", "").lower() == "websocket":
            if self._server is not None and len(self._server.connections) >= self.max_connections():
                self.gateway.metrics.errors.labels("busy").inc()
                return json_response(http.HTTPStatus.SERVICE_UNAVAILABLE, {
                    "type": "error", "code": "busy",
                    "message": f"all {self.max_connections()} connections are open "
                               "(security.max_connections)"})
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
            return authenticate(request.headers, query_of(request.path), security, now=time.time(),
                                own_origins=self._own_origins)
        twilio = path == TWILIO_PATH
        if security.mode == "required" and not bridge_credential_configured(security, twilio=twilio):
            # Behind a reverse proxy every peer is 127.0.0.1: the loopback allow-list proves nothing.
            raise AuthError("security.mode = 'required' and no bridge credential is configured "
                            "(security.bridge_secret, twilio_auth_token or a non-loopback bridge_sources)",
                            code="auth-missing")
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
        error_rows = TokenBucket(security.max_error_rows_per_s, security.max_error_rows_per_s * ERROR_BURST_S)
        max_bytes = self.gateway.settings.server.max_message_bytes
        protocol = ServerProtocol(max_binary_bytes=max_bytes)
        session: Session | None = None
        peers: list[MediaPeer] = []  # a WebRTC peer once the page sends webrtc.offer
        sender: asyncio.Task[None] | None = None
        reason = "caller-vanished"
        bad_frames = 0
        watchdog = asyncio.create_task(self._close_unstarted(ws, security.start_timeout_s))
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
                        self._check_live_tenant(item.session_id, tenant)
                    if isinstance(item, Start) and item.role == "agent":
                        watchdog.cancel()
                        await AgentChannel(ws, self.gateway, protocol, tenant, principal).run()
                        return
                    if isinstance(item, Start):
                        session = await self.gateway.open(SessionRequest(
                            channel=item.channel, audio=item.audio, language=item.language,
                            tenant=tenant, session_id=item.session_id))
                        watchdog.cancel()  # only now: a refused start leaves the watchdog running
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
                    # Malformed or oversized frames count; refusals a good client meets too
                    # (rate-limited, image-busy, busy) do not.
                    bad_frames += isinstance(exc, ProtocolError) or exc.code == "message-too-large"
                    if bad_frames >= security.max_bad_frames:
                        await self._cut_off(ws, session, bad_frames)
                        reason = "too-many-bad-frames"
                        break
                    if session is not None and error_rows.take(1, time.monotonic()):
                        await session.refuse(exc)
                    elif session is not None:  # over the error-row rate: the caller still hears of it
                        self.gateway.metrics.errors.labels(exc.code).inc()
                        session.emit_nowait(ErrorEvent(exc.code, exc.message))
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
            watchdog.cancel()
            for peer in peers:
                await peer.aclose()
            if session is not None:
                await session.close(reason)
            if sender is not None:
                with contextlib.suppress(asyncio.TimeoutError, ConnectionClosed):
                    await asyncio.wait_for(sender, timeout=5)
                sender.cancel()

    def _check_live_tenant(self, session_id: str | None, tenant: str) -> None:
        """Another tenant's live session id: refused as foreign, without saying it is live."""
        live = self.gateway.sessions.get(session_id) if session_id else None
        if live is not None and live.request.tenant != tenant:
            raise AuthError("that session belongs to another tenant", code="tenant-forbidden")

    async def _close_unstarted(self, ws: ServerConnection, timeout_s: float) -> None:
        await asyncio.sleep(timeout_s)
        self.gateway.metrics.errors.labels("session-start-timeout").inc()
        with contextlib.suppress(ConnectionClosed):
            message = f"no session.start within {timeout_s:g} s (security.start_timeout_s)"
            await ws.send(json.dumps(to_json(ErrorEvent("session-start-timeout", message, fatal=True))))
            await ws.close(1008, "session-start-timeout")

    async def _cut_off(self, ws: ServerConnection, session: Session | None, bad_frames: int) -> None:
        code = "too-many-bad-frames"
        self.gateway.metrics.errors.labels(code).inc()
        message = f"{bad_frames} invalid frames (security.max_bad_frames); the connection is closed"
        if session is not None:
            await session.refuse(GatewayError(message, code=code))  # one row and one log line
        log.info("connection cut off after %d invalid frames", bad_frames)
        with contextlib.suppress(ConnectionClosed):
            if session is None:
                await ws.send(json.dumps(to_json(ErrorEvent(code, message, fatal=True))))
            await ws.close(1008, code)

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


def own_origins(host: str, port: int) -> tuple[str, ...]:
    """The origins of the pages this gateway serves, as a browser names them: the loopback names
    (and the listen address when it is a specific one). Never derived from a request's Host
    header, which a DNS-rebinding page controls."""
    hosts = list(LOOPBACK_HOSTS)
    if host and host not in ("0.0.0.0", "::", "127.0.0.1", "localhost", "::1"):
        hosts.append(f"[{host}]" if ":" in host else host)
    return tuple(f"http://{h}:{port}" for h in hosts)
