"""A tenant's intent catalog: `intents.yaml` beside its knowledge base (format in the sample file).

Each intent has example utterances (en/zh) and a route: knowledge-base topics, a policy
(emergency, handoff, verify:<operation>) or an action (smalltalk, out-of-scope). A malformed
catalog raises CatalogError naming the file and the entry, which stops `intents train` and serve.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from gateway.errors import ConfigError

CATALOG_NAME = "intents.yaml"
ENRICHED_NAME = "intents.enriched.yaml"  # LLM paraphrases (`gateway intents enrich`), reviewed by a person
MAX_CATALOG_BYTES = 2 * 1024 * 1024
MAX_INTENTS = 500
MAX_EXAMPLES = 5000  # per intent
MAX_EXAMPLE_CHARS = 500
POLICIES = ("emergency", "handoff", "verify:large-transfer", "verify:change-payout-account",
            "verify:change-contact", "verify:close-account")
ACTIONS = ("smalltalk", "out-of-scope")
LANGUAGES = ("en", "zh")


class CatalogError(ConfigError):
    code = "intent-catalog-invalid"


@dataclass(frozen=True)
class Intent:
    name: str
    reports: str  # the intent the dialog state shows
    kb: tuple[str, ...] = ()  # document names (stem of the file, e.g. "returns")
    policy: str = ""
    action: str = ""
    examples: tuple[tuple[str, str], ...] = ()  # (language, text)


@dataclass(frozen=True)
class Catalog:
    path: Path
    intents: tuple[Intent, ...]
    sha256: str

    def get(self, name: str) -> Intent | None:
        return next((i for i in self.intents if i.name == name), None)

    def examples(self) -> tuple[list[str], list[str]]:
        texts, labels = [], []
        for intent in self.intents:
            for _, text in intent.examples:
                texts.append(text)
                labels.append(intent.name)
        return texts, labels


def default_catalog_path() -> Path:
    """The bundled catalog (the nine built-in intents), in a checkout or an installed wheel."""
    from gateway.core.settings import bundled_kb_folder

    return bundled_kb_folder() / CATALOG_NAME


def load_catalog(path: Path) -> Catalog:
    import yaml

    def fail(where: str, why: str) -> CatalogError:
        return CatalogError(f"intent catalog {path}: {where}: {why}")

    if not path.is_file():
        raise fail("file", "not found")
    raw_bytes = path.read_bytes()
    if len(raw_bytes) > MAX_CATALOG_BYTES:
        raise fail("file", f"larger than {MAX_CATALOG_BYTES} bytes")
    try:
        data = yaml.safe_load(raw_bytes.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise fail("file", f"not valid YAML ({str(exc).splitlines()[0][:120]})") from None
    if not isinstance(data, dict) or not isinstance(data.get("intents"), list) or not data["intents"]:
        raise fail("file", "expected a mapping with a non-empty list 'intents'")
    if len(data["intents"]) > MAX_INTENTS:
        raise fail("intents", f"more than {MAX_INTENTS}")
    intents: list[Intent] = []
    for n, entry in enumerate(data["intents"], start=1):
        intents.append(_intent(entry, n, fail))
    names = [i.name for i in intents]
    if dupes := sorted({x for x in names if names.count(x) > 1}):
        raise fail(f"intent {dupes[0]!r}", "defined twice")
    if sum(1 for i in intents if i.name != "oos") < 2:
        raise fail("intents", "at least two intents besides 'oos' are needed to train a classifier")
    digest = hashlib.sha256(raw_bytes)
    extra = path.with_name(ENRICHED_NAME)
    if extra.is_file():  # training uses the reviewed paraphrases; a change to them retrains too
        intents = _enriched(intents, extra, fail)
        digest.update(extra.read_bytes())
    return Catalog(path, tuple(intents), digest.hexdigest())


def _enriched(intents: list[Intent], extra: Path, fail: object) -> list[Intent]:
    """The catalog's intents with the examples of intents.enriched.yaml added (same format, names
    must be the catalog's; routes come from the catalog only)."""
    import yaml

    err = fail
    assert callable(err)
    raw = extra.read_bytes()
    if len(raw) > MAX_CATALOG_BYTES:
        raise err(extra.name, f"larger than {MAX_CATALOG_BYTES} bytes")
    try:
        data = yaml.safe_load(raw.decode("utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise err(extra.name, f"not valid YAML ({str(exc).splitlines()[0][:120]})") from None
    entries = data.get("intents") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise err(extra.name, "expected a mapping with a list 'intents'")
    by_name = {i.name: i for i in intents}
    added: dict[str, list[tuple[str, str]]] = {}
    for n, entry in enumerate(entries, start=1):
        name = entry.get("name") if isinstance(entry, dict) else None
        if name not in by_name:
            raise err(f"{extra.name} entry {n}", f"unknown intent {name!r}")
        examples = entry.get("examples") or {}
        if not isinstance(examples, dict):
            raise err(f"{extra.name} entry {n} ({name!r})", "examples must map a language to a list")
        for language, texts in examples.items():
            if language not in LANGUAGES or not isinstance(texts, list) or not all(
                    isinstance(t, str) and t.strip() for t in texts):
                raise err(f"{extra.name} entry {n} ({name!r})", f"examples.{language}: a list of strings")
            added.setdefault(name, []).extend((language, t.strip()[:MAX_EXAMPLE_CHARS]) for t in texts)
    out = []
    for intent in intents:
        more = tuple(e for e in added.get(intent.name, []) if e not in intent.examples)
        out.append(Intent(intent.name, intent.reports, intent.kb, intent.policy, intent.action,
                          (intent.examples + more)[:MAX_EXAMPLES]))
    return out


def _intent(entry: object, n: int, fail: object) -> Intent:
    err = fail  # typed below; a callable (where, why) -> CatalogError
    assert callable(err)
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"].strip():
        raise err(f"entry {n}", "needs a 'name'")
    name = entry["name"].strip()
    where = f"entry {n} ({name!r})"
    if len(name) > 64 or not name.replace("_", "").replace("-", "").isalnum():
        raise err(where, "name must be letters, digits, '_' or '-' (at most 64)")
    route = entry.get("route")
    if not isinstance(route, dict) or len(route) != 1 or next(iter(route)) not in ("kb", "policy", "action"):
        raise err(where, "route must be exactly one of {kb: [topics]}, {policy: ...}, {action: ...}")
    kind, value = next(iter(route.items()))
    kb: tuple[str, ...] = ()
    policy = action = ""
    if kind == "kb":
        if not isinstance(value, list) or not all(isinstance(t, str) and t for t in value):
            raise err(where, "route.kb must be a list of topic names")
        kb = tuple(value)
    elif kind == "policy":
        if value not in POLICIES:
            raise err(where, f"route.policy must be one of {POLICIES}, got {value!r}")
        policy = value
    else:
        if value not in ACTIONS:
            raise err(where, f"route.action must be one of {ACTIONS}, got {value!r}")
        action = value
    examples_raw = entry.get("examples")
    if not isinstance(examples_raw, dict) or not examples_raw:
        raise err(where, "examples must map a language (en, zh) to a list of utterances")
    examples: list[tuple[str, str]] = []
    for language, texts in examples_raw.items():
        if language not in LANGUAGES:
            raise err(where, f"examples: unknown language {language!r} (use {LANGUAGES})")
        if not isinstance(texts, list) or not all(isinstance(t, str) and t.strip() for t in texts):
            raise err(where, f"examples.{language} must be a list of non-empty strings")
        examples.extend((language, t.strip()[:MAX_EXAMPLE_CHARS]) for t in texts)
    if len(examples) < 2 or len(examples) > MAX_EXAMPLES:
        raise err(where, f"needs 2..{MAX_EXAMPLES} examples, has {len(examples)}")
    reports = entry.get("reports", name)
    if not isinstance(reports, str) or not reports:
        raise err(where, "reports must be an intent name")
    return Intent(name, reports, kb, policy, action, tuple(examples))
