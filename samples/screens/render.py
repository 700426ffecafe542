"""Render the project's own 1280x720 screenshots with known text and fields.

Run: `.venv/bin/python samples/screens/render.py` (needs DejaVu and Noto CJK fonts: Debian
`fonts-dejavu-core` and `fonts-noto-cjk`). Writes `<name>.png` and `<name>.json` beside this file;
the JSON holds every text item with its box (for an order-independent character error rate) and
the fields a reader should extract. Deterministic: same fonts give byte-identical images.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

HERE = Path(__file__).resolve().parent
LATIN = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
LATIN_BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
CJK = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
CJK_BOLD = "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"
SIZE = (1280, 720)


@dataclass
class Screen:
    name: str
    kind: str
    language: str
    fields: dict[str, list[str]]
    image: Image.Image = field(default_factory=lambda: Image.new("RGB", SIZE, "white"))
    items: list[dict[str, object]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.draw = ImageDraw.Draw(self.image)

    def text(self, x: int, y: int, text: str, size: int = 20, color: str = "#222222",
             bold: bool = False) -> None:
        cjk = any(ord(c) > 0x2E80 for c in text) or self.language == "zh"
        path = (CJK_BOLD if bold else CJK) if cjk else (LATIN_BOLD if bold else LATIN)
        font = ImageFont.truetype(path, size)
        self.draw.text((x, y), text, font=font, fill=color)
        left, top, right, bottom = self.draw.textbbox((x, y), text, font=font)
        self.items.append({"text": text, "box": [left, top, right, bottom]})

    def rect(self, box: tuple[int, int, int, int], fill: str, outline: str | None = None,
             radius: int = 6) -> None:
        self.draw.rounded_rectangle(box, radius=radius, fill=fill, outline=outline)

    def save(self) -> None:
        self.image.save(HERE / f"{self.name}.png", optimize=True)
        meta = {"kind": self.kind, "language": self.language, "size": list(SIZE),
                "items": self.items, "fields": self.fields}
        (HERE / f"{self.name}.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1) + "\n",
                                                encoding="utf-8")


def luhn_complete(prefix: str) -> str:
    """Append the Luhn check digit (test card numbers must pass the checksum the masker uses)."""
    total = 0
    for i, ch in enumerate(reversed(prefix)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return prefix + str((10 - total % 10) % 10)


def cn_id_complete(first17: str) -> str:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    check = "10X98765432"[sum(int(c) * w for c, w in zip(first17, weights, strict=True)) % 11]
    return first17 + check


def chrome(s: Screen, title: str, nav: list[str]) -> None:
    s.rect((0, 0, 1280, 64), "#1f3b63", radius=0)
    s.text(32, 18, title, 24, "white", bold=True)
    s.rect((0, 64, 220, 720), "#f1f3f6", radius=0)
    for i, item in enumerate(nav):
        s.text(32, 100 + i * 44, item, 18, "#3a4655")


def order_en(updated: bool = False) -> Screen:
    status = "Delivered" if updated else "Shipped"
    s = Screen("order_en_update" if updated else "order_en", "order", "en", {
        "order_number": ["A1029"], "tracking_number": ["1Z999AA10123456784"],
        "status": [status], "date": ["2024-05-12"],
        "amount": ["USD 59.90", "USD 9.98", "USD 69.88"],
        "product": ["Wireless Earbuds Pro", "USB-C Cable 2m"]})
    chrome(s, "ShopMart", ["My account", "Orders", "Returns", "Help center"])
    s.text(260, 96, "Order A1029", 30, bold=True)
    s.text(260, 146, "Placed on May 12, 2024", 18, "#555555")
    s.text(260, 190, f"Status: {status}", 20)
    s.text(260, 228, "Tracking number: 1Z999AA10123456784", 20)
    s.rect((260, 280, 900, 322), "#e8edf4")
    s.text(276, 290, "Product", 18, bold=True)
    s.text(640, 290, "Qty", 18, bold=True)
    s.text(760, 290, "Price", 18, bold=True)
    for i, (name, qty, price) in enumerate((("Wireless Earbuds Pro", "1", "$59.90"),
                                            ("USB-C Cable 2m", "2", "$9.98"))):
        y = 340 + i * 44
        s.text(276, y, name, 18)
        s.text(640, y, qty, 18)
        s.text(760, y, price, 18)
    s.text(640, 450, "Total: $69.88", 22, bold=True)
    s.rect((940, 96, 1248, 330), "#fafafa", outline="#d0d5dc")
    s.text(960, 112, "Delivery address", 18, bold=True)
    s.text(960, 150, "Jane Doe", 18)
    s.text(960, 182, "500 Market Street", 18)
    s.text(960, 214, "San Francisco, CA", 18)
    s.text(960, 246, "jane.doe@example.com", 16)
    s.rect((260, 520, 420, 566), "#1f6feb")
    s.text(284, 531, "Track parcel", 18, "white")
    return s


def order_zh() -> Screen:
    s = Screen("order_zh", "order", "zh", {
        "order_number": ["DD20240512883"], "tracking_number": ["SF1402938475561"],
        "status": ["已发货"], "date": ["2024-05-12"],
        "amount": ["CNY 299.00", "CNY 39.80", "CNY 338.80"],
        "product": ["无线蓝牙耳机", "硅胶手机壳"]})
    chrome(s, "优选商城", ["我的账户", "我的订单", "退换货", "帮助中心"])
    s.text(260, 92, "订单详情", 30, bold=True)
    s.text(260, 146, "订单号：DD20240512883", 20)
    s.text(260, 186, "下单时间：2024年5月12日", 20)
    s.text(260, 226, "订单状态：已发货", 20)
    s.text(260, 266, "快递单号：SF1402938475561", 20)
    s.rect((260, 316, 900, 358), "#e8edf4")
    s.text(276, 324, "商品", 18, bold=True)
    s.text(640, 324, "数量", 18, bold=True)
    s.text(760, 324, "金额", 18, bold=True)
    for i, (name, qty, price) in enumerate((("无线蓝牙耳机", "1", "¥299.00"),
                                            ("硅胶手机壳", "2", "¥39.80"))):
        y = 374 + i * 44
        s.text(276, y, name, 18)
        s.text(640, y, qty, 18)
        s.text(760, y, price, 18)
    s.text(640, 486, "实付款：¥338.80", 22, bold=True)
    s.rect((940, 92, 1248, 300), "#fafafa", outline="#d0d5dc")
    s.text(960, 108, "收货信息", 18, bold=True)
    s.text(960, 146, "收货人：王先生", 18)
    s.text(960, 180, "手机：13812345678", 18)
    s.text(960, 214, "上海市浦东新区世纪大道100号", 16)
    return s


def dialog(s: Screen, box: tuple[int, int, int, int]) -> None:
    s.rect((0, 0, 1280, 720), "#8a9099", radius=0)  # dimmed page behind the modal
    s.rect(box, "white", outline="#c9ced6", radius=10)


def error_en() -> Screen:
    s = Screen("error_en", "error", "en", {
        "error_code": ["E4031"], "error_message": ["Payment failed"], "date": ["2024-06-03"]})
    dialog(s, (340, 180, 940, 540))
    s.text(380, 214, "Payment failed", 28, "#b42318", bold=True)
    s.text(380, 274, "Your card was declined by the issuer.", 19)
    s.text(380, 306, "Please try another payment method.", 19)
    s.text(380, 364, "Error code: E4031", 19, "#444444")
    s.text(380, 398, "Time: 2024-06-03 14:22", 17, "#666666")
    s.rect((620, 470, 740, 514), "#eef0f3")
    s.text(650, 480, "Cancel", 18)
    s.rect((760, 470, 900, 514), "#1f6feb")
    s.text(800, 480, "Retry", 18, "white")
    return s


def error_zh() -> Screen:
    s = Screen("error_zh", "error", "zh", {
        "error_code": ["50013"], "error_message": ["系统错误"], "date": ["2024-06-18"]})
    dialog(s, (340, 180, 940, 540))
    s.text(380, 212, "系统错误", 28, "#b42318", bold=True)
    s.text(380, 272, "网络连接超时，请稍后重试。", 20)
    s.text(380, 312, "如问题持续存在，请联系客服。", 20)
    s.text(380, 366, "错误代码：50013", 19, "#444444")
    s.text(380, 400, "时间：2024-06-18 09:41", 17, "#666666")
    s.rect((620, 470, 740, 514), "#eef0f3")
    s.text(660, 478, "取消", 18)
    s.rect((760, 470, 900, 514), "#1f6feb")
    s.text(810, 478, "重试", 18, "white")
    return s


def payment_en() -> Screen:
    card = luhn_complete("411111111111111")
    grouped = " ".join(card[i:i + 4] for i in range(0, 16, 4))
    s = Screen("payment_en", "payment", "en", {
        "order_number": ["A2088"], "amount": ["USD 120.00"], "date": ["2024-06-01"]})
    chrome(s, "SecurePay Checkout", ["Cart", "Shipping", "Payment", "Review"])
    s.text(260, 96, "Payment", 30, bold=True)
    s.text(260, 150, "Order A2088", 20)
    s.text(260, 186, "Date: 2024-06-01", 18, "#555555")
    s.text(260, 236, "Amount due: USD 120.00", 24, bold=True)
    s.text(260, 300, "Card number", 16, "#555555")
    s.rect((260, 326, 700, 370), "#fafafa", outline="#c9ced6")
    s.text(276, 336, grouped, 20)
    s.text(260, 396, "Expiry 08/27", 18)
    s.text(480, 396, "CVV ***", 18)
    s.rect((260, 460, 440, 508), "#1f6feb")
    s.text(304, 472, "Pay now", 20, "white")
    return s


def payment_zh() -> Screen:
    card = luhn_complete("622202123456789012")
    ident = cn_id_complete("11010119900307851")
    s = Screen("payment_zh", "payment", "zh", {
        "order_number": ["DD20240601007"], "amount": ["CNY 1299.00"], "date": ["2024-06-01"]})
    chrome(s, "收银台", ["购物车", "确认订单", "支付", "完成"])
    s.text(260, 92, "确认付款", 30, bold=True)
    s.text(260, 148, "订单编号：DD20240601007", 20)
    s.text(260, 186, "日期：2024-06-01", 18, "#555555")
    s.text(260, 234, "应付金额：¥1,299.00", 24, bold=True)
    s.text(260, 298, f"银行卡号：{card}", 20)
    s.text(260, 338, f"身份证号：{ident}", 20)
    s.rect((260, 420, 440, 468), "#1f6feb")
    s.text(306, 430, "立即支付", 20, "white")
    return s


def receipt_en() -> Screen:
    s = Screen("receipt_en", "receipt", "en", {
        "order_number": ["R-58213"], "date": ["2024-07-21"],
        "amount": ["USD 12.50", "USD 10.90", "USD 23.40", "USD 1.87", "USD 25.27"],
        "product": ["Coffee beans 1kg", "Oat milk x2"]})
    s.rect((0, 0, 1280, 720), "#e9e6df", radius=0)
    s.rect((420, 30, 860, 690), "white", radius=4)
    s.text(540, 56, "GROCERY MART", 28, bold=True)
    s.text(460, 118, "Receipt #R-58213", 18)
    s.text(460, 150, "Date: 2024-07-21", 18)
    rows = (("Coffee beans 1kg", "$12.50"), ("Oat milk x2", "$10.90"), ("Subtotal", "$23.40"),
            ("Tax", "$1.87"))
    for i, (label, price) in enumerate(rows):
        s.text(460, 210 + i * 40, label, 18)
        s.text(740, 210 + i * 40, price, 18)
    s.text(460, 390, "Total", 22, bold=True)
    s.text(724, 390, "$25.27", 22, bold=True)
    s.text(460, 450, "Paid by card", 18)
    s.text(560, 560, "Thank you!", 22)
    return s


def receipt_zh() -> Screen:
    s = Screen("receipt_zh", "receipt", "zh", {
        "order_number": ["XP20240721035"], "date": ["2024-07-21"],
        "amount": ["CNY 56.00", "CNY 30.50", "CNY 86.50"], "product": ["鲜牛奶", "全麦面包"]})
    s.rect((0, 0, 1280, 720), "#e9e6df", radius=0)
    s.rect((420, 30, 860, 690), "white", radius=4)
    s.text(570, 56, "购物小票", 28, bold=True)
    s.text(460, 118, "单号：XP20240721035", 18)
    s.text(460, 150, "日期：2024-07-21", 18)
    for i, (label, price) in enumerate((("鲜牛奶", "¥56.00"), ("全麦面包", "¥30.50"))):
        s.text(460, 210 + i * 40, label, 18)
        s.text(740, 210 + i * 40, price, 18)
    s.text(460, 310, "合计", 22, bold=True)
    s.text(724, 310, "¥86.50", 22, bold=True)
    s.text(460, 370, "支付方式：微信支付", 18)
    s.text(560, 480, "谢谢惠顾", 22)
    return s


def main() -> None:
    for screen in (order_en(), order_en(updated=True), order_zh(), error_en(), error_zh(),
                   payment_en(), payment_zh(), receipt_en(), receipt_zh()):
        screen.save()
        print(f"wrote {screen.name}.png ({len(screen.items)} text items)")


if __name__ == "__main__":
    main()
