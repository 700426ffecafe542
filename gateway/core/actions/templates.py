"""Reply templates filled from a backend's result, with numbers and dates as a person says them.

"Order A1029 shipped on May 12, tracking 1Z999AA10123456784, arriving Thursday, May 16." and
"订单A1029已于5月12日发货，预计5月16日（星期四）送达。" Dates are ISO yyyy-mm-dd in the result;
`date` reads as "May 12" / "5月12日", `day` adds the weekday; small counts become words
("three" / "三"); money is "$1,234.50" / "1,234.50元"; enum values use the declared words.
"""

from __future__ import annotations

import datetime as dt
import string
from collections.abc import Mapping
from typing import Any

from gateway.core.actions.declarations import Action, ResultField

_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December")
_WEEKDAYS_EN = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_WEEKDAYS_ZH = ("星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日")
_EN_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
             "eleven", "twelve")
_ZH_DIGITS = "零一二三四五六七八九"


def spoken_number(value: float, language: str) -> str:
    if value == int(value) and 0 <= value <= 99:
        n = int(value)
        if language == "zh":
            if n < 10:
                return _ZH_DIGITS[n]
            tens, ones = divmod(n, 10)
            return f"{'' if tens == 1 else _ZH_DIGITS[tens]}十{_ZH_DIGITS[ones] if ones else ''}"
        if n <= 12:
            return _EN_WORDS[n]
    return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}"


def spoken_date(value: str, language: str, *, weekday: bool = False, today: dt.date | None = None) -> str:
    try:
        day = dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return str(value)  # not a date after all: said as written
    year = (today or dt.date.today()).year
    if language == "zh":
        text = (f"{day.year}年" if day.year != year else "") + f"{day.month}月{day.day}日"
        return f"{text}（{_WEEKDAYS_ZH[day.weekday()]}）" if weekday else text
    text = f"{_MONTHS[day.month - 1]} {day.day}" + (f", {day.year}" if day.year != year else "")
    return f"{_WEEKDAYS_EN[day.weekday()]}, {text}" if weekday else text


def spoken_money(value: float, language: str) -> str:
    return f"{value:,.2f}元" if language == "zh" else f"${value:,.2f}"


def spoken(field: ResultField | None, value: Any, language: str, today: dt.date | None = None) -> str:
    if field is None or field.type == "string":
        return str(value)
    if field.type == "enum":
        words = field.values.get(str(value))
        return words.get(language, words.get("en", str(value))) if words else str(value)
    if field.type in ("date", "day"):
        return spoken_date(str(value), language, weekday=field.type == "day", today=today)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return spoken_money(number, language) if field.type == "money" else spoken_number(number, language)


def render(template: str, action: Action, values: Mapping[str, Any], language: str,
           today: dt.date | None = None) -> str:
    """Fills `template` from parameters and result fields, each said the way its type is said."""
    fields = {f.name: f for f in action.result}
    filled: dict[str, str] = {}
    for _, name, _, _ in string.Formatter().parse(template):
        if name is not None and name not in filled:
            filled[name] = spoken(fields.get(name), values.get(name, ""), language, today)
    return template.format(**filled)
