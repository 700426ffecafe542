"""Field extraction, screen kind and summaries on hand-made lines (English and Chinese)."""

from __future__ import annotations

from modalities.screen.fields import Field, classify, extract_fields, summarise, total_amount
from modalities.screen.layout import Line, reading_order


def rows(*cells: tuple[str, ...]) -> list[Line]:
    """One row per tuple; cells 200 px apart, rows 44 px apart."""
    out = []
    for r, row in enumerate(cells):
        for c, text in enumerate(row):
            out.append(Line(text, (100 + 200 * c, 100 + 44 * r, 100 + 200 * c + 150, 124 + 44 * r), 0.99))
    return reading_order(out)[0]


def pairs(fields: list[Field]) -> set[tuple[str, str]]:
    return {(f.kind, f.value) for f in fields}


def test_order_page_english() -> None:
    lines = rows(("Order A1029",), ("Placed on May 12, 2024",), ("Status: Shipped",),
                 ("Tracking number: 1Z999AA10123456784",), ("Product", "Qty", "Price"),
                 ("Wireless Earbuds Pro", "1", "$59.90"), ("Total: $69.88",))
    fields = extract_fields(lines)
    assert pairs(fields) == {("order_number", "A1029"), ("date", "2024-05-12"), ("status", "Shipped"),
                             ("tracking_number", "1Z999AA10123456784"), ("amount", "USD 59.90"),
                             ("product", "Wireless Earbuds Pro"), ("amount", "USD 69.88")}
    assert classify(lines, fields) == "order"
    total = total_amount(fields)
    assert total is not None and total.value == "USD 69.88"


def test_order_page_chinese_full_width_and_tracking_not_order() -> None:
    lines = rows(("订单号：DD20240512883",), ("下单时间：2024年5月12日",), ("订单状态：已发货",),
                 ("快递单号：SF1402938475561",), ("无线蓝牙耳机", "1", "￥299.00"), ("实付款：￥338.80",))
    fields = extract_fields(lines)
    assert pairs(fields) == {("order_number", "DD20240512883"), ("date", "2024-05-12"),
                             ("status", "已发货"), ("tracking_number", "SF1402938475561"),
                             ("amount", "CNY 299.00"), ("product", "无线蓝牙耳机"), ("amount", "CNY 338.80")}
    assert classify(lines, fields) == "order"


def test_error_dialog() -> None:
    lines = rows(("Payment failed",), ("Your card was declined by the issuer.",),
                 ("Error code: E4031",), ("Time: 2024-06-03 14:22",), ("Cancel", "Retry"))
    fields = extract_fields(lines)
    assert ("error_code", "E4031") in pairs(fields)
    assert ("error_message", "Payment failed") in pairs(fields)
    assert ("date", "2024-06-03") in pairs(fields)
    assert classify(lines, fields) == "error"


def test_error_tokens_and_time_glued_to_date() -> None:
    fields = extract_fields(rows(("连接失败 ERR_CONNECTION_REFUSED",), ("时间：2024-06-1809:41",)))
    assert {("error_code", "ERR_CONNECTION_REFUSED"), ("date", "2024-06-18")} <= pairs(fields)


def test_amount_forms_and_receipt_items() -> None:
    lines = rows(("Coffee beans 1kg", "$12.50"), ("Subtotal", "$12.50"), ("Tax", "€1.00"),
                 ("Total", "1,299.00 元"), ("Thank you!",))
    fields = extract_fields(lines)
    assert ("product", "Coffee beans 1kg") in pairs(fields)
    assert not any(f.kind == "product" and f.value in ("Subtotal", "Tax", "Total") for f in fields)
    assert {("amount", "USD 12.50"), ("amount", "EUR 1.00"), ("amount", "CNY 1299.00")} <= pairs(fields)
    total = total_amount(fields)
    assert total is not None and total.value == "CNY 1299.00"
    assert classify(lines, fields) == "receipt"


def test_bad_dates_are_dropped() -> None:
    assert not [f for f in extract_fields(rows(("2024-13-45",))) if f.kind == "date"]


def test_unknown_kind_and_summaries() -> None:
    lines = rows(("Hello world",))
    assert classify(lines, extract_fields(lines)) == "unknown"
    assert summarise("unknown", [], "Hello world", "en") == \
        'The caller shared a screenshot of a screen: text "Hello world".'
    assert summarise("unknown", [], "", "en") == "The caller shared a screenshot with no readable text."
    fields = [Field("order_number", "A1029"), Field("status", "Shipped"),
              Field("amount", "USD 69.88", "total")]
    assert summarise("order", fields, "", "en") == \
        "The caller shared a screenshot of an order page: order A1029, status Shipped, amount USD 69.88."
    assert summarise("order", fields, "", "zh") == \
        "用户分享了一张订单页面截图：订单号 A1029，状态 Shipped，金额 USD 69.88。"
