"""OpenTelemetry traces: one `turn` span per caller turn, with a child span per pipeline stage.

A `Tracing` owns its own TracerProvider (none is installed globally, so two gateways in one
process, as in the tests, never share or replace each other's). With `exporter = "none"` it holds
a no-op tracer: every span is the shared non-recording span and costs next to nothing. With
"otlp", ended spans go to a bounded queue that a BatchSpanProcessor thread sends as OTLP/HTTP
protobuf, so the event loop never waits on the collector.

Attributes are identifiers and measurements only (session id, channel, tenant, modality, turn id,
language, backend, error code, durations, sizes): never the caller's words, and never an
exception's message (it may quote input), only its code or class name.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.trace import Span, Status, StatusCode

from gateway.errors import GatewayError
from gateway.tracing_settings import TracingSettings

Attributes = Mapping[str, str | bool | int | float]
__all__ = ["Tracing", "TracingSettings", "TurnTrace", "mark_failed", "untraced"]


class Tracing:
    """The process's tracer. `exporter` (tests) replaces the configured one: its spans are
    handed over synchronously as each ends."""

    def __init__(self, settings: TracingSettings | None = None, *,
                 exporter: SpanExporter | None = None) -> None:
        self.settings = settings or TracingSettings()
        self._provider: TracerProvider | None = None
        self._tracer: trace.Tracer = trace.NoOpTracer()
        if exporter is None and self.settings.exporter == "none":
            return
        processor = (SimpleSpanProcessor(exporter) if exporter is not None
                     else self._otlp_processor(self.settings))
        # shutdown_on_exit=False: the gateway closes it (flushing); an atexit hook would keep
        # every test's provider alive until the interpreter ends.
        self._provider = TracerProvider(
            resource=Resource.create({"service.name": self.settings.service_name}), shutdown_on_exit=False)
        self._provider.add_span_processor(processor)
        self._tracer = self._provider.get_tracer("cc-gateway")

    @staticmethod
    def _otlp_processor(settings: TracingSettings) -> BatchSpanProcessor:
        # Imported only when used: it brings protobuf and requests.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=settings.otlp_endpoint, timeout=settings.timeout_s)
        return BatchSpanProcessor(exporter, max_queue_size=settings.max_queue,
                                  max_export_batch_size=min(512, settings.max_queue),
                                  export_timeout_millis=settings.timeout_s * 1000)

    @property
    def enabled(self) -> bool:
        return self._provider is not None

    def turn(self, session_id: str, *, channel: str, tenant: str, modality: str) -> TurnTrace:
        """Starts the root span of one caller turn (its turn id and language are set later)."""
        return TurnTrace(self._tracer, {"session.id": session_id, "gateway.channel": channel,
                                        "gateway.tenant": tenant, "turn.modality": modality})

    def close(self) -> None:
        """Blocking: flushes queued spans (up to the export timeout) and stops the exporter."""
        if self._provider is not None:
            provider, self._provider = self._provider, None
            provider.shutdown()

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)


class TurnTrace:
    """One caller turn's spans. Methods are no-ops once the turn span has ended, so the several
    places that may end a turn (reply done, barge-in, next turn, session end) need no ordering."""

    def __init__(self, tracer: trace.Tracer, attributes: Attributes) -> None:
        self._tracer = tracer
        self.span = tracer.start_span("turn", context=Context(), attributes=attributes)
        self._context = trace.set_span_in_context(self.span, Context())
        self.ended = False

    def set(self, attributes: Attributes) -> None:
        if not self.ended:
            self.span.set_attributes(attributes)

    def event(self, name: str, attributes: Attributes | None = None) -> None:
        if not self.ended:
            self.span.add_event(name, attributes)

    def start_stage(self, name: str, attributes: Attributes | None = None) -> Span:
        """A child span the caller ends (for a stage that does not fit one `with` block)."""
        return self._tracer.start_span(name, context=self._context, attributes=attributes)

    @contextmanager
    def stage(self, name: str, attributes: Attributes | None = None) -> Iterator[Span]:
        span = self.start_stage(name, attributes)
        try:
            yield span
        except BaseException as exc:
            mark_failed(span, exc)
            raise
        finally:
            span.end()

    @contextmanager
    def ends_on_error(self) -> Iterator[None]:
        """An error (or cancel) inside the block ends the turn span with it, then propagates;
        success leaves the span open for whatever comes next in the turn."""
        try:
            yield
        except BaseException as exc:
            self.end(exc)
            raise

    def interrupted(self, reason: str) -> None:
        """The reply stopped before its end (reason: barge-in, next-turn, session-end). After the
        turn span has ended (all audio sent, the caller still hearing it) an instant child span
        records it instead."""
        attributes: Attributes = {"turn.interrupted": True, "turn.interrupted_by": reason}
        if not self.ended:
            self.span.set_attributes(attributes)
            self.span.add_event("interrupted", {"turn.interrupted_by": reason})
        else:
            self.start_stage("interrupted", attributes).end()

    def end(self, error: BaseException | None = None) -> None:
        if self.ended:
            return
        if error is not None:
            mark_failed(self.span, error)
        self.ended = True
        self.span.end()


def untraced() -> TurnTrace:
    """A turn trace that records nothing: a person's words or a repeated reply are not caller turns."""
    return TurnTrace(trace.NoOpTracer(), {})


def mark_failed(span: Span, exc: BaseException) -> None:
    """Records why a span ended early: a gateway error code, `cancelled`, or the class name."""
    if isinstance(exc, asyncio.CancelledError):
        span.set_attribute("cancelled", True)  # superseded or interrupted: not an error
        return
    code = exc.code if isinstance(exc, GatewayError) else type(exc).__name__
    span.set_attribute("error.type", code)
    span.set_status(Status(StatusCode.ERROR, code))
