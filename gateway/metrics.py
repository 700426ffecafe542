"""Prometheus metrics of one gateway process, on its own registry (no module-level state)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.85, 1.0, 1.2, 1.5, 2.0, 3.0, 5.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.sessions_active = Gauge("gateway_sessions_active", "Live sessions", ["channel"], registry=r)
        self.sessions_total = Counter("gateway_sessions_total", "Sessions opened", ["channel"], registry=r)
        self.sessions_rejected = Counter("gateway_sessions_rejected_total", "Sessions refused (busy)",
                                         registry=r)
        self.errors = Counter("gateway_errors_total", "Error events by code", ["code"], registry=r)
        self.stage = Histogram("gateway_stage_seconds", "Time per pipeline stage", ["stage"],
                               buckets=LATENCY_BUCKETS, registry=r)
        self.reply_latency = Histogram("gateway_reply_latency_seconds",
                                       "End of caller speech to first reply audio frame",
                                       buckets=LATENCY_BUCKETS, registry=r)
        self.barge_ins = Counter("gateway_barge_ins_total", "Replies stopped by the caller", registry=r)
        self.prepared_turns = Counter("gateway_prepared_turns_total", "Spoken turns whose understanding "
                                      "had started in the caller's pause (yes) or not (no)", ["prepared"],
                                      registry=r)
        self.handoffs = Counter("gateway_handoffs_total", "Handoffs to a person", ["reason"], registry=r)
        self.dropped_inputs = Counter("gateway_dropped_inputs_total", "Inputs dropped: inbox full",
                                      ["channel"], registry=r)
        self.dropped_frames = Counter("gateway_dropped_video_frames_total",
                                      "Camera frames dropped: a newer frame replaced them", registry=r)
        self.empty_turns = Counter("gateway_empty_turns_total",
                                   "Speech turns in which ASR found no words", registry=r)
        self.session_language = Counter("gateway_session_language_total",
                                        "Sessions with language auto: spoken language detected (once, "
                                        "early) or switched (another language heard with confidence)",
                                        ["event"], registry=r)
        # Sampled when /metrics is read (Gateway wires each queue to a function).
        self.queue_depth = Gauge("gateway_queue_depth", "Items waiting, by queue (session-inbox, "
                                 "session-outbox: all live sessions; store-backlog; agent-queue)",
                                 ["queue"], registry=r)
        # The transcript store, sampled when /metrics is read (Gateway wires them).
        self.store_up = Gauge("gateway_store_up", "1 while the transcript store writes normally, 0 while "
                              "degraded (backend failing, writer restarting, journal unwritable)", registry=r)
        self.store_dead_letters = Gauge("gateway_store_dead_letters",
                                        "Records the store refused, set aside for `gateway ops store-replay`",
                                        registry=r)
        self.store_dropped = Gauge("gateway_store_dropped_records",
                                   "Records lost since start: journal over its cap or unwritable", registry=r)
        self.store_writer_restarts = Gauge("gateway_store_writer_restarts",
                                           "Times the store's writer died and was restarted", registry=r)
        self.dropped_events = Counter("gateway_dropped_events_total",
                                      "Events dropped: consumer stalled", registry=r)

        # Admission (gateway/capacity.py), sampled when /metrics is read (Gateway wires them).
        self.admitting = Gauge("gateway_admitting", "1 while this node admits new sessions, 0 while it "
                               "answers busy (over capacity, full, starting or draining)", registry=r)
        self.headroom = Gauge("gateway_capacity_headroom", "0..1: 1 - the highest load signal over its "
                              "busy threshold (CPU, loop lag, inbox, engine backlog, sessions)", registry=r)
        self.cpu_share = Gauge("gateway_cpu_share", "This process's CPU share of the node's cores, "
                               "averaged over admission.cpu_window_s", registry=r)
        self.loop_lag = Gauge("gateway_loop_lag_seconds", "How late the event loop's probe woke up",
                              registry=r)
        self.engine_backlog = Gauge("gateway_engine_backlog", "ASR/TTS calls waiting for a busy engine",
                                    registry=r)
        self.session_cost = Gauge("gateway_session_cost_cores", "Cores one live session is expected to use "
                                  "(admission.session_cost, then measured while loaded)", registry=r)
        self.predicted_load = Gauge("gateway_predicted_cpu_share", "Live sessions x session cost over the "
                                    "node's cores; new sessions are refused past admission.predict_busy",
                                    registry=r)
        self.asr_utterances = Gauge("gateway_asr_utterances", "Utterances (pause and final passes) given to "
                                    "an ASR engine, since start", registry=r)
        self.asr_calls = Gauge("gateway_asr_engine_calls", "ASR engine calls, since start (fewer than "
                               "utterances when sessions' passes were decoded together)", registry=r)
        # The shared clause cache of synthesized speech (gateway/engines.py), sampled when read.
        self.tts_cache_hits = Gauge("gateway_tts_cache_hits", "Reply pieces served from the clause cache "
                                    "(or from a synthesis already running for another caller), since start",
                                    registry=r)
        self.tts_cache_misses = Gauge("gateway_tts_cache_misses", "Reply pieces synthesized, since start",
                                      registry=r)
        self.tts_cache_bytes = Gauge("gateway_tts_cache_bytes", "Audio held by the clause cache", registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)
