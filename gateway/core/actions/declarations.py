"""Backend actions a tenant declares in YAML beside its knowledge base: load and validate.

A file holds `integrations` (a base URL, auth taken from the environment, timeout, retries, a
circuit breaker) and `actions` (what the caller can ask for, which intents and phrases route to
it, its parameters and where each one's value comes from, the HTTP call, whether it changes
anything, the result's fields and the reply templates in English and Chinese). Everything is
checked at start: any problem is a ConfigError of one line naming the file and the entry, so
`gateway serve` refuses to start on a bad file instead of failing in the middle of a call.
"""

from __future__ import annotations

import hashlib
import os
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.errors import ConfigError

LANGUAGES = ("en", "zh")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
PARAM_TYPES = ("string", "order_number", "product", "number", "amount", "date", "text")
FIELD_TYPES = ("string", "number", "money", "date", "day", "enum")
SOURCES = ("slot", "screen", "pattern", "caller")
STEP_UP = ("never", "always", "risk")
MAX_FILE_BYTES = 256 * 1024
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,47}$")

_INTEGRATION_KEYS = {"base_url", "label", "auth", "timeout_s", "retries", "breaker", "max_response_bytes"}
_AUTH_KEYS = {"bearer_env", "header", "value_env"}
_BREAKER_KEYS = {"failures", "reset_s"}
_ACTION_KEYS = {"description", "intents", "triggers", "integration", "method", "path", "changes",
                "step_up", "parameters", "result", "reply", "not_found"}
_PARAM_KEYS = {"type", "from", "ask", "required", "label"}
_FROM_KEYS = set(SOURCES)
_FIELD_KEYS = {"type", "values"}


@dataclass(frozen=True)
class Breaker:
    failures: int = 3  # consecutive failed calls that open the circuit
    reset_s: float = 30.0  # open this long, then one trial call


@dataclass(frozen=True)
class Integration:
    name: str
    base_url: str
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)  # auth (environment); not shown
    timeout_s: float = 3.0
    retries: int = 1  # extra attempts, for idempotent reads only
    breaker: Breaker = Breaker()
    max_response_bytes: int = 256 * 1024
    label: Mapping[str, str] = field(default_factory=dict)  # how the caller hears it named ("order")


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str
    slot: str = ""  # a dialog slot that fills it ("order_number")
    screen: str = ""  # a screenshot field that fills it ("order_number")
    pattern: re.Pattern[str] | None = None  # found in the caller's words (group 1, else the match)
    caller: bool = False  # asked for and taken as the caller's whole answer
    ask: Mapping[str, str] = field(default_factory=dict)  # per language
    label: Mapping[str, str] = field(default_factory=dict)  # how it is named in a read-back
    required: bool = True


@dataclass(frozen=True)
class ResultField:
    name: str
    type: str
    values: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # enum value -> language -> words


@dataclass(frozen=True)
class Action:
    name: str
    file: str
    description: Mapping[str, str]
    integration: str
    method: str
    path: str  # "/orders/{order_number}": parameters in braces
    changes: bool  # changes state: read back and confirmed before the call; never retried
    parameters: tuple[Parameter, ...]
    result: tuple[ResultField, ...]
    reply: Mapping[str, str]
    intents: tuple[str, ...] = ()
    triggers: tuple[re.Pattern[str], ...] = ()
    step_up: str = "never"  # "always", or "risk": the core's risk policy decides
    not_found: Mapping[str, str] = field(default_factory=dict)  # reply on HTTP 404

    @property
    def idempotent(self) -> bool:
        return not self.changes and self.method == "GET"

    def tool(self) -> dict[str, Any]:
        """The declaration as an OpenAI-style tool (function calling)."""
        props = {p.name: {"type": "number" if p.type in ("number", "amount") else "string",
                          "description": p.label.get("en", p.name)} for p in self.parameters}
        return {"type": "function", "function": {
            "name": self.name, "description": self.description.get("en", ""),
            "parameters": {"type": "object", "properties": props,
                           "required": [p.name for p in self.parameters if p.required]}}}


@dataclass(frozen=True)
class Offer:
    """A related offer made once the caller's question is resolved (after a knowledge passage
    whose id starts with one of `sources`, or after one of `actions`)."""

    name: str
    text: Mapping[str, str]
    sources: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()

    def follows(self, resolved: tuple[str, ...]) -> bool:
        return any(s == f"action:{a}" for s in resolved for a in self.actions) or any(
            s.startswith(prefix) for s in resolved for prefix in self.sources)


