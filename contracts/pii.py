"""Mask personal data before text reaches an LLM, a store, logs or metrics.

Mainland China resident ID numbers (checksum-validated), bank card numbers (Luhn-validated),
phone numbers and e-mail addresses. Any other run of 15+ digits (single spaces or hyphens between
them allowed) is masked too: a mistyped card or ID is still personal data. Digits said in words are
found as well: Chinese numerals (四一一一, 幺 for one, 两 for two, mixed with digits), full-width
digits and spoken English digit sequences ("four one one one ..."); the text is normalised for
matching only, and the mask covers the original words. Pure functions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_CN_ID = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
# 13-19 digits, optionally in groups separated by single spaces or hyphens.
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d])")
_PHONE = re.compile(
    r"(?<![\d])(?:"
    r"(?:\+?86[ -]?)?1[3-9]\d(?:[ -]?\d){8}"  # mainland mobile
    r"|0\d{2,3}[ -]\d{7,8}"  # mainland landline with area code
    r"|\+\d{1,3}[ (-]*\d{1,4}[) -]*\d{3,4}[ -]?\d{3,4}"  # international
    r"|\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}"  # North American
    r")(?![\d])")
_LONG_DIGITS = re.compile(r"(?<![\d-])\d(?:[ -]?\d){14,}(?!\d)")
# One character per digit (so positions stay put): Chinese numerals and full-width digits.
_CHAR_DIGITS = {**dict.fromkeys("零〇", "0"), **dict.fromkeys("一幺", "1"), **dict.fromkeys("二两", "2"),
                "三": "3", "四": "4", "五": "5", "六": "6", "七": "7", "八": "8", "九": "9",
                **{chr(0xFF10 + d): str(d) for d in range(10)}}
_CHAR_TABLE = str.maketrans(_CHAR_DIGITS)
_WORD_DIGITS = {"zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
                "six": "6", "seven": "7", "eight": "8", "nine": "9"}
_WORD = r"(?:(?:double|triple)[ -])?(?:" + "|".join(_WORD_DIGITS) + r")\b"
# Two or more digit words in a row ("four one one one"): said as one number, matched as one.
_SPOKEN_RUN = re.compile(r"(?i)\b" + _WORD + r"(?:[\s,-]+" + _WORD + r")+")
_SPOKEN_WORD = re.compile(r"(?i)(?:(double|triple)[ -])?(" + "|".join(_WORD_DIGITS) + r")\b")

MAX_CHARS = 20_000


@dataclass(frozen=True)
class PiiMatch:
    kind: str  # "cn-id" | "card" | "phone" | "email" | "number"
    value: str  # the raw value: keep in memory only where a policy needs it, never persist
    start: int
    end: int


@dataclass(frozen=True)
class Masked:
    text: str
    found: tuple[PiiMatch, ...]

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(sorted({m.kind for m in self.found}))


TOKENS = {"cn-id": "[ID]", "card": "[CARD]", "phone": "[PHONE]", "email": "[EMAIL]", "number": "[NUMBER]"}


def cn_id_valid(value: str) -> bool:
    if len(value) != 18 or not value[:17].isdigit():
        return False
    month, day = int(value[10:12]), int(value[12:14])
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return False
    total = sum(int(d) * w for d, w in zip(value[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == value[17].upper()


def luhn_valid(digits: str) -> bool:
    if not digits.isdigit() or not 13 <= len(digits) <= 19:
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _normalised(text: str) -> tuple[str, list[int], list[int]] | None:
    """Digits for digit words: (normalised text, original start and end of each of its characters),
    or None when the text holds no digit words."""
    plain = text.translate(_CHAR_TABLE)
    runs = list(_SPOKEN_RUN.finditer(plain))
    if not runs and plain == text:
        return None
    chars: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    pos = 0
    for run in runs:
        chars.extend(plain[pos:run.start()])
        starts.extend(range(pos, run.start()))
        ends.extend(range(pos + 1, run.start() + 1))
        for word in _SPOKEN_WORD.finditer(plain, run.start(), run.end()):
            times = {"double": 2, "triple": 3}.get((word.group(1) or "").lower(), 1)
            for _ in range(times):
                chars.append(_WORD_DIGITS[word.group(2).lower()])
                starts.append(word.start())
                ends.append(word.end())
        pos = run.end()
    chars.extend(plain[pos:])
    starts.extend(range(pos, len(plain)))
    ends.extend(range(pos + 1, len(plain) + 1))
    return "".join(chars), starts, ends


def find_pii(text: str) -> list[PiiMatch]:
    text = text[:MAX_CHARS]
    normal = _normalised(text)
    if normal is None:
        return _find(text)
    plain, starts, ends = normal
    return [PiiMatch(m.kind, text[starts[m.start]:ends[m.end - 1]], starts[m.start], ends[m.end - 1])
            for m in _find(plain)]


def _find(text: str) -> list[PiiMatch]:
    found: list[PiiMatch] = []

    def free(start: int, end: int) -> bool:
        return all(end <= m.start or start >= m.end for m in found)

    for m in _EMAIL.finditer(text):
        found.append(PiiMatch("email", m.group(), m.start(), m.end()))
    for m in _CN_ID.finditer(text):
        if cn_id_valid(m.group()) and free(m.start(), m.end()):
            found.append(PiiMatch("cn-id", m.group(), m.start(), m.end()))
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if luhn_valid(digits) and free(m.start(), m.end()):
            found.append(PiiMatch("card", m.group(), m.start(), m.end()))
    for m in _PHONE.finditer(text):
        if free(m.start(), m.end()):
            found.append(PiiMatch("phone", m.group(), m.start(), m.end()))
    for m in _LONG_DIGITS.finditer(text):
        if free(m.start(), m.end()):
            found.append(PiiMatch("number", m.group(), m.start(), m.end()))
    return sorted(found, key=lambda m: m.start)


def mask(text: str) -> Masked:
    """The text with every PII value replaced by a typed token such as [CARD]."""
    found = find_pii(text)
    out, pos = [], 0
    for m in found:
        out.append(text[pos:m.start])
        out.append(TOKENS[m.kind])
        pos = m.end
    out.append(text[pos:MAX_CHARS] if len(text) > MAX_CHARS else text[pos:])
    return Masked("".join(out), tuple(found))
