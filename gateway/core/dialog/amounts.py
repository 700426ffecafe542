"""Money amounts as callers say them: "$8,000", "8000 dollars", "12k", "eight thousand",
"six and a half thousand" (approximately), "提八千美元", "两万", "一万块", "六千五百元", "1.5万".

A bare number counts only next to a currency word or a transfer verb, so "three months" or
"三个月" is never an amount.
"""

from __future__ import annotations

import re

_CURRENCY = r"(?:dollars?|usd|bucks|美元|美金|刀|元|块钱?|人民币|rmb)"
_VERB_EN = r"(?:transfer|withdraw|send|move|pay out|cash out|take out|put)"
_VERB_ZH = r"(?:提现|提|转账|转|取出|取|汇|打)"
_SYMBOL = re.compile(r"(?:\$|usd\s*|¥|￥)\s*(\d[\d,]*(?:\.\d+)?)\s*(k|thousand|万)?", re.I)
_DIGITS = re.compile(r"(\d[\d,]*(?:\.\d+)?)\s*(k\b|thousand|grand|万|千)?\s*" + _CURRENCY, re.I)
_VERB_DIGITS = re.compile(
    _VERB_EN + r"\s+(?:of\s+)?(\d[\d,]*(?:\.\d+)?)\s*(k\b|thousand|grand)?", re.I)
_ZH_VERB_DIGITS = re.compile(_VERB_ZH + r"\s*(\d[\d,]*(?:\.\d+)?)\s*(万|千)?")
_ZH_NUM = "零〇一二两三四五六七八九十百千万亿"
_ZH_RUN = re.compile(f"([{_ZH_NUM}]+)(?:{_CURRENCY})|{_VERB_ZH}([{_ZH_NUM}]+)(?!个|月|天|年|周|次|小时)")
_ZH_DIGIT = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
             "八": 8, "九": 9}
_ZH_UNIT = {"十": 10, "百": 100, "千": 1000}
_EN_SMALL = {w: i for i, w in enumerate(
    ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
     "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"])}
_EN_TENS = {w: 10 * i for i, w in enumerate(
    ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]) if w != "_"}
_EN_SCALE = {"hundred": 100, "thousand": 1000, "grand": 1000, "million": 1_000_000}
_EN_WORD = "|".join([*_EN_SMALL, *_EN_TENS, *_EN_SCALE, "a", "and"])
_EN_RUN = re.compile(
    rf"\b((?:(?:{_EN_WORD})[\s-]+)*(?:{_EN_WORD}))\b(?=\s*(?:{_CURRENCY}|\b(?:from|to|into|out)\b))", re.I)
_MULT = {"k": 1000, "thousand": 1000, "grand": 1000, "万": 10_000, "千": 1000}


def chinese_number(run: str) -> float | None:
    total, section, digit = 0, 0, 0
    for ch in run:
        if ch in _ZH_DIGIT:
            digit = _ZH_DIGIT[ch]
        elif ch in _ZH_UNIT:
            section += (digit or 1) * _ZH_UNIT[ch]
            digit = 0
        elif ch in ("万", "亿"):
            scale = 10_000 if ch == "万" else 100_000_000
            total += (section + digit) * scale
            section = digit = 0
    value = total + section + digit
    return float(value) if value else None


def english_number(run: str) -> float | None:
    total, current, seen = 0, 0, False
    for word in re.split(r"[\s-]+", run.lower()):
        if word in _EN_SMALL:
            current += _EN_SMALL[word]
            seen = True
        elif word in _EN_TENS:
            current += _EN_TENS[word]
            seen = True
        elif word == "hundred":
            current = max(current, 1) * 100
        elif word in _EN_SCALE:
            total += max(current, 1) * _EN_SCALE[word]
            current, seen = 0, True
        elif word == "a":
            current = max(current, 1) if current == 0 else current
    value = total + current
    return float(value) if seen and value else None


def _num(raw: str, mult: str | None) -> float | None:
    try:
        value = float(raw.replace(",", ""))
    except ValueError:
        return None
    return value * _MULT.get((mult or "").lower(), 1)


def parse_amount(text: str) -> float | None:
    """The first money amount in a (masked) turn, or None."""
    lowered = text.lower()
    for pattern in (_SYMBOL, _DIGITS, _VERB_DIGITS, _ZH_VERB_DIGITS):
        if (m := pattern.search(lowered)) and (value := _num(m.group(1), m.group(2))) is not None:
            return value
    if (m := _ZH_RUN.search(text)) and (value := chinese_number(m.group(1) or m.group(2))) is not None:
        return value
    if m := _EN_RUN.search(lowered):
        return english_number(m.group(1))
    return None
