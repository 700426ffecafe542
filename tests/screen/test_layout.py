"""Reading order: columns vs tables vs rows, blocks, and the vertical-rule cue."""

from __future__ import annotations

import numpy as np

from modalities.screen.layout import Line, from_ocr, reading_order, rule_finder
from models.base import OcrLine


def line(text: str, x: float, y: float, w: float | None = None, h: float = 24) -> Line:
    return Line(text, (x, y, x + (w if w is not None else 11 * len(text)), y + h), 0.99)


def texts(lines: list[Line]) -> list[str]:
    return [ln.text for ln in lines]


def test_table_rows_read_across_columns() -> None:
    lines = [line("Product", 280, 290), line("Qty", 640, 290), line("Price", 760, 290),
             line("Earbuds", 280, 340), line("1", 640, 340), line("$59.90", 760, 340),
             line("Cable", 280, 384), line("2", 640, 384), line("$9.98", 760, 384)]
    ordered, _ = reading_order(lines[::-1])
    assert texts(ordered) == ["Product", "Qty", "Price", "Earbuds", "1", "$59.90", "Cable", "2", "$9.98"]
    rows = [ln.row for ln in ordered]
    assert rows[0] == rows[1] == rows[2] != rows[3] == rows[4] == rows[5] != rows[6]


def test_columns_that_start_together_are_read_one_after_another() -> None:
    sidebar = [line("Account", 30, 100), line("Orders", 30, 150), line("Help", 30, 200)]
    main = [line("Order A1029", 260, 100, h=32), line("Status: Shipped", 260, 170),
            line("Total: $69.88", 260, 230), line("Track parcel", 260, 320)]
    ordered, blocks = reading_order(main + sidebar)
    assert texts(ordered) == ["Account", "Orders", "Help", "Order A1029", "Status: Shipped",
                              "Total: $69.88", "Track parcel"]
    assert {ln.block for ln in ordered[:3]}.isdisjoint({ln.block for ln in ordered[3:]})
    assert len(blocks) >= 3


def test_aligned_sidebar_needs_the_rule_cue() -> None:
    # Sidebar rows happen to align with content rows: without a visible border this looks like
    # a two-column table; the sidebar's background edge makes it columns.
    sidebar = [line("Account", 30, 100), line("Orders", 30, 144), line("Help", 30, 188)]
    main = [line("Order A1029", 260, 100), line("Placed May 12", 260, 144), line("Shipped", 260, 188)]
    table_order, _ = reading_order(sidebar + main)
    assert texts(table_order)[:2] == ["Account", "Order A1029"]
    image = np.full((300, 600, 3), 255, np.uint8)
    image[:, :200] = (235, 238, 242)  # sidebar background ends at x=200
    ordered, _ = reading_order(sidebar + main, rule_finder(image))
    assert texts(ordered) == ["Account", "Orders", "Help", "Order A1029", "Placed May 12", "Shipped"]


def test_header_then_columns_then_footer() -> None:
    # Columns with their own line rhythm (not row-aligned like a table).
    lines = [line("ShopMart", 30, 20), line("Nav one", 30, 100), line("Nav two", 30, 140),
             line("Body one", 300, 104, h=30), line("Body two", 300, 160), line("Body three", 300, 196),
             line("Footer note", 30, 400)]
    ordered, _ = reading_order(lines[::-1])
    assert texts(ordered) == ["ShopMart", "Nav one", "Nav two", "Body one", "Body two", "Body three",
                              "Footer note"]


def test_paragraph_lines_form_one_block_and_distant_lines_do_not() -> None:
    lines = [line("Payment failed", 380, 214, h=34), line("Your card was declined.", 380, 274),
             line("Please try again.", 380, 302), line("Retry", 380, 480)]
    ordered, blocks = reading_order(lines)
    assert texts(ordered) == ["Payment failed", "Your card was declined.", "Please try again.", "Retry"]
    assert blocks[-1].text == "Retry"
    assert "Your card was declined.\nPlease try again." in blocks[0].text or \
        "Your card was declined.\nPlease try again." in blocks[1].text


def test_from_ocr_and_empty() -> None:
    ocr = [OcrLine(" A ", ((0, 0), (10, 0), (10, 5), (0, 5)), 0.9), OcrLine("  ", ((0, 0),) * 4, 0.9)]
    converted = from_ocr(ocr)
    assert [ln.text for ln in converted] == ["A"] and converted[0].box == (0, 0, 10, 5)
    assert reading_order([]) == ([], [])
