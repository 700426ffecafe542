"""OpenTelemetry traces per turn: settings, the span model, and a real gateway exporting OTLP/HTTP
to a stand-in collector over a real socket."""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from gateway.cli.processes import free_port
from gateway.client import GatewayClient
from gateway.config import load_settings
from gateway.errors import BackendError, ConfigError
from gateway.store.transcripts import read_transcript
from gateway.tracing import Tracing, TracingSettings, untraced
from modalities.audio.files import read_audio
from tests.conftest import SAMPLES, GatewayThread, make_settings

# ---------------------------------------------------------------------------- settings


def test_tracing_is_off_by_default_and_set_by_environment():
    assert load_settings(environ={}).tracing.exporter == "none"
    s = load_settings(environ={"GATEWAY_TRACING__EXPORTER": "otlp",
                               "GATEWAY_TRACING__OTLP_ENDPOINT": "https://tempo.example:4318/v1/traces",
                               "GATEWAY_TRACING__MAX_QUEUE": "64"}).tracing
    assert (s.exporter, s.otlp_endpoint, s.max_queue) == ("otlp", "https://tempo.example:4318/v1/traces", 64)


@pytest.mark.parametrize("env,message", [
    ({"GATEWAY_TRACING__EXPORTER": "zipkin"}, "tracing.exporter must be one of"),
    ({"GATEWAY_TRACING__OTLP_ENDPOINT": "127.0.0.1:4318"}, "tracing.otlp_endpoint must be an http"),
    ({"GATEWAY_TRACING__OTLP_ENDPOINT": "http://"}, "tracing.otlp_endpoint must be an http"),
    ({"GATEWAY_TRACING__OTLP_ENDPOINT": "http://[::1/v1/traces"}, "tracing.otlp_endpoint must be an http"),
    ({"GATEWAY_TRACING__SERVICE_NAME": ""}, "tracing.service_name must be 1..128"),
    ({"GATEWAY_TRACING__TIMEOUT_S": "0"}, "tracing.timeout_s must be 0.1..60"),
    ({"GATEWAY_TRACING__MAX_QUEUE": "8"}, "tracing.max_queue must be 16..100000"),
    ({"GATEWAY_TRACING__MAX_QUEUE": "many"}, "tracing.max_queue must be int"),
    ({"GATEWAY_TRACING__SAMPLER": "always"}, "unknown setting tracing.sampler"),
])
def test_bad_tracing_settings_are_named(env, message):
    with pytest.raises(ConfigError) as info:
        load_settings(environ=env)
    assert message in str(info.value)


# ---------------------------------------------------------------------------- the span model


def test_disabled_tracing_records_nothing():
    tracing = Tracing(TracingSettings())
    assert not tracing.enabled
    turn = tracing.turn("s1", channel="websocket", tenant="acme", modality="text")
    with turn.stage("core") as core:
        pass
    assert not turn.span.is_recording() and not core.is_recording()
    assert not turn.span.get_span_context().is_valid
    turn.interrupted("barge-in")
    turn.end()
    tracing.close()
    assert not untraced().span.is_recording()


