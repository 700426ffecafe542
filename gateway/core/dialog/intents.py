"""Intent per turn from keyword rules in English and Chinese (deterministic, explainable).

Policies decide emergency and human requests first; these rules name what the caller wants so
the state, the handoff package and routing can use it.
"""

from __future__ import annotations

import re

INTENTS = ("product_question", "order_status", "return_refund", "payment_transfer", "complaint",
           "account_change", "human_request", "emergency", "other")

_RULES: dict[str, tuple[str, ...]] = {
    "human_request": (
        r"\b(speak|talk|connect|transfer)\b.{0,20}\b(person|human|agent|representative|someone|operator)",
        r"\b(real|live) (person|human|agent)\b", r"\bhuman\b", r"\brepresentative\b", r"\boperator\b",
        "转人工", "人工客服", "人工服务", "找人工", "真人", "接人工", "客服人员", "转接人工"),
    "order_status": (
        r"\bwhere('s| is)\b.{0,20}\b(order|parcel|package|delivery)", r"\btrack(ing)?\b",
        r"\b(order|parcel|package)\b.{0,20}\b(status|arrive|arrived|late|shipped)",
        "物流", "快递", "到哪", "发货", "订单状态", "还没到", "没收到", "查件", "配送"),
    "return_refund": (
        r"\breturn", r"\brefund", r"\bexchange", r"\bmoney back\b", "退货", "退款", "换货", "退钱", "退回"),
    "payment_transfer": (
        r"\bpa(y|ying|yment|id)\b", r"\btransfer", r"\bwithdraw", r"\bwallet\b", r"\bcharged?\b",
        r"\binstal?ments?\b", r"\bcard\b", r"\bpayout\b",
        "支付", "付款", "转账", "提现", "钱包", "扣款", "分期", "收款", "银行卡"),
    "account_change": (
        r"\baccount\b", r"\bpassword\b", r"\b(e-?mail|phone number|mobile)\b", r"\bsign in\b",
        r"\blog ?in\b", r"\bmembership\b", "账户", "账号", "密码", "手机号", "邮箱", "注销", "登录", "会员"),
    "complaint": (
        r"\bcomplain", r"\bunacceptable\b", r"\bterrible\b", r"\bawful\b", r"\buseless\b",
        r"\bworst\b", r"\bangry\b", r"\brude\b", "投诉", "太差", "差劲", "气死", "不满意", "垃圾", "离谱"),
    "product_question": (
        r"\bwarranty\b", r"\bguarantee\b", r"\bproduct\b", r"\bsize\b", r"\bcolou?r\b", r"\bdelivery time",
        r"\bshipping\b", r"\bdeliver", r"\bin stock\b", r"\bsofa\b", r"\blamp\b", r"\bkettle\b", r"\bchair\b",
        r"\bmattress\b", r"\bheadphones?\b",
        "保修", "质保", "商品", "尺寸", "颜色", "运费", "包邮", "多久能到",
        "沙发", "台灯", "水壶", "椅子", "床垫", "耳机"),
}
_COMPILED = {intent: tuple(re.compile(p) for p in patterns) for intent, patterns in _RULES.items()}
# When several intents match, the more specific one wins (a refund complaint is a complaint).
_PRIORITY = ("human_request", "complaint", "return_refund", "payment_transfer", "account_change",
             "order_status", "product_question")


def classify(text: str) -> str:
    lowered = text.lower()
    hits = {intent for intent, patterns in _COMPILED.items() if any(p.search(lowered) for p in patterns)}
    for intent in _PRIORITY:
        if intent in hits:
            return intent
    return "other"