@dataclass(frozen=True)
class Experiment:
    """An A/B split by session: variant "a" gets the offers, "b" does not (docs/actions.md)."""

    name: str
    tenants: tuple[str, ...] = ()  # empty: every tenant

    def variant(self, session_id: str, tenant: str) -> str:
        if self.tenants and tenant not in self.tenants:
            return ""
        digest = hashlib.sha256(f"{self.name}/{session_id}".encode()).digest()
        return "a" if digest[0] % 2 == 0 else "b"


@dataclass(frozen=True)
class ActionCatalog:
    actions: tuple[Action, ...] = ()
    integrations: Mapping[str, Integration] = field(default_factory=dict)
    offers: tuple[Offer, ...] = ()
    experiment: Experiment | None = None

    def by_name(self, name: str) -> Action | None:
        return next((a for a in self.actions if a.name == name), None)


class _Where:
    """Builds the one-line error that names the file and the entry."""

    def __init__(self, file: Path) -> None:
        self.file = file

    def fail(self, entry: str, problem: str) -> ConfigError:
        return ConfigError(f"actions file {self.file}: entry {entry!r}: {problem}")


def load_catalog(folder: str | Path, environ: Mapping[str, str] | None = None) -> ActionCatalog:
    """Every *.yaml/*.yml file of the folder (or the one file named), validated; blocking."""
    path = Path(folder)
    if not path.exists():
        raise ConfigError(f"core.actions_path {str(folder)!r} does not exist")
    files = [path] if path.is_file() else sorted(
        p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and not p.name.startswith("."))
    env = os.environ if environ is None else environ
    actions: list[Action] = []
    integrations: dict[str, Integration] = {}
    offers: list[tuple[Path, Offer]] = []
    experiment: Experiment | None = None
    for file in files:
        file_actions, file_integrations, file_offers, file_experiment = _load_file(file, env)
        offers.extend((file, o) for o in file_offers)
        if file_experiment is not None:
            if experiment is not None:
                raise _Where(file).fail("experiment", "only one experiment at a time")
            experiment = file_experiment
        for name, integration in file_integrations.items():
            if name in integrations:
                raise _Where(file).fail(name, "integration declared in another file too")
            integrations[name] = integration
        actions.extend(file_actions)
    names = [a.name for a in actions]
    for action in actions:
        where = _Where(Path(action.file))
        if names.count(action.name) > 1:
            raise where.fail(action.name, "action declared twice")
        if action.integration not in integrations:
            raise where.fail(action.name, f"unknown integration {action.integration!r}")
    for file, offer in offers:
        for name in offer.actions:
            if name not in names:
                raise _Where(file).fail(f"offers.{offer.name}",
                                        f"after.actions names unknown action {name!r}")
    return ActionCatalog(tuple(actions), integrations, tuple(o for _, o in offers), experiment)


def _load_file(file: Path, env: Mapping[str, str]
               ) -> tuple[list[Action], dict[str, Integration], list[Offer], Experiment | None]:
    import yaml

    where = _Where(file)
    if file.stat().st_size > MAX_FILE_BYTES:
        raise where.fail("-", f"file larger than {MAX_FILE_BYTES} bytes")
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise where.fail("-", f"not valid YAML ({first})") from None
    if not isinstance(data, dict):
        raise where.fail("-", "the file must be a mapping with 'integrations' and 'actions'")
    _keys(where, "-", data, {"integrations", "actions", "offers", "experiment"})
    integrations = {name: _integration(where, name, raw, env)
                    for name, raw in _mapping(where, "-", data.get("integrations") or {}).items()}
    actions = [_action(where, name, raw)
               for name, raw in _mapping(where, "-", data.get("actions") or {}).items()]
    offers = [_offer(where, name, raw)
              for name, raw in _mapping(where, "-", data.get("offers") or {}).items()]
    experiment = None
    if data.get("experiment") is not None:
        raw = _mapping(where, "experiment", data["experiment"])
        _keys(where, "experiment", raw, {"name", "tenants"})
        name, tenants = raw.get("name"), raw.get("tenants") or []
        if not isinstance(name, str) or not _NAME.match(name.replace("-", "_")):
            raise where.fail("experiment", "name must be lower-case letters, digits, '_' or '-'")
        if not isinstance(tenants, list) or not all(isinstance(t, str) for t in tenants):
            raise where.fail("experiment", "tenants must be a list of tenant names")
        experiment = Experiment(name, tuple(tenants))
    return actions, integrations, offers, experiment