@pytest.fixture
def memory() -> Iterator[tuple[Tracing, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    tracing = Tracing(TracingSettings(service_name="unit"), exporter=exporter)
    yield tracing, exporter
    tracing.close()


def test_stages_are_children_of_the_turn_and_errors_carry_codes_not_messages(memory):
    tracing, exporter = memory
    turn = tracing.turn("s1", channel="sip", tenant="acme", modality="speech")
    turn.set({"turn.id": 3})
    with pytest.raises(BackendError), turn.stage("tts", {"gateway.backend": "piper"}):
        raise BackendError("could not say 'my card number is 4111'", code="tts-failed")
    with pytest.raises(asyncio.CancelledError), turn.stage("core"):
        raise asyncio.CancelledError
    turn.end()
    turn.end()  # idempotent: the reply task and the player may both end a turn
    turn.set({"late": True})  # ignored once ended
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert sorted(spans) == ["core", "tts", "turn"]
    root, tts, core = spans["turn"], spans["tts"], spans["core"]
    assert root.parent is None and root.resource.attributes["service.name"] == "unit"
    assert dict(root.attributes or {}) == {"session.id": "s1", "gateway.channel": "sip",
                                           "gateway.tenant": "acme", "turn.modality": "speech",
                                           "turn.id": 3}
    for child in (tts, core):
        assert child.parent is not None and child.parent.span_id == root.context.span_id
        assert child.context.trace_id == root.context.trace_id
    assert tts.status.status_code is StatusCode.ERROR and tts.attributes["error.type"] == "tts-failed"
    assert "4111" not in (tts.status.description or "")
    assert core.attributes["cancelled"] is True and core.status.status_code is not StatusCode.ERROR


def test_interruption_marks_an_open_turn_or_adds_a_child_to_an_ended_one(memory):
    tracing, exporter = memory
    producing = tracing.turn("s1", channel="websocket", tenant="t", modality="text")
    producing.interrupted("barge-in")
    producing.end(asyncio.CancelledError())
    heard = tracing.turn("s1", channel="websocket", tenant="t", modality="text")
    heard.end()
    heard.interrupted("next-turn")  # all audio was sent; the caller was still hearing it
    spans = exporter.get_finished_spans()
    first = next(s for s in spans if s.context.span_id == producing.span.get_span_context().span_id)
    assert first.attributes["turn.interrupted_by"] == "barge-in" and first.attributes["cancelled"] is True
    assert [e.name for e in first.events] == ["interrupted"]
    child = next(s for s in spans if s.name == "interrupted")
    assert child.parent is not None and child.parent.span_id == heard.span.get_span_context().span_id
    assert child.attributes["turn.interrupted_by"] == "next-turn"


def test_an_unreachable_collector_costs_a_bounded_shutdown():
    port = free_port()  # a port nobody listens on: connection refused
    tracing = Tracing(TracingSettings(exporter="otlp", otlp_endpoint=f"http://127.0.0.1:{port}/v1/traces",
                                      timeout_s=0.5))
    assert tracing.enabled
    turn = tracing.turn("s1", channel="websocket", tenant="t", modality="text")
    turn.end()
    started = time.perf_counter()
    tracing.close()
    assert time.perf_counter() - started < 5


# ---------------------------------------------------------------------------- end to end


class Collector:
    """A stand-in OTLP/HTTP collector: POST /v1/traces, protobuf bodies, spans kept in order."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self.requests = 0
        spans, lock = self.spans, threading.Lock()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path != "/v1/traces" or self.headers.get("Content-Type") != "application/x-protobuf":
                    self.send_error(404)
                    return
                request = ExportTraceServiceRequest.FromString(body)
                with lock:
                    collector.requests += 1
                    spans.extend(decode(request))
                reply = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:  # quiet test output
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1/traces"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def value(v: Any) -> Any:
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind else None


def decode(request: ExportTraceServiceRequest) -> list[dict[str, Any]]:
    out = []
    for resource_spans in request.resource_spans:
        resource = {a.key: value(a.value) for a in resource_spans.resource.attributes}
        for scope in resource_spans.scope_spans:
            for span in scope.spans:
                out.append({
                    "name": span.name, "trace_id": span.trace_id.hex(), "span_id": span.span_id.hex(),
                    "parent": span.parent_span_id.hex(), "start": span.start_time_unix_nano,
                    "end": span.end_time_unix_nano, "resource": resource,
                    "attributes": {a.key: value(a.value) for a in span.attributes},
                    "events": [(e.name, {a.key: value(a.value) for a in e.attributes}) for e in span.events],
                    "status": (span.status.code, span.status.message)})
    return out


@pytest.fixture
def collector() -> Iterator[Collector]:
    c = Collector()
    yield c
    c.close()


def every_string(span: dict[str, Any]) -> list[str]:
    strings = [span["name"], span["status"][1], *map(str, span["attributes"].values())]
    for name, attributes in span["events"]:
        strings += [name, *map(str, attributes.values())]
    return strings


@pytest.mark.e2e
@pytest.mark.slow
def test_each_turn_is_one_trace_exported_to_an_otlp_collector(tmp_path: Path, collector: Collector):
    base = make_settings(tmp_path)
    settings = dataclasses.replace(base, tracing=TracingSettings(
        exporter="otlp", otlp_endpoint=collector.url, service_name="cc-gateway-test", timeout_s=10))
    gateway = GatewayThread(settings, preload=False).start()
    try:
        audio, rate = read_audio(SAMPLES / "audio" / "en_question_returns.wav", max_bytes=10_000_000,
                                 max_seconds=60)
        screenshot = (SAMPLES / "screens" / "order_en.png").read_bytes()

        async def call() -> GatewayClient:
            async with GatewayClient(gateway.url, language="en") as client:
                await client.stream(audio, rate, realtime=False)
                await client.wait_for("turn.timing", timeout=120)
                await client.send_text("And how long does a refund take after that?")
                await client.wait_for("turn.timing", timeout=90, count=2)
                await client.send_image(screenshot, "image/png")
                await client.wait_for("turn.timing", timeout=120, count=3)
            return client

        client = asyncio.run(call())
    finally:
        gateway.stop()  # Gateway.aclose flushes the batch processor before the thread ends
    result = client.result
    assert result.errors == []
    finals = {e["turn_id"]: e for e in result.of("transcript.final")}
    assert [finals[t]["modality"] for t in sorted(finals)] == ["speech", "text", "screen"]
    stored = read_transcript(settings.store.path, result.session_id)
    assert stored is not None

    spans = collector.spans
    turns = {s["attributes"]["turn.id"]: s for s in spans if s["name"] == "turn"}
    assert sorted(turns) == sorted(finals), [s["name"] for s in spans]
    expected_stages = {"speech": {"asr", "core", "tts"}, "text": {"core", "tts"},
                       "screen": {"screen", "core", "tts"}}
    for turn_id, root in turns.items():
        attrs = root["attributes"]
        modality = finals[turn_id]["modality"]
        assert root["parent"] == "" and root["resource"]["service.name"] == "cc-gateway-test"
        assert attrs["session.id"] == result.session_id and attrs["gateway.channel"] == "websocket"
        assert attrs["gateway.tenant"] == stored["tenant"] and attrs["turn.modality"] == modality
        assert attrs["turn.language"] == "en" and attrs["reply.audio_ms"] > 0
        children = [s for s in spans if s["parent"] == root["span_id"]]
        assert all(c["trace_id"] == root["trace_id"] for c in children)
        assert expected_stages[modality] <= {c["name"] for c in children}, (modality, children)
        for child in children:
            if child["name"] != "interrupted":  # may follow the end of the turn (see below)
                assert root["start"] <= child["start"] <= child["end"] <= root["end"], child["name"]
        assert "reply.first_audio" in [name for name, _ in root["events"]]
        assert all(c["status"][0] != 2 for c in children)  # STATUS_CODE_ERROR
    speech = turns[min(turns)]
    assert "speech.end" in [name for name, _ in speech["events"]]
    asr = [s for s in spans if s["name"] == "asr" and s["parent"] == speech["span_id"]]
    assert all(s["attributes"]["gateway.backend"] == "tiny.en" for s in asr)
    screen = next(s for s in spans if s["name"] == "screen")
    assert screen["attributes"]["screen.kind"] == "order" and screen["attributes"]["screen.lines"] > 0
    # The trace agrees with the wire: a turn whose reply the client was told to drop
    # (audio.clear: a next turn or a barge-in cut it) is marked interrupted, and only those.
    cleared = {e["turn_id"] for e in result.of("audio.clear")}
    marked = {tid for tid, root in turns.items()
              if root["attributes"].get("turn.interrupted_by") in ("next-turn", "barge-in")}
    marked |= {tid for tid, root in turns.items() for s in spans
               if s["name"] == "interrupted" and s["parent"] == root["span_id"]
               and s["attributes"]["turn.interrupted_by"] != "session-end"}
    assert marked == cleared
    # PII-free: none of the caller's words (spoken, typed or on the screenshot) is in any span.
    words = {"return", "item", "refund", "a1029", "shipped", "jane"}
    assert any(w in " ".join(e["text"] for e in finals.values()).lower() for w in ("return", "refund"))
    leaked = {(s["name"], text) for s in spans for text in every_string(s) for w in words
              if w in text.lower()}
    assert not leaked
