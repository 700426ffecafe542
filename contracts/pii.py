"""Mask personal data before text reaches an LLM, a store, logs or metrics.

Mainland China resident ID numbers (checksum-validated), bank card numbers (Luhn-validated),
phone numbers and e-mail addresses. Any other run of 15+ digits is masked too: a mistyped card
or ID is still personal data. Pure functions.
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
_LONG_DIGITS = re.compile(r"(?<!\d)\d{15,}(?!\d)")

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


def find_pii(text: str) -> list[PiiMatch]:
    text = text[:MAX_CHARS]
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
