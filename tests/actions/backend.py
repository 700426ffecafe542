"""A real HTTP order service on 127.0.0.1 (a free port), run on a thread by the tests.

Not a mock object: the core reaches it over a socket through its own HTTP client. `mode` makes it
misbehave on purpose: "ok", "slow" (answers after `delay_s`), "500", "garbage" (not JSON),
"flap" (500 on every other request).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.conftest import SAMPLES

ORDERS = {"A1029": {"status": "shipped", "shipped_on": "2024-05-12", "tracking": "1Z999AA10123456784",
                    "eta": "2024-05-16"}}
PROMOTIONS = {"headphones": {"title": "buy the headphones, get the earbuds case", "saving": 50,
                             "ends": "2024-06-30"}}


class Backend:
    def __init__(self) -> None:
        self.mode = "ok"
        self.delay_s = 0.0
        self.requests: list[tuple[str, str, dict[str, Any]]] = []  # (method, path, body)
        self.returns: list[dict[str, Any]] = []
        self.addresses: list[dict[str, Any]] = []
        self.llm_requests: list[dict[str, Any]] = []  # tool-calling requests the core sent
        self.llm_reply: dict[str, Any] = {"choices": [{"message": {"role": "assistant", "content": "no"}}]}
        self.llm_delay_s = 0.0
        self._lock = threading.Lock()
        backend = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # quiet test output
                pass

            def _reply(self, status: int, body: bytes, kind: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}") if length else {}
                with backend._lock:
                    backend.requests.append((method, self.path, body))
                    count = len(backend.requests)
                if self.path == "/v1/chat/completions":  # an OpenAI-compatible LLM server
                    if "tools" not in body:
                        return self._reply(400, b'{"error": "this fake only routes"}')  # phrasing: fallback
                    backend.llm_requests.append(body)
                    time.sleep(backend.llm_delay_s)
                    return self._reply(200, json.dumps(backend.llm_reply).encode())
                mode = backend.mode
                if mode == "slow":
                    time.sleep(backend.delay_s)
                if mode == "500" or (mode == "flap" and count % 2 == 0):
                    return self._reply(500, b'{"error": "internal"}')
                if mode == "garbage":
                    return self._reply(200, b"<html>Service Unavailable</html>", "text/html")
                self._route(method, self.path, body)

            def _route(self, method: str, path: str, body: dict[str, Any]) -> None:
                parts = path.split("?")[0].strip("/").split("/")
                if method == "GET" and parts[:2] == ["api", "orders"] and len(parts) == 3:
                    order = ORDERS.get(parts[2])
                    if order is None:
                        return self._reply(404, b'{"error": "no such order"}')
                    return self._reply(200, json.dumps(order).encode())
                if method == "POST" and parts == ["api", "returns"]:
                    backend.returns.append(body)
                    return self._reply(201, json.dumps({"return_id": f"R-{len(backend.returns):04d}",
                                                        "label_by": "2024-05-20"}).encode())
                if method == "POST" and parts[:2] == ["api", "orders"] and parts[3:] == ["address"]:
                    backend.addresses.append({"order": parts[2], **body})
                    return self._reply(200, b'{"arrives": "2024-05-17"}')
                if method == "GET" and parts == ["api", "promotions"]:
                    product = path.partition("product=")[2].split("&")[0]
                    promo = PROMOTIONS.get(product)
                    return self._reply(200, json.dumps(promo).encode()) if promo else self._reply(404, b"{}")
                return self._reply(400, b'{"error": "bad request"}')

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api"
        self.llm_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.server.serve_forever, name="order-service", daemon=True)

    def start(self) -> Backend:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def running_backend() -> Iterator[Backend]:
    backend = Backend().start()
    try:
        yield backend
    finally:
        backend.stop()


def actions_file(folder: Path, url: str, *, timeout_s: float = 2.0, failures: int = 3,
                 experiment: str = "") -> Path:
    """The shipped samples/actions/shop.yaml pointed at the test's service."""
    text = (SAMPLES / "actions" / "shop.yaml").read_text(encoding="utf-8")
    text = text.replace("http://127.0.0.1:8091/api", url)
    text = text.replace("timeout_s: 2.0", f"timeout_s: {timeout_s}")
    text = text.replace("timeout_s: 1.5", f"timeout_s: {timeout_s}")
    text = text.replace("breaker: {failures: 3, reset_s: 30}",
                        f"breaker: {{failures: {failures}, reset_s: 30}}")
    if experiment:
        text = text.replace("# experiment: {name: offers-2024-05, tenants: []}",
                            f"experiment: {{name: {experiment}}}")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "shop.yaml"
    path.write_text(text, encoding="utf-8")
    return folder
