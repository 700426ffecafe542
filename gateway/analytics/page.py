"""GET /admin/report: the last `gateway report` page, behind an agent or admin credential.

The serving process never computes a report (clustering embeds, and the stores can be large):
`gateway report` runs as a batch job (cron, a Kubernetes CronJob) and writes its HTML beside the
transcript store, one file for every tenant (`reports/report.html`, admins only) and one per
tenant (`reports/report.<tenant>.html`, `gateway report --tenant T`). This route hands the
caller's tenant its own file: an agent of tenant T gets report.T.html, an admin may name any
tenant with ?tenant=T or none for the all-tenant file. Credentials as for the WebSocket
(`Authorization: Bearer`, `X-API-Key` or ?access_token=); the file is read in a worker thread.
"""

from __future__ import annotations

import asyncio
import http
import time
from pathlib import Path

from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from gateway.config import Settings
from gateway.security.auth import ANY_TENANT, authenticate, check_tenant, http_status, query_of
from gateway.security.settings import TENANT_NAME
from gateway.security.tokens import AuthError
from gateway.transports.websocket import HttpRoute, json_response

ROUTE = "/admin/report"
MAX_PAGE_BYTES = 8 * 1024 * 1024
# The page is self-contained: inline styles and SVG, no script, nothing from elsewhere.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"


def report_file(store_path: str, tenant: str | None) -> Path:
    """Where `gateway report` writes (and this route reads) the page of one tenant, or of all."""
    folder = Path(store_path).parent / "reports"
    return folder / (f"report.{tenant}.html" if tenant else "report.html")


def _read(path: Path) -> bytes | None:
    try:
        if not path.is_file() or path.stat().st_size > MAX_PAGE_BYTES:
            return None
        return path.read_bytes()
    except OSError:
        return None


def report_routes(settings: Settings) -> dict[str, HttpRoute]:
    async def route(request: Request) -> Response:
        try:
            query = query_of(request.path)
            principal = authenticate(request.headers, query, settings.security, now=time.time())
            if principal.role not in ("agent", "admin"):
                raise AuthError("the report needs an agent or admin credential", code="role-forbidden")
            tenant = query.get("tenant") or (None if principal.tenant == ANY_TENANT else principal.tenant)
            if tenant is None:
                pass  # every tenant's report: only a principal of every tenant gets here
            elif TENANT_NAME.fullmatch(tenant) is None:
                raise AuthError("tenant: letters, digits, '_', '.', '-'; at most 64", code="tenant-forbidden")
            else:
                check_tenant(principal, tenant)
        except AuthError as exc:
            return json_response(http_status(exc), {"type": "error", "code": exc.code,
                                                    "message": exc.message})
        body = await asyncio.to_thread(_read, report_file(settings.store.path, tenant))
        if body is None:
            return json_response(http.HTTPStatus.NOT_FOUND, {
                "type": "error", "code": "report-missing",
                "message": "no report yet: run `gateway report --since 7d"
                           + (f" --tenant {tenant}`" if tenant else "`")})
        headers = Headers([("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body))),
                           ("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff"),
                           ("Content-Security-Policy", CSP), ("Referrer-Policy", "no-referrer")])
        return Response(http.HTTPStatus.OK.value, http.HTTPStatus.OK.phrase, headers, body)

    return {ROUTE: route}
