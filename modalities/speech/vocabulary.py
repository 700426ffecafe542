"""A tenant's vocabulary for biasing speech recognition, read from its knowledge documents.

Whisper misspells the words a contact center lives on (base heard 退货 "return goods" as 追求
"pursue" in the README's example). Given the domain's terms as `hotwords`, it hears them. The
terms are the documents' headings (short noun phrases: 退货期限, 保修范围, 枫林Plus会员) and the
Latin-script names inside text of that language (PayPal, Visa), which Whisper would otherwise
transliterate or drop in a Chinese sentence. FAQ questions are left out: whole sentences in the
prompt make the decoder repeat them instead of listening.

Plain text parsing (Markdown headings; front matter, YAML comments and keys are skipped),
so this module does not depend on the knowledge base's loader.
"""

from __future__ import annotations

import re
from pathlib import Path

from contracts.text import HAN

MAX_CHARS = 120  # longer lists made base echo the terms ("账户，账户") on unclear audio
MAX_FILE_BYTES = 1_000_000
_HEADING = re.compile(r"^#{1,3}\s+(.+?)\s*#*$")
_LATIN = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z][A-Za-z0-9+]*(?:[ ][A-Z][A-Za-z0-9+]*)*(?![A-Za-z0-9_-])")
_HAN = re.compile(f"[{HAN}]")
_YAML_KEY = re.compile(r"^\s*-?\s*[A-Za-z_]+:\s*")
_SKIP_WORDS = frozenset({"id", "question", "answer", "title", "language", "zh", "en"})


def vocabulary(folder: Path, language: str = "zh", max_chars: int = MAX_CHARS) -> str:
    """Space-separated domain terms of the documents in `folder` written in `language` ("" if none)."""
    headings: list[str] = []
    names: list[str] = []
    for path in sorted(folder.rglob("*")):
        if path.suffix not in (".md", ".yaml", ".yml", ".txt") or not path.is_file():
            continue
        if path.stat().st_size > MAX_FILE_BYTES:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        if _language_of(text) != language:
            continue
        found = _terms(text, markdown=path.suffix in (".md", ".txt"), names=language != "en")
        headings += found[0]
        names += found[1]
    out: list[str] = []
    used = 0
    for term in dict.fromkeys(names + headings):  # names first: few, short, and the most misheard
        if used + len(term) + 1 > max_chars:
            break
        out.append(term)
        used += len(term) + 1
    return " ".join(out)


def _language_of(text: str) -> str:
    han = len(_HAN.findall(text))
    latin = len(re.findall(r"[A-Za-z]", text))
    return "zh" if han >= max(1, latin // 2) else "en"


def _terms(text: str, *, markdown: bool, names: bool) -> tuple[list[str], list[str]]:
    headings: list[str] = []
    found: list[str] = []
    in_front_matter = False
    for number, line in enumerate(text.splitlines()):
        if line.strip() == "---" and (number == 0 or in_front_matter):
            in_front_matter = not in_front_matter
            continue
        heading = _HEADING.match(line) if markdown else None
        if in_front_matter or (line.lstrip().startswith("#") and not heading):
            continue  # front matter and YAML comments
        if heading:
            headings.append(heading.group(1).strip())
            continue
        body = _YAML_KEY.sub("", line)
        if not names or line.strip().startswith(("- id:", "id:")):
            continue  # in English text every word is Latin: only the headings are terms
        found += [w for w in _LATIN.findall(body) if w.lower() not in _SKIP_WORDS and len(w) > 1]
    return headings, found
