"""Pluggable step-up verifiers: a one-time code sent out of band, or a knowledge question.

A verifier issues a challenge and checks answers; the conversation allows MAX_ATTEMPTS tries.
Codes live only in memory and are compared in constant time.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

MAX_ATTEMPTS = 3
CodeSender = Callable[[str, str], None]  # (session_id, code): an SMS/e-mail gateway in production


@dataclass(frozen=True)
class Challenge:
    method: str  # "otp" | "knowledge"
    session_id: str
    secret: str  # what the answer must contain; never logged or stored


class Verifier(Protocol):
    method: str

    def start(self, session_id: str) -> Challenge: ...

    def check(self, challenge: Challenge, answer: str) -> bool: ...


def _digits(text: str) -> str:
    # Callers read codes in groups ("123 456") and speech recognisers write digits as words.
    words = {"zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
             "six": "6", "seven": "7", "eight": "8", "nine": "9", "零": "0", "一": "1", "幺": "1",
             "二": "2", "两": "2", "三": "3", "四": "4", "五": "5", "六": "6", "七": "7", "八": "8",
             "九": "9"}
    out = []
    for token in re.findall(r"[a-z]+|\d|[零一幺二两三四五六七八九]", text.lower()):
        out.append(words.get(token, token if token.isdigit() else ""))
    return "".join(out)


class OtpVerifier:
    method = "otp"

    def __init__(self, send: CodeSender, digits: int = 6) -> None:
        self._send, self._digits = send, digits

    def start(self, session_id: str) -> Challenge:
        code = "".join(secrets.choice("0123456789") for _ in range(self._digits))
        self._send(session_id, code)
        return Challenge(self.method, session_id, code)

    def check(self, challenge: Challenge, answer: str) -> bool:
        return hmac.compare_digest(_digits(answer)[-self._digits:], challenge.secret)


class KnowledgeVerifier:
    """Asks for something only the account holder knows; `lookup` returns it per session."""

    method = "knowledge"

    def __init__(self, lookup: Callable[[str], str]) -> None:
        self._lookup = lookup

    def start(self, session_id: str) -> Challenge:
        return Challenge(self.method, session_id, self._lookup(session_id).strip().lower())

    def check(self, challenge: Challenge, answer: str) -> bool:
        expected = re.sub(r"\s+", "", challenge.secret)
        given = re.sub(r"\s+", "", answer.lower())
        return bool(expected) and hmac.compare_digest(expected, given[-len(expected):])


class OutboxSender:
    """Keeps the last code per session in memory: for tests, demos and the dialog evaluation."""

    def __init__(self, limit: int = 1000) -> None:
        self.codes: dict[str, str] = {}
        self._limit = limit

    def __call__(self, session_id: str, code: str) -> None:
        if len(self.codes) >= self._limit:
            self.codes.pop(next(iter(self.codes)))
        self.codes[session_id] = code
