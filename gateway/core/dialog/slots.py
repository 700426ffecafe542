"""Slot extraction from one (masked) turn: order number, product, purchase date, amount, contact."""

from __future__ import annotations

import re

from gateway.core.dialog.amounts import parse_amount

SLOTS = ("order_number", "product", "purchase_date", "amount", "contact")
CONFIRMED_SLOTS = ("order_number", "amount")  # read back to the caller before they are relied on

_ORDER = re.compile(r"(?<![a-z0-9])mlh[- ]?(\d{6})(?!\d)", re.I)  # no \b: 订单MLH-1 has none
_PRODUCTS = {
    "sofa": "sofa", "couch": "sofa", "lamp": "lamp", "kettle": "kettle", "chair": "chair",
    "desk": "desk", "mattress": "mattress", "headphones": "headphones", "headphone": "headphones",
    "blender": "blender", "沙发": "沙发", "台灯": "台灯", "水壶": "水壶", "椅子": "椅子", "书桌": "书桌",
    "床垫": "床垫", "耳机": "耳机", "搅拌机": "搅拌机",
}
_PRODUCT = re.compile("|".join(sorted((re.escape(k) for k in _PRODUCTS), key=len, reverse=True)), re.I)
_MONTHS = ("january|february|march|april|may|june|july|august|september|october|november|december"
           "|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec")
_DATE = re.compile(
    r"\b\d{4}-\d{2}-\d{2}\b|\b(?:" + _MONTHS + r")\.? \d{1,2}(?:st|nd|rd|th)?\b"
    r"|\b\d{1,2}(?:st|nd|rd|th)? (?:of )?(?:" + _MONTHS + r")\b"
    r"|\b(?:yesterday|last week|last month|two weeks ago|a week ago)\b"
    r"|\d{1,2}月\d{1,2}[日号]|昨天|上周|上个月|前天|两周前", re.I)
_CONTACT = re.compile(r"\[(PHONE|EMAIL)\]")


def _amount(text: str) -> str | None:
    number = parse_amount(text)
    return None if number is None else f"{number:g}"


def extract_slots(text: str) -> dict[str, str]:
    """Slots found in a masked turn. Contact keeps only the masked token: the value is PII."""
    slots: dict[str, str] = {}
    if m := _ORDER.search(text):
        slots["order_number"] = f"MLH-{m.group(1)}"
    if m := _PRODUCT.search(text):
        slots["product"] = _PRODUCTS[m.group().lower()]
    if m := _DATE.search(text):
        slots["purchase_date"] = m.group()
    if (amount := _amount(text)) is not None:
        slots["amount"] = amount
    if m := _CONTACT.search(text):
        slots["contact"] = m.group()
    return slots
