"""What a contact center needs from a screen: fields, the kind of screen, a one-line summary.

Rule-based over rows in reading order (English and Chinese labels): order and tracking numbers,
status, amounts with currency, dates (as ISO yyyy-mm-dd), error codes and messages, product
names (table or receipt rows that end in a price). Pure functions; callers mask PII afterwards.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from contracts.text import HAN
from modalities.screen.layout import Line, group_rows, row_text

ScreenKind = Literal["order", "error", "payment", "receipt", "unknown"]
KIND_NAMES: dict[str, tuple[str, str]] = {  # kind: (English, Chinese)
    "order": ("an order page", "订单页面"), "error": ("an error dialog", "错误提示"),
    "payment": ("a payment page", "支付页面"), "receipt": ("a receipt", "收据"),
    "unknown": ("a screen", "屏幕"),
}


@dataclass(frozen=True)
class Field:
    # order_number | tracking_number | status | amount | date | error_code | error_message | product
    kind: str
    value: str  # normalised: "USD 59.90", "2024-05-12"
    label: str = ""  # the label it was read from, lower-cased ("total", "实付款")


_SEP = r"\s*[:：#]?\s*"
_ID = r"([A-Z0-9][A-Z0-9-]{2,30}[A-Z0-9])"
_ORDER = re.compile(r"(?<![快运物流递])(?:(order|receipt)\s*(?:no\.?|number|id|#)?|(订单号码?|订单编号|单号))"
                    + _SEP + _ID, re.I)
_TRACKING = re.compile(r"(tracking|快递单号|运单号|物流单号)\s*(?:no\.?|number|id|#)?" + _SEP
                       + r"([A-Z0-9]{8,30})", re.I)
_STATUS = re.compile(r"(status|订单状态|状态)\s*[:：]\s*(\S.{0,38})", re.I)
_CUR = {"$": "USD", "US$": "USD", "USD": "USD", "¥": "CNY", "CNY": "CNY", "RMB": "CNY", "元": "CNY",
        "€": "EUR", "EUR": "EUR", "£": "GBP", "GBP": "GBP", "HK$": "HKD", "HKD": "HKD"}
_NUM = r"(\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?|\d+(?:\.\d{1,2})?)"
_AMOUNT_PRE = re.compile(r"(US\$|HK\$|\$|¥|€|£|USD|CNY|RMB|EUR|GBP|HKD)\s*" + _NUM)
_AMOUNT_POST = re.compile(_NUM + r"\s*(元|USD|CNY|RMB|EUR|GBP|HKD)(?![A-Za-z])")
_TOTAL_WORDS = ("total", "amount due", "grand total", "合计", "总计", "实付", "应付", "总额", "总价")
_NOT_PRODUCT = ("subtotal", "tax", "shipping", "discount", "小计", "税", "运费", "优惠", "amount", "金额",
                "balance", "余额", "price", "价格", *_TOTAL_WORDS)
_MONTHS = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep",
                                        "oct", "nov", "dec"), 1)}
# A time may follow with its space lost by OCR ("2024-06-1809:41").
_DATE_NUM = re.compile(r"(?<!\d)(20\d{2}|19\d{2})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})"
                       r"(?:(?!\d)|(?=\d{2}:\d{2}))")
_DATE_EN = re.compile(r"\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s*(\d{1,2}),?\s*(\d{4})",
                      re.I)
_DATE_EU = re.compile(r"\b(\d{1,2})\s+(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?,?\s+(\d{4})",
                      re.I)
_ERROR_CODE = re.compile(r"(error\s*code|error|code|错误代码|错误码|代码)" + _SEP + r"([A-Z0-9_x-]{3,32})",
                         re.I)
_ERROR_TOKEN = re.compile(r"\b(ERR_[A-Z_]{3,40}|0x[0-9A-Fa-f]{8})\b")
_ERROR_WORDS = re.compile(r"failed|failure|error|declined|unable|denied|timed? ?out|exception|"
                          r"失败|错误|异常|超时|无法|拒绝", re.I)
_PRODUCT_LABEL = re.compile(r"(product|item|商品名称|商品)\s*[:：]\s*(\S.{0,60})", re.I)
_KIND_WORDS: dict[str, tuple[str, ...]] = {
    "error": ("error", "failed", "failure", "declined", "unable", "exception", "timeout", "retry",
              "错误", "失败", "异常", "超时", "无法", "重试"),
    "payment": ("payment", "pay now", "checkout", "card number", "amount due", "cvv", "expiry",
                "支付", "付款", "收银台", "银行卡", "应付"),
    "receipt": ("receipt", "subtotal", "tax", "thank you", "paid by", "小票", "收据", "合计", "谢谢惠顾",
                "支付方式"),
    "order": ("order", "tracking", "shipped", "delivered", "delivery", "status", "订单", "快递", "物流",
              "发货", "收货"),
}


def normalise(text: str) -> str:
    """Full-width to half-width (OCR returns ￥ and ： either way)."""
    return unicodedata.normalize("NFKC", text)


def extract_fields(lines: Sequence[Line]) -> list[Field]:
    """Fields in reading order, without duplicates."""
    found: list[Field] = []
    rows = group_rows(lines)
    for row in rows:
        text = normalise(row_text(row))
        found.extend(_labelled(text))
        found.extend(_amounts(text))
        found.extend(_dates(text))
        product = _product(row)
        if product:
            found.append(Field("product", product))
    for ln in lines:  # the first line that reads like an error is its message (dialog title)
        text = normalise(ln.text)
        if _ERROR_WORDS.search(text) and not _ERROR_CODE.search(text):
            found.append(Field("error_message", text.strip()))
            break
    unique: dict[tuple[str, str], Field] = {}
    for f in found:
        unique.setdefault((f.kind, f.value), f)
    return list(unique.values())


def _labelled(text: str) -> list[Field]:
    out = []
    for m in _TRACKING.finditer(text):
        out.append(Field("tracking_number", m.group(2).upper(), m.group(1).lower()))
    tracked = {f.value for f in out}
    for m in _ORDER.finditer(text):
        value = m.group(3).upper()
        if any(ch.isdigit() for ch in value) and value not in tracked:
            out.append(Field("order_number", value, (m.group(1) or m.group(2)).lower()))
    for m in _STATUS.finditer(text):
        out.append(Field("status", m.group(2).strip(), m.group(1).lower()))
    for m in _ERROR_CODE.finditer(text):
        value = m.group(2)
        if any(ch.isdigit() for ch in value) or "_" in value:
            out.append(Field("error_code", value, m.group(1).lower()))
    for m in _ERROR_TOKEN.finditer(text):
        out.append(Field("error_code", m.group(1), ""))
    for m in _PRODUCT_LABEL.finditer(text):
        out.append(Field("product", m.group(2).strip(), m.group(1).lower()))
    return out


def _amounts(text: str) -> list[Field]:
    out = []
    label = text.split(":")[0].strip().lower() if ":" in text else ""
    for m in _AMOUNT_PRE.finditer(text):
        label = label or text[:m.start()].strip().lower()
        out.append(Field("amount", f"{_CUR[m.group(1).upper()]} {m.group(2).replace(',', '')}", label))
    for m in _AMOUNT_POST.finditer(text):
        label = label or text[:m.start()].strip().lower()
        out.append(Field("amount", f"{_CUR[m.group(2).upper()]} {m.group(1).replace(',', '')}", label))
    return out


def _dates(text: str) -> list[Field]:
    out = []
    for m in _DATE_NUM.finditer(text):
        out.append(_date(int(m.group(1)), int(m.group(2)), int(m.group(3))))
    for m in _DATE_EN.finditer(text):
        out.append(_date(int(m.group(3)), _MONTHS[m.group(1).lower()], int(m.group(2))))
    for m in _DATE_EU.finditer(text):
        out.append(_date(int(m.group(3)), _MONTHS[m.group(2).lower()], int(m.group(1))))
    return [f for f in out if f.value]


def _date(year: int, month: int, day: int) -> Field:
    ok = 1 <= month <= 12 and 1 <= day <= 31
    return Field("date", f"{year:04d}-{month:02d}-{day:02d}" if ok else "")


def _product(row: Sequence[Line]) -> str:
    """A row whose last cell is a price and whose first cell is a name: a table or receipt item."""
    if len(row) < 2:
        return ""
    first, last = normalise(row[0].text).strip(), normalise(row[-1].text)
    if not (_AMOUNT_PRE.fullmatch(last.strip()) or _AMOUNT_POST.fullmatch(last.strip())):
        return ""
    lowered = first.lower()
    if (":" in first or any(w in lowered for w in _NOT_PRODUCT) or _AMOUNT_PRE.search(first)
            or not re.search(f"[A-Za-z{HAN}]", first)):
        return ""
    return first


def classify(lines: Sequence[Line], fields: Sequence[Field]) -> ScreenKind:
    text = normalise(" ".join(ln.text for ln in lines)).lower()
    scores = {kind: sum(text.count(w) for w in words) for kind, words in _KIND_WORDS.items()}
    kinds = {f.kind for f in fields}
    scores["error"] += 3 * ("error_code" in kinds)
    scores["order"] += 2 * ("tracking_number" in kinds)
    best = max(scores, key=lambda k: scores[k])
    return best if scores[best] >= 2 else "unknown"  # type: ignore[return-value]


def total_amount(fields: Sequence[Field]) -> Field | None:
    amounts = [f for f in fields if f.kind == "amount"]
    for f in amounts:
        if any(w in f.label for w in _TOTAL_WORDS) and not any(w in f.label for w in ("subtotal", "小计")):
            return f
    return max(amounts, key=lambda f: float(f.value.split()[1]), default=None)


def summarise(kind: ScreenKind, fields: Sequence[Field], full_text: str, language: str) -> str:
    """One sentence for the core: what the caller showed and its key fields."""
    zh = language.lower().startswith("zh")
    first = {f.kind: f.value for f in reversed(fields)}
    products = [f.value for f in fields if f.kind == "product"][:3]
    total = total_amount(fields)
    parts: list[tuple[str, str, str]] = []  # (English label, Chinese label, value)
    for key, en, cn in (("order_number", "order", "订单号"), ("status", "status", "状态"),
                        ("tracking_number", "tracking number", "快递单号"),
                        ("error_message", "message", "提示"), ("error_code", "error code", "错误代码")):
        if key in first:
            parts.append((en, cn, first[key]))
    if total is not None:
        parts.append(("amount", "金额", total.value))
    if products:
        parts.append(("items", "商品", ", ".join(products)))
    if "date" in first:
        parts.append(("date", "日期", first["date"]))
    name_en, name_zh = KIND_NAMES[kind]
    if not parts and not full_text.strip():
        return "用户分享了一张截图，但没有可识别的文字。" if zh else \
            "The caller shared a screenshot with no readable text."
    if zh:
        body = "，".join(f"{cn} {value}" for _, cn, value in parts) or _snippet(full_text)
        return f"用户分享了一张{name_zh}截图：{body}。"
    body = ", ".join(f"{en} {value}" for en, _, value in parts) or f'text "{_snippet(full_text)}"'
    return f"The caller shared a screenshot of {name_en}: {body}."


def _snippet(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit - 1] + "…"