def _offer(where: _Where, name: str, raw: object) -> Offer:
    entry = f"offers.{name}"
    item = _mapping(where, entry, raw)
    _keys(where, entry, item, {"after", "text"})
    after = _mapping(where, entry, item.get("after") or {})
    _keys(where, entry, after, {"sources", "actions"})
    sources, actions = after.get("sources") or [], after.get("actions") or []
    if not all(isinstance(x, str) for x in [*sources, *actions]) or not (sources or actions):
        raise where.fail(entry, "after needs 'sources' (passage id prefixes) or 'actions' (action names)")
    if "text" not in item:
        raise where.fail(entry, "missing field 'text'")
    text = _texts(where, entry, item["text"], "text")
    for lang, value in text.items():
        try:
            if _placeholders(value):
                raise where.fail(entry, f"text.{lang}: an offer is said as written (no {{placeholders}})")
        except ValueError as exc:
            raise where.fail(entry, str(exc)) from None
    return Offer(name, text, tuple(sources), tuple(actions))


def _mapping(where: _Where, entry: str, raw: object) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise where.fail(entry, "expected a mapping")
    return {str(k): v for k, v in raw.items()}


def _keys(where: _Where, entry: str, raw: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise where.fail(entry, f"unknown field {unknown[0]!r} (known: {', '.join(sorted(allowed))})")


def _texts(where: _Where, entry: str, raw: object, what: str) -> dict[str, str]:
    """A text in every language: {en: ..., zh: ...}."""
    if not isinstance(raw, dict) or any(not isinstance(raw.get(lang), str) or not raw.get(lang)
                                        for lang in LANGUAGES):
        raise where.fail(entry, f"{what} needs a text for each of {', '.join(LANGUAGES)}")
    _keys(where, entry, raw, set(LANGUAGES))
    return {lang: str(raw[lang]) for lang in LANGUAGES}


def _number(where: _Where, entry: str, raw: object, what: str, low: float, high: float) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not low <= raw <= high:
        raise where.fail(entry, f"{what} must be a number in {low:g}..{high:g}")
    return float(raw)


def _integration(where: _Where, name: str, raw: object, env: Mapping[str, str]) -> Integration:
    entry = f"integrations.{name}"
    item = _mapping(where, entry, raw)
    _keys(where, entry, item, _INTEGRATION_KEYS)
    base = item.get("base_url")
    if not isinstance(base, str) or not re.match(r"^https?://[^\s/]+", base):
        raise where.fail(entry, f"base_url must be an http:// or https:// URL, got {str(base)[:80]!r}")
    headers: dict[str, str] = {}
    if "auth" in item:
        auth = _mapping(where, entry, item["auth"])
        _keys(where, entry, auth, _AUTH_KEYS)
        if "bearer_env" in auth:  # the secret lives in the environment (settings), never in the file
            token = env.get(str(auth["bearer_env"]), "")
            if not token:
                raise where.fail(entry, f"auth.bearer_env: variable {auth['bearer_env']} is not set")
            headers["Authorization"] = f"Bearer {token}"
        elif "header" in auth and "value_env" in auth:
            value = env.get(str(auth["value_env"]), "")
            if not value:
                raise where.fail(entry, f"auth.value_env: variable {auth['value_env']} is not set")
            headers[str(auth["header"])] = value
        else:
            raise where.fail(entry, "auth needs bearer_env, or header and value_env")
    breaker = Breaker()
    if "breaker" in item:
        b = _mapping(where, entry, item["breaker"])
        _keys(where, entry, b, _BREAKER_KEYS)
        breaker = Breaker(int(_number(where, entry, b.get("failures", 3), "breaker.failures", 1, 100)),
                          _number(where, entry, b.get("reset_s", 30), "breaker.reset_s", 0.1, 3600))
    return Integration(
        name, base.rstrip("/"), headers,
        timeout_s=_number(where, entry, item.get("timeout_s", 3.0), "timeout_s", 0.05, 60),
        retries=int(_number(where, entry, item.get("retries", 1), "retries", 0, 5)),
        breaker=breaker,
        max_response_bytes=int(_number(where, entry, item.get("max_response_bytes", 256 * 1024),
                                       "max_response_bytes", 1024, 8 * 1024 * 1024)),
        label=_texts(where, entry, item["label"], "label") if "label" in item else {"en": name, "zh": name})


def _parameter(where: _Where, entry: str, name: str, raw: object) -> Parameter:
    entry = f"{entry}.parameters.{name}"
    item = _mapping(where, entry, raw)
    _keys(where, entry, item, _PARAM_KEYS)
    kind = item.get("type", "string")
    if kind not in PARAM_TYPES:
        raise where.fail(entry, f"type must be one of {', '.join(PARAM_TYPES)}")
    sources = _mapping(where, entry, item.get("from") or {})
    _keys(where, entry, sources, _FROM_KEYS)
    if not sources:
        raise where.fail(entry, f"no source: 'from' needs one of {', '.join(SOURCES)}")
    pattern = None
    if "pattern" in sources:
        try:
            pattern = re.compile(str(sources["pattern"]), re.I)
        except re.error as exc:
            raise where.fail(entry, f"from.pattern is not a regular expression ({exc})") from None
    required = bool(item.get("required", True))
    ask = _texts(where, entry, item["ask"], "ask") if "ask" in item else {}
    if required and not ask:
        raise where.fail(entry, "a required parameter needs 'ask' (how to ask the caller for it)")
    label = _texts(where, entry, item["label"], "label") if "label" in item else {
        "en": name.replace("_", " "), "zh": name}
    return Parameter(name, str(kind), slot=str(sources.get("slot", "")),
                     screen=str(sources.get("screen", "")), pattern=pattern,
                     caller=bool(sources.get("caller", False)), ask=ask, label=label,
                     required=required)


def _result_field(where: _Where, entry: str, name: str, raw: object) -> ResultField:
    entry = f"{entry}.result.{name}"
    if isinstance(raw, str):
        raw = {"type": raw}
    item = _mapping(where, entry, raw)
    _keys(where, entry, item, _FIELD_KEYS)
    kind = item.get("type", "string")
    if kind not in FIELD_TYPES:
        raise where.fail(entry, f"type must be one of {', '.join(FIELD_TYPES)}")
    values = {str(v): _texts(where, f"{entry}.values.{v}", words, "value")
              for v, words in _mapping(where, entry, item.get("values") or {}).items()}
    if kind == "enum" and not values:
        raise where.fail(entry, "an enum needs 'values'")
    return ResultField(name, str(kind), values)


def _placeholders(template: str) -> list[str]:
    try:
        return [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        raise ValueError(f"bad template ({exc})") from None


def _action(where: _Where, name: str, raw: object) -> Action:
    entry = f"actions.{name}"
    if not _NAME.match(name):
        raise where.fail(entry, "action names are lower-case letters, digits and '_'")
    item = _mapping(where, entry, raw)
    _keys(where, entry, item, _ACTION_KEYS)
    for required in ("integration", "path", "reply", "description"):
        if required not in item:
            raise where.fail(entry, f"missing field {required!r}")
    method = str(item.get("method", "GET")).upper()
    if method not in METHODS:
        raise where.fail(entry, f"method must be one of {', '.join(METHODS)}")
    path = str(item["path"])
    if not path.startswith("/") or "://" in path:
        raise where.fail(entry, "path must start with '/' (the URL is the integration's base_url + path)")
    params = tuple(_parameter(where, entry, p, v)
                   for p, v in _mapping(where, entry, item.get("parameters") or {}).items())
    fields = tuple(_result_field(where, entry, f, v)
                   for f, v in _mapping(where, entry, item.get("result") or {}).items())
    known = {p.name for p in params} | {f.name for f in fields}
    param_names = {p.name for p in params}
    try:
        for placeholder in _placeholders(path):
            if placeholder not in param_names:
                raise where.fail(entry, f"path names {placeholder!r}, which is not a parameter")
        texts = {"reply": _texts(where, entry, item["reply"], "reply")}
        for key in ("not_found",):
            if key in item:
                texts[key] = _texts(where, entry, item[key], key)
        for key, table in texts.items():
            for lang, text in table.items():
                allowed = param_names if key == "not_found" else known
                for placeholder in _placeholders(text):
                    if placeholder.split(".")[0] not in allowed:
                        raise where.fail(entry, f"{key}.{lang} names {placeholder!r}, which is neither a "
                                         "parameter nor a result field")
    except ValueError as exc:
        raise where.fail(entry, str(exc)) from None
    step_up = str(item.get("step_up", "never"))
    if step_up not in STEP_UP:
        raise where.fail(entry, f"step_up must be one of {', '.join(STEP_UP)}")
    changes = item.get("changes", False)
    if not isinstance(changes, bool):
        raise where.fail(entry, "changes must be true or false")
    intents = item.get("intents") or []
    if not isinstance(intents, list) or not all(isinstance(i, str) for i in intents):
        raise where.fail(entry, "intents must be a list of intent names")
    triggers = []
    for pattern in item.get("triggers") or []:
        try:
            triggers.append(re.compile(str(pattern), re.I))
        except re.error as exc:
            raise where.fail(entry, f"trigger {str(pattern)[:40]!r} is not a regular expression ({exc})"
                             ) from None
    if not intents and not triggers:
        raise where.fail(entry, "nothing routes to it: give 'intents' or 'triggers'")
    return Action(
        name=name, file=str(where.file), description=_texts(where, entry, item["description"], "description"),
        integration=str(item["integration"]), method=method, path=path, changes=changes,
        parameters=params, result=fields, reply=texts["reply"], intents=tuple(intents),
        triggers=tuple(triggers), step_up=step_up, not_found=texts.get("not_found", {}))
