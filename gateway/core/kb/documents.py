"""Knowledge documents (Markdown, FAQ YAML/JSON, CSV, plain text) to passages. Pure parsing.

A passage is the unit that is retrieved and cited: a Markdown section, one FAQ entry, one CSV
row, one text paragraph group. Its id is stable across re-ingests: "<doc>#<slug>".
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.core.text import guess_language, split_sentences
from gateway.errors import GatewayError

MAX_DOC_BYTES = 2 * 1024 * 1024  # a policy document larger than this is a mistake
MAX_PASSAGE_CHARS = 900  # longer sections are split at sentence boundaries
MAX_DOCS = 5000
SUFFIXES = (".md", ".markdown", ".yaml", ".yml", ".json", ".csv", ".txt")


class KnowledgeError(GatewayError):
    code = "kb-bad-document"


@dataclass(frozen=True)
class Passage:
    id: str  # "<doc>#<slug>", e.g. "en/returns.md#return-window"
    doc: str  # document path relative to the knowledge folder
    title: str  # section heading or FAQ question
    text: str  # what the answer may quote
    language: str  # "en" | "zh" | ...

    @property
    def search_text(self) -> str:
        return f"{self.title}\n{self.text}"


@dataclass(frozen=True)
class Document:
    name: str  # relative path, "/" separated
    sha256: str
    passages: tuple[Passage, ...]


def discover(root: Path) -> list[Path]:
    """Supported files under root (or root itself when it is a file), sorted, capped."""
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise KnowledgeError(f"knowledge path {root} does not exist", code="kb-not-found")
    # intents.yaml at the root is the tenant's intent catalog (gateway/core/nlu/catalog.py), not knowledge;
    # nor are the LLM paraphrases of its examples beside it (intents.enriched.yaml).
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES
                   and not p.name.startswith(".")
                   and p not in (root / "intents.yaml", root / "intents.enriched.yaml"))
    if len(files) > MAX_DOCS:
        raise KnowledgeError(f"{len(files)} documents under {root}; at most {MAX_DOCS}",
                             code="kb-too-large")
    return files


def load_document(path: Path, name: str) -> Document:
    size = path.stat().st_size
    if size > MAX_DOC_BYTES:
        raise KnowledgeError(f"{name}: {size} bytes, over the {MAX_DOC_BYTES} byte cap",
                             code="kb-too-large")
    raw = path.read_bytes()
    return parse_document(name, raw)


def parse_document(name: str, raw: bytes) -> Document:
    if len(raw) > MAX_DOC_BYTES:
        raise KnowledgeError(f"{name}: over the {MAX_DOC_BYTES} byte cap", code="kb-too-large")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise KnowledgeError(f"{name}: not UTF-8 text") from None
    suffix = Path(name).suffix.lower()
    if suffix in (".md", ".markdown"):
        passages = list(_markdown(name, text))
    elif suffix in (".yaml", ".yml", ".json"):
        passages = list(_faq(name, text, suffix))
    elif suffix == ".csv":
        passages = list(_csv(name, text))
    elif suffix == ".txt":
        passages = list(_plain(name, text))
    else:
        raise KnowledgeError(f"{name}: unsupported type {suffix!r}; use one of {SUFFIXES}",
                             code="kb-unsupported")
    return Document(name, hashlib.sha256(raw).hexdigest(), tuple(passages))


def slug(text: str) -> str:
    s = re.sub(r"[^\w\u4e00-\u9fff]+", "-", text.lower()).strip("-")
    return s[:60] or "section"


def _language_of(name: str, meta: dict[str, str], sample: str) -> str:
    if meta.get("language"):
        return meta["language"].lower()
    first = name.split("/")[0].lower()
    if first in ("en", "zh"):
        return first
    return guess_language(sample)


def _front_matter(text: str) -> tuple[dict[str, str], str]:
    if not text.startswith("---\n"):
        return {}, text
    end = text.find("\n---", 4)
    if end < 0:
        raise KnowledgeError("front matter starts with --- but never ends")
    meta: dict[str, str] = {}
    for line in text[4:end].splitlines():
        key, sep, value = line.partition(":")
        if sep:
            meta[key.strip().lower()] = value.strip()
    return meta, text[end + 4:].lstrip("\n")


def _split_long(text: str) -> list[str]:
    """Sentence-aligned pieces of at most MAX_PASSAGE_CHARS (a longer sentence stays whole)."""
    if len(text) <= MAX_PASSAGE_CHARS:
        return [text]
    pieces, current = [], ""
    for sentence in split_sentences(text):
        if current and len(current) + len(sentence) + 1 > MAX_PASSAGE_CHARS:
            pieces.append(current)
            current = ""
        current = f"{current} {sentence}".strip() if current else sentence
    if current:
        pieces.append(current)
    return pieces


def _sections(doc: str, language: str, sections: list[tuple[str, str]]) -> Iterable[Passage]:
    seen: dict[str, int] = {}
    for title, body in sections:
        body = re.sub(r"\s+\n", "\n", body).strip()
        if not body:
            continue
        base = slug(title)
        for part in _split_long(body):
            n = seen.get(base, 0)
            seen[base] = n + 1
            sid = base if n == 0 else f"{base}-{n + 1}"
            yield Passage(f"{doc}#{sid}", doc, title, part, language)


def _markdown(name: str, text: str) -> Iterable[Passage]:
    meta, body = _front_matter(text)
    language = _language_of(name, meta, body)
    doc_title = meta.get("title", Path(name).stem)
    sections: list[tuple[str, str]] = []
    title, lines = doc_title, list[str]()
    for line in body.splitlines():
        heading = re.match(r"^(#{1,6})\s+(.*)$", line)
        if heading:
            sections.append((title, "\n".join(lines)))
            title, lines = heading.group(2).strip(), []
        else:
            lines.append(line)
    sections.append((title, "\n".join(lines)))
    return _sections(name, language, sections)


def _faq(name: str, text: str, suffix: str) -> Iterable[Passage]:
    try:
        if suffix == ".json":
            data: Any = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except Exception as exc:  # yaml/json raise many kinds; all mean a bad document
        raise KnowledgeError(f"{name}: cannot parse: {exc}") from None
    if isinstance(data, dict):
        data = data.get("faq", data.get("entries"))
    if not isinstance(data, list):
        raise KnowledgeError(f"{name}: expected a list of {{question, answer}} entries")
    language = _language_of(name, {}, text)
    for i, entry in enumerate(data):
        if not isinstance(entry, dict) or not entry.get("question") or not entry.get("answer"):
            raise KnowledgeError(f"{name}: entry {i} needs 'question' and 'answer'")
        question, answer = str(entry["question"]).strip(), str(entry["answer"]).strip()
        entry_id = slug(str(entry.get("id") or question))
        lang = str(entry.get("language") or language)
        yield Passage(f"{name}#{entry_id}", name, question, answer, lang)


def _csv(name: str, text: str) -> Iterable[Passage]:
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        raise KnowledgeError(f"{name}: CSV without a header row")
    language = _language_of(name, {}, text)
    title = Path(name).stem.replace("_", " ")
    for i, row in enumerate(reader, start=1):
        cells = [f"{k}: {v}" for k, v in row.items() if k and v]
        if cells:
            yield Passage(f"{name}#row-{i}", name, title, "; ".join(cells) + ".", language)


def _plain(name: str, text: str) -> Iterable[Passage]:
    language = _language_of(name, {}, text)
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    return _sections(name, language, [(Path(name).stem, "\n\n".join(paragraphs))])
