"""A caller turn, whatever the channel and modality: what every modality produces and the
conversation core answers (gateway.core.api re-exports it)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Modality = Literal["speech", "text", "screen", "sign", "dtmf"]


@dataclass(frozen=True)
class TextTurn:
    text: str
    language: str  # ISO 639-1 ("en", "zh"); "" when unknown
    modality: Modality
    detail: Mapping[str, Any] = field(default_factory=dict)  # e.g. screenshot fields, sign confidence
