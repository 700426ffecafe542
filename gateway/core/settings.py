"""Settings of the conversation core (wired into gateway.config by the lead as [core])."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from gateway.errors import ConfigError
from gateway.security.settings import TENANT_NAME

BACKENDS = ("grounded", "llama", "openai")
TENANT_KB_FALLBACKS = ("shared", "none")


def bundled_kb_folder() -> Path:
    """The sample knowledge base (and its intent catalog): samples/kb in a checkout; installed from
    a wheel, it is data under the prefix (pyproject.toml, data-files)."""
    checkout = Path(__file__).resolve().parents[2] / "samples" / "kb"
    installed = Path(sys.prefix) / "share" / "cc-gateway" / "kb"
    return checkout if checkout.is_dir() or not installed.is_dir() else installed


@dataclass(frozen=True)
class CoreSettings:
    kb_path: str = ""  # folder of knowledge documents; "" = the bundled samples/kb
    db_path: str = "var/kb.sqlite3"  # the knowledge index (SQLite); ":memory:" keeps it in RAM only
    # Tenancy: each tenant's folder is indexed at start into kb.<tenant>.sqlite3 beside db_path, and
    # its sessions search that index only.
    tenant_kb_root: str = ""  # one subfolder per tenant, its own knowledge base; "" = all use kb_path
    tenant_kb_fallback: str = "shared"  # a tenant without one: "shared" (kb_path) or "none" (no knowledge)
    records_path: str = "var/core.sqlite3"  # feedback and the masked per-turn event log
    backend: str = "grounded"  # "grounded" (no LLM) | "llama" (embedded) | "openai" (HTTP)
    embeddings: bool = True  # hybrid retrieval: BM25 + multilingual sentence embeddings
    min_score: float = 0.25  # fused retrieval score below which the core has no answer
    top_k: int = 3  # passages handed to the phraser
    openai_url: str = "http://127.0.0.1:8000/v1"
    openai_model: str = "qwen2.5"
    openai_api_key: str = ""  # sent as a Bearer token when set
    llm_timeout_s: float = 4.0  # whole-turn budget for an LLM; past it the grounded answer is used
    llm_first_token_s: float = 2.0  # time to the first token before falling back
    llm_max_tokens: int = 120
    llm_threads: int = 1  # 2 threads collapse to ~1 token/s when the cores are shared (spin-waits)
    window_turns: int = 6  # recent turns kept verbatim; older ones fold into the summary
    frustration_turns: int = 2  # consecutive negative turns that hand the caller to a person
    risk_amount: float = 5000.0  # transfers at or above this need step-up verification
    feedback: bool = True  # ask "did this solve your problem?" after an answered question
    agent_queue_size: int = 32
    max_turn_chars: int = 2000  # longer turns are cut (a screenshot can carry a lot of text)
    actions_path: str = ""  # YAML backend actions (docs/actions.md), e.g. samples/actions; "" = none
    tenant_actions_root: str = ""  # one subfolder per tenant: its own actions instead of actions_path
    # Understanding (gateway/core/nlu): the intent catalog beside the knowledge base and its weights.
    intent_catalog: str = ""  # "" = intents.yaml in kb_path, else the bundled samples/kb/intents.yaml
    intent_model_path: str = "var/intents.npz"  # trained at start when missing or stale
    # With backend "openai": the LLM picks among the classifier's top-k intents when it is unsure.
    intent_llm_pick: bool = True
    intent_llm_top_k: int = 3
    answer_min_semantic: float = 0.2  # a passage answers only if its meaning agrees this much (cosine)

    def validate(self) -> CoreSettings:
        _check(self.backend in BACKENDS, f"core.backend must be one of {BACKENDS}, got {self.backend!r}")
        _check(0.0 <= self.min_score <= 1.0, "core.min_score must be 0..1")
        _check(1 <= self.top_k <= 10, "core.top_k must be 1..10")
        _check(0.2 <= self.llm_timeout_s <= 60.0, "core.llm_timeout_s must be 0.2..60")
        _check(0.1 <= self.llm_first_token_s <= self.llm_timeout_s,
               "core.llm_first_token_s must be 0.1..core.llm_timeout_s")
        _check(16 <= self.llm_max_tokens <= 1024, "core.llm_max_tokens must be 16..1024")
        _check(1 <= self.llm_threads <= 16, "core.llm_threads must be 1..16")
        _check(2 <= self.window_turns <= 50, "core.window_turns must be 2..50")
        _check(1 <= self.frustration_turns <= 10, "core.frustration_turns must be 1..10")
        _check(self.risk_amount > 0, "core.risk_amount must be positive")
        _check(1 <= self.agent_queue_size <= 10_000, "core.agent_queue_size must be 1..10000")
        _check(100 <= self.max_turn_chars <= 20_000, "core.max_turn_chars must be 100..20000")
        _check(0.0 <= self.answer_min_semantic <= 1.0, "core.answer_min_semantic must be 0..1")
        _check(bool(self.intent_model_path), "core.intent_model_path must not be empty")
        _check(1 <= self.intent_llm_top_k <= 10, "core.intent_llm_top_k must be 1..10")
        if self.intent_catalog:
            _check(Path(self.intent_catalog).is_file(),
                   f"core.intent_catalog {self.intent_catalog!r} is not a file")
        _check(bool(self.db_path) and bool(self.records_path),
               "core.db_path and core.records_path must not be empty (use ':memory:')")
        if self.backend == "openai":
            _check(self.openai_url.startswith(("http://", "https://")),
                   "core.openai_url must start with http:// or https://")
            _check(bool(self.openai_model), "core.openai_model must not be empty")
        if self.kb_path:
            _check(Path(self.kb_path).exists(), f"core.kb_path {self.kb_path!r} does not exist")
        _check(self.tenant_kb_fallback in TENANT_KB_FALLBACKS, f"core.tenant_kb_fallback must be one of "
               f"{TENANT_KB_FALLBACKS}, got {self.tenant_kb_fallback!r}")
        _check(self.tenant_kb_fallback == "shared" or bool(self.tenant_kb_root),
               "core.tenant_kb_fallback = 'none' needs core.tenant_kb_root (else no tenant has knowledge)")
        self.tenant_kb_folders()  # checks the root and every tenant folder name
        if self.actions_path or self.tenant_actions_root:  # a bad action file stops the start with
            from gateway.core.actions.declarations import load_catalog  # one line naming file and entry

            folders: list[str | Path] = [self.actions_path] if self.actions_path else []
            for folder in [*folders, *self.tenant_actions_folders().values()]:
                load_catalog(folder)
        return self

    def tenant_actions_folders(self) -> dict[str, Path]:
        """Tenant -> its own action files: the subfolders of tenant_actions_root."""
        if not self.tenant_actions_root:
            return {}
        root = Path(self.tenant_actions_root)
        _check(root.is_dir(), f"core.tenant_actions_root {self.tenant_actions_root!r} is not a folder")
        folders: dict[str, Path] = {}
        for entry in sorted(root.iterdir()):
            if entry.name.startswith(".") or not entry.is_dir():
                continue
            _check(TENANT_NAME.fullmatch(entry.name) is not None,
                   f"core.tenant_actions_root: folder {entry.name[:80]!r} is not a tenant name")
            folders[entry.name] = entry
        return folders

    def kb_folder(self) -> Path:
        return Path(self.kb_path) if self.kb_path else bundled_kb_folder()

    def tenant_kb_folders(self) -> dict[str, Path]:
        """Tenant -> its own knowledge folder: the subfolders of tenant_kb_root (hidden ones and
        plain files, such as a README, are skipped)."""
        if not self.tenant_kb_root:
            return {}
        root = Path(self.tenant_kb_root)
        _check(root.is_dir(), f"core.tenant_kb_root {self.tenant_kb_root!r} is not a folder")
        folders: dict[str, Path] = {}
        for entry in sorted(root.iterdir()):
            if entry.name.startswith(".") or not entry.is_dir():
                continue
            _check(TENANT_NAME.fullmatch(entry.name) is not None,
                   f"core.tenant_kb_root: folder {entry.name[:80]!r} is not a tenant name "
                   "(letters, digits, '_', '.', '-'; at most 64)")
            folders[entry.name] = entry
        return folders

    def tenant_intent_model_path(self, tenant: str) -> Path:
        path = Path(self.intent_model_path)
        return path.with_name(f"{path.stem}.{tenant}{path.suffix}")

    def tenant_db_path(self, tenant: str) -> str:
        """The index file of one tenant's knowledge: var/kb.sqlite3 -> var/kb.<tenant>.sqlite3."""
        if self.db_path == ":memory:":
            return ":memory:"
        path = Path(self.db_path)
        return str(path.with_name(f"{path.stem}.{tenant}{path.suffix}"))


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)
