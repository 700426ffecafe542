"""HTTP routes for the browser pages: /call, /kiosk, /agent and their static files under /static/.

Pages are plain files in gateway/web/ (no build step). Routes are exact paths built once from
the files directly inside that folder whose names match a fixed pattern, so no request path can
name a file outside it (anything else is the server's JSON 404).
"""

from __future__ import annotations

import http
import re
from pathlib import Path

from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from gateway.transports.websocket import HttpRoute

WEB = Path(__file__).resolve().parent / "web"
PAGES = {"/call": "call.html", "/kiosk": "kiosk.html", "/agent": "agent.html"}
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
STATIC_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}\.(?:html|js|css|svg|png|ico)")
MAX_STATIC_BYTES = 2_000_000
# Same-origin only: the pages load nothing from elsewhere, and the media/WebSocket go to this host.
CSP = ("default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
       "connect-src 'self' ws: wss:; style-src 'self'; script-src 'self'; frame-ancestors 'none'")


def _respond(status: http.HTTPStatus, body: bytes, content_type: str) -> Response:
    headers = Headers([("Content-Type", content_type), ("Content-Length", str(len(body))),
                       ("Cache-Control", "no-cache"), ("X-Content-Type-Options", "nosniff"),
                       ("Content-Security-Policy", CSP), ("Referrer-Policy", "no-referrer")])
    return Response(status.value, status.phrase, headers, body)


def static_file(name: str, root: Path = WEB) -> tuple[bytes, str] | None:
    """(body, content type) of a file directly inside `root`, or None: names outside the fixed
    pattern (slashes, dots, percent signs, upper case...) never reach the filesystem."""
    if not STATIC_NAME.fullmatch(name):
        return None
    path = root / name
    try:
        if path.resolve().parent != root.resolve() or not path.is_file():
            return None
        if path.stat().st_size > MAX_STATIC_BYTES:
            return None
        return path.read_bytes(), CONTENT_TYPES[path.suffix]
    except OSError:
        return None


def web_routes(root: Path = WEB) -> dict[str, HttpRoute]:
    """Routes for WebSocketServer(extra_routes=...). The server matches exact paths, so every page
    and static file gets its own route; files are read once here, never on the event loop."""

    def serve(body: bytes, content_type: str) -> HttpRoute:
        async def route(request: Request) -> Response:
            return _respond(http.HTTPStatus.OK, body, content_type)
        return route

    routes: dict[str, HttpRoute] = {}
    for path, name in PAGES.items():
        found = static_file(name, root)
        if found is not None:
            routes[path] = serve(*found)
    for file in sorted(root.iterdir()):
        found = static_file(file.name, root) if file.suffix != ".html" else None
        if found is not None:
            routes[f"/static/{file.name}"] = serve(*found)
    return routes
