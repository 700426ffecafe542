"""When the fast classifier is unsure, an LLM may pick the intent among its top candidates.

Only with an OpenAI-compatible backend configured (`core.backend = "openai"`, `core.intent_llm_pick`):
the model sees the caller's (masked) turn and the top-k catalog intents, each with two of its
examples, and answers one number (0 = none of them). Its choice goes through the same routes,
policies and grounding checks as the classifier's: it can only name a catalog intent, never write
the answer. Emergencies are decided before and without it. Any failure (timeout, HTTP error, an
answer that is not a listed number) leaves the classifier's reading as it was. Blocking: it runs in
the worker thread that reads the turn, bounded by the model's own read timeout and `deadline_s`.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence

from gateway.core.nlu.catalog import Intent
from gateway.errors import GatewayError
from models.base import ChatMessage, LanguageModel

log = logging.getLogger("gateway.core")
MAX_TURN_CHARS = 300
_NUMBER = re.compile(r"\d+")
SYSTEM = ("You route customer-service calls. Reply with one number only: the option that means what "
          "the caller wants, or 0 if none of them fits.")


def prompt(text: str, candidates: Sequence[Intent]) -> list[ChatMessage]:
    lines = [f'Caller: "{text[:MAX_TURN_CHARS]}"', "Options:"]
    for n, intent in enumerate(candidates, start=1):
        examples = "; ".join(f'"{t}"' for _, t in intent.examples[:2])
        lines.append(f"{n}. {intent.name.replace('_', ' ')} (e.g. {examples})")
    lines.append("0. none of these")
    lines.append("Answer with the number:")
    return [ChatMessage("system", SYSTEM), ChatMessage("user", "\n".join(lines))]


class LlmPicker:
    def __init__(self, model: LanguageModel, *, top_k: int = 3, deadline_s: float = 2.0) -> None:
        self.model, self.top_k, self.deadline_s = model, top_k, deadline_s

    def pick(self, text: str, candidates: Sequence[Intent]) -> Intent | bool | None:
        """The chosen intent, None for "none of these", False when the model gave no usable answer."""
        if not candidates:
            return False
        started = time.perf_counter()
        out = ""
        try:
            for piece in self.model.stream(prompt(text, candidates), max_tokens=4, temperature=0.0):
                out += piece
                if _NUMBER.search(out) or time.perf_counter() - started > self.deadline_s:
                    break
        except GatewayError as exc:  # BackendError and friends: the classifier's reading stands
            log.info("intent pick by LLM failed (%s): %s", exc.code, exc)
            return False
        match = _NUMBER.search(out)
        if match is None or int(match.group()) > len(candidates):
            log.info("intent pick by LLM unusable: %r", out[:40])
            return False
        n = int(match.group())
        return None if n == 0 else candidates[n - 1]
