"""The action declarations offered to an OpenAI-compatible LLM as tools (function calling).

Asked only when no rule routes a turn but the turn looks like an action's business (its intent is
one an action names, or it carries an action's value, such as an order number), so knowledge
questions do not wait on the model. What the model proposes is only a starting point: the name
must be a declared action, each argument a declared parameter that passes that parameter's
pattern, and the flow then reads back, confirms and verifies exactly as for rule-routed turns.
The model sees the masked turn only. A slow, failing or rambling model means "no tool": the
turn goes on to the knowledge base.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from gateway.core.actions.declarations import Action, ActionCatalog
from gateway.core.actions.flow import MAX_ANSWER_CHARS

SYSTEM = ("You route a shop customer's message to one of the given tools when the customer asks "
          "for that operation. Fill only arguments the customer actually said. If no tool fits, "
          "answer with no tool call.")
MAX_RESPONSE_BYTES = 64 * 1024


@dataclass(frozen=True)
class ToolChoice:
    outcome: str  # "chosen" | "none" | "timeout" | "error"
    latency_ms: float
    action: Action | None = None
    values: dict[str, str] = field(default_factory=dict)

    def record(self) -> dict[str, object]:
        return {"outcome": self.outcome, "latency_ms": round(self.latency_ms, 1),
                "action": self.action.name if self.action else ""}


class ToolRouter:
    def __init__(self, catalog: ActionCatalog, *, url: str, model: str, api_key: str = "",
                 timeout_s: float = 2.0) -> None:
        self.catalog, self.model, self.timeout_s = catalog, model, timeout_s
        self._url = url.rstrip("/") + "/chat/completions"
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.AsyncClient(headers=headers, limits=httpx.Limits(max_connections=8))
        self._tools = [a.tool() for a in catalog.actions]
        self._intents = {i for a in catalog.actions for i in a.intents}

    def worth_asking(self, intent: str, has_value: bool) -> bool:
        return intent in self._intents or has_value

    async def aclose(self) -> None:
        await self._http.aclose()

    async def choose(self, text: str) -> ToolChoice:
        started = time.perf_counter()

        def done(outcome: str, action: Action | None = None,
                 values: dict[str, str] | None = None) -> ToolChoice:
            return ToolChoice(outcome, (time.perf_counter() - started) * 1000, action, values or {})

        body = {"model": self.model, "temperature": 0, "max_tokens": 200, "tool_choice": "auto",
                "tools": self._tools, "messages": [{"role": "system", "content": SYSTEM},
                                                   {"role": "user", "content": text[:MAX_ANSWER_CHARS * 5]}]}
        try:
            async with asyncio.timeout(self.timeout_s):
                response = await self._http.post(self._url, json=body, timeout=self.timeout_s)
        except (TimeoutError, httpx.TimeoutException):
            return done("timeout")
        except httpx.HTTPError:
            return done("error")
        if response.status_code != 200 or len(response.content) > MAX_RESPONSE_BYTES:
            return done("error")
        try:
            call = _first_call(response.json())
        except (ValueError, KeyError, TypeError, IndexError):
            return done("error")
        if call is None:
            return done("none")
        name, arguments = call
        action = self.catalog.by_name(name)
        if action is None:
            return done("none")  # a tool it was never offered
        return done("chosen", action, _checked(action, arguments))


def _first_call(data: Any) -> tuple[str, dict[str, Any]] | None:
    calls = data["choices"][0]["message"].get("tool_calls") or []
    if not calls:
        return None
    function = calls[0]["function"]
    arguments = function.get("arguments") or "{}"
    parsed = json.loads(arguments) if isinstance(arguments, str) else arguments
    if not isinstance(parsed, dict):
        raise ValueError("arguments are not an object")
    return str(function["name"]), parsed


def _checked(action: Action, arguments: dict[str, Any]) -> dict[str, str]:
    """Only declared parameters, as text, each through its own pattern when it has one."""
    values: dict[str, str] = {}
    for param in action.parameters:
        raw = arguments.get(param.name)
        if isinstance(raw, bool) or not isinstance(raw, str | int | float):
            continue
        value = str(raw).strip()[:MAX_ANSWER_CHARS]
        if param.pattern is not None:
            m = param.pattern.search(value)
            if m is None:
                continue  # the model's guess does not look like this parameter: ask the caller
            value = m.group(1) if m.groups() and m.group(1) else m.group()
            value = value.upper() if param.type == "order_number" else value
        if value:
            values[param.name] = value
    return values
