"""`gateway intents enrich`: the bundled LLM writes paraphrases of the catalog's examples (caller
wording, ASR-style slips, the other language) into intents.enriched.yaml beside the catalog, for a
person to review; it never writes into the catalog itself. Training reads the file when present.

Bounded: at most `per_intent` new lines per intent (the 0.5B model on 2 CPU cores takes seconds per
request). Lines that copy an existing example, are too short or too long are dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from contracts.text import has_cjk
from gateway.core.nlu.catalog import ENRICHED_NAME, Catalog
from gateway.errors import GatewayError
from models.base import ChatMessage, LanguageModel

_LINE = re.compile(r"^\s*(?:[-*•]|\d+[.)])?\s*[\"“]?(.+?)[\"”]?\s*$")
_CHATTER = re.compile(r"^(sure|here|certainly|of course|当然|好的|以下)|[:：]$|\*\*", re.IGNORECASE)
ASKS = {
    "en": "Rewrite this customer's sentence {n} different ways, as callers really talk (casual, "
          "short, maybe a speech-recognition slip). One per line, no numbering:\n{example}",
    "zh": "把这句客户的话换{n}种说法，像打电话的人那样口语化，每行一句，不要编号：\n{example}",
}


def paraphrases(model: LanguageModel, example: str, language: str, n: int) -> list[str]:
    ask = ASKS[language].format(n=n, example=example)
    try:
        text = "".join(model.stream([ChatMessage("user", ask)], max_tokens=40 * n, temperature=0.7))
    except GatewayError:
        return []
    out = []
    for line in text.splitlines():
        m = _LINE.match(line)
        if m is None:
            continue
        candidate = m.group(1).strip()
        if _CHATTER.search(candidate):  # the model talking about its answer, not a paraphrase
            continue
        in_zh = has_cjk(candidate)
        if 3 <= len(candidate) <= 200 and in_zh == (language == "zh") \
                and candidate.lower() != example.lower():
            out.append(candidate)
    return out[:n]


def enrich(catalog: Catalog, model: LanguageModel, per_intent: int = 6,
           say: Callable[[str], None] = print) -> dict[str, dict[str, list[str]]]:
    """Per intent and language: new lines, at most per_intent per intent (half per language)."""
    result: dict[str, dict[str, list[str]]] = {}
    for intent in catalog.intents:
        seen = {t.lower() for _, t in intent.examples}
        for language in ("en", "zh"):
            sources = [t for lang, t in intent.examples if lang == language][:max(1, per_intent // 2)]
            want = per_intent // 2 if language == "en" else per_intent - per_intent // 2
            lines: list[str] = []
            for example in sources:
                if len(lines) >= want:
                    break
                for line in paraphrases(model, example, language, 2):
                    if line.lower() not in seen and len(lines) < want:
                        seen.add(line.lower())
                        lines.append(line)
            if lines:
                result.setdefault(intent.name, {})[language] = lines
        say(f"{intent.name}: {sum(len(v) for v in result.get(intent.name, {}).values())} new examples")
    return result


def write(catalog: Catalog, found: dict[str, dict[str, list[str]]], out: Path | None = None) -> Path:
    import yaml

    path = out or catalog.path.with_name(ENRICHED_NAME)
    body = {"intents": [{"name": name, "examples": langs} for name, langs in found.items()]}
    header = ("# Paraphrases written by the bundled LLM (`gateway intents enrich`) for a person to review:\n"
              "# delete any line that does not mean its intent. `gateway intents train` and the core use\n"
              f"# this file with {catalog.path.name} when it sits beside it.\n")
    path.write_text(header + yaml.safe_dump(body, allow_unicode=True, sort_keys=False, width=100), "utf-8")
    return path
