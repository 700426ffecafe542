"""LanguageModel adapter: any OpenAI-compatible chat endpoint (vLLM, llama.cpp server, Ollama, hosted).

POST {url}/chat/completions with stream=true and reads the server-sent events. Blocking (httpx
sync client): run stream() in a worker thread. Connect/read timeouts per request; every failure
(refused, timeout, HTTP error, malformed or truncated stream) is a BackendError the core turns
into its grounded fallback.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from contracts.errors import BackendError
from models.base import ChatMessage

MAX_LINE_BYTES = 64 * 1024  # one SSE line; a server sending more is broken or hostile
MAX_PIECES = 4096


class OpenAICompatibleModel:
    def __init__(self, *, url: str, model: str, api_key: str = "", connect_timeout: float = 2.0,
                 read_timeout: float = 10.0) -> None:
        import httpx

        self.name = f"openai:{model}"
        self._url = url.rstrip("/") + "/chat/completions"
        self._model = model
        headers = {"Accept": "text/event-stream"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._client = httpx.Client(headers=headers, timeout=httpx.Timeout(
            read_timeout, connect=connect_timeout))

    def stream(self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float
               ) -> Iterator[str]:
        import httpx

        body = {"model": self._model, "stream": True, "max_tokens": max_tokens, "temperature": temperature,
                "messages": [{"role": m.role, "content": m.content} for m in messages]}
        done = False
        try:
            with self._client.stream("POST", self._url, json=body) as response:
                if response.status_code != 200:
                    raise BackendError(f"LLM server answered HTTP {response.status_code}",
                                       code="llm-http-error")
                pieces = 0
                for line in response.iter_lines():
                    if len(line) > MAX_LINE_BYTES:
                        raise BackendError("LLM server sent an oversized event", code="llm-bad-stream")
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        done = True
                        break
                    piece = _content(data)
                    if piece:
                        pieces += 1
                        if pieces > MAX_PIECES:
                            raise BackendError("LLM stream too long", code="llm-bad-stream")
                        yield piece
        except httpx.TimeoutException as exc:
            raise BackendError(f"LLM server timed out: {exc!r}", code="llm-timeout") from exc
        except httpx.HTTPError as exc:
            raise BackendError(f"LLM server failed: {exc!r}", code="llm-unreachable") from exc
        if not done:
            raise BackendError("LLM stream ended without [DONE]", code="llm-bad-stream")

    def close(self) -> None:
        self._client.close()


def _content(data: str) -> str:
    try:
        event: Any = json.loads(data)
        choice = event["choices"][0]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise BackendError(f"LLM server sent a malformed event: {data[:80]!r}",
                           code="llm-bad-stream") from exc
    if not isinstance(choice, dict):
        raise BackendError("LLM server sent a malformed choice", code="llm-bad-stream")
    delta = choice.get("delta") or {}
    content = delta.get("content") if isinstance(delta, dict) else None
    return content if isinstance(content, str) else ""
