"""Settings of the sign-language input (the lead wires them into gateway/config.py)."""

from __future__ import annotations

from dataclasses import dataclass

from contracts.errors import ConfigError


@dataclass(frozen=True)
class SignSettings:
    sample_fps: float = 15.0  # frames tracked per second of media time; faster frames are dropped
    max_frame_bytes: int = 2_000_000  # one JPEG frame
    max_pixels: int = 1920 * 1080  # decoded frame size cap
    min_side: int = 32  # smaller frames cannot hold a trackable hand
    min_confidence: float = 0.45  # per-frame class probability to count a frame at all
    dwell_ms: int = 300  # a handshape held this long becomes a letter/sign
    repeat_gap_ms: int = 250  # the same letter twice needs a break (other shape or no hands) this long
    word_gap_ms: int = 700  # a pause (hands at rest or off camera) this long ends a spelled word
    rest_ms: int = 1200  # hands at rest this long ends the turn
    motion_window_ms: int = 900  # trajectory looked at for J, Z, YES, WHERE
    readback_threshold: float = 0.75  # turns below this mean confidence are read back
    max_tokens: int = 64  # tokens per turn: beyond this the turn is ended early
    max_hands: int = 2
    seq_window_ms: int = 1500  # landmarks the sequence model reads for a movement (J, Z, words)
    motion_threshold: float = 0.8  # sequence-model probability to accept a movement
    seq_confirm: int = 2  # frames in a row that must agree on the movement
    lexicon_words: tuple[str, ...] = ()  # a deployment's own spelled words (names, products)

    def validate(self) -> None:
        problems = []
        if not 1.0 <= self.sample_fps <= 60.0:
            problems.append(f"sample_fps must be 1..60, got {self.sample_fps}")
        if not 1_000 <= self.max_frame_bytes <= 50_000_000:
            problems.append(f"max_frame_bytes must be 1 kB..50 MB, got {self.max_frame_bytes}")
        if not 1_024 <= self.max_pixels <= 40_000_000:
            problems.append(f"max_pixels must be 1024..40M, got {self.max_pixels}")
        if not 8 <= self.min_side <= 1024:
            problems.append(f"min_side must be 8..1024, got {self.min_side}")
        if not 0.0 < self.min_confidence < 1.0:
            problems.append(f"min_confidence must be in (0, 1), got {self.min_confidence}")
        if not 0.0 < self.readback_threshold <= 1.0:
            problems.append(f"readback_threshold must be in (0, 1], got {self.readback_threshold}")
        if not 0.0 < self.motion_threshold <= 1.0:
            problems.append(f"motion_threshold must be in (0, 1], got {self.motion_threshold}")
        if not 1 <= self.seq_confirm <= 10:
            problems.append(f"seq_confirm must be 1..10, got {self.seq_confirm}")
        if len(self.lexicon_words) > 100_000:
            problems.append("lexicon_words holds more than 100000 words")
        windows = ("dwell_ms", "repeat_gap_ms", "word_gap_ms", "rest_ms", "motion_window_ms", "seq_window_ms")
        for name in windows:
            value = getattr(self, name)
            if not 0 < value <= 10_000:
                problems.append(f"{name} must be 1..10000 ms, got {value}")
        if self.word_gap_ms >= self.rest_ms:
            problems.append("word_gap_ms must be shorter than rest_ms (a turn ends after its last word)")
        if not 1 <= self.max_tokens <= 1_000:
            problems.append(f"max_tokens must be 1..1000, got {self.max_tokens}")
        if self.max_hands not in (1, 2):
            problems.append(f"max_hands must be 1 or 2, got {self.max_hands}")
        if problems:
            raise ConfigError("invalid [sign] settings: " + "; ".join(problems))
