"""Everything the core says on its own (not quoted from the knowledge base), per language.

Kept as data so wording is reviewed in one place and every message exists in every language.
"""

from __future__ import annotations

from collections.abc import Mapping

LANGUAGES = ("en", "zh")

MESSAGES: Mapping[str, Mapping[str, str]] = {
    "no-answer": {
        "en": "I'm sorry, I don't have information about that in our policies. "
              "Would you like me to connect you to a person?",
        "zh": "抱歉，我们的政策资料里没有这方面的信息。需要为您转接人工客服吗？",
    },
    "empty": {
        "en": "Sorry, I didn't catch that. Could you say it again?",
        "zh": "抱歉，我没有听清。您能再说一遍吗？",
    },
    "emergency": {
        "en": "This sounds urgent. I'm connecting you to a person right now. "
              "If you are in danger, please call your local emergency number.",
        "zh": "听起来情况紧急，我正在为您转接人工。如有危险，请立即拨打急救电话120或报警电话110。",
    },
    "handoff": {
        "en": "I'm connecting you to a person now. They will see our conversation so far.",
        "zh": "正在为您转接人工客服，客服可以看到我们之前的对话。",
    },
    "handoff-frustration": {
        "en": "I'm sorry this has been frustrating. I'm connecting you to a person who can help.",
        "zh": "很抱歉给您带来不便，我正在为您转接人工客服。",
    },
    "safety-notice": {
        "en": "For your safety: we will never ask for your full card number, card security code "
              "or a one-time code outside this verification step.",
        "zh": "安全提示：除本次验证外，我们绝不会索要您的完整卡号、卡片安全码或一次性验证码。",
    },
    "verify-otp": {
        "en": "This request needs identity verification. "
              "Please say or type the six-digit code we just sent to your phone.",
        "zh": "此操作需要身份验证。请说出或输入我们刚发送到您手机的六位验证码。",
    },
    "verify-knowledge": {
        "en": "This request needs identity verification. "
              "Please tell me the postcode of the delivery address on your last order.",
        "zh": "此操作需要身份验证。请告诉我您最近一笔订单收货地址的邮政编码。",
    },
    "verify-ok": {
        "en": "Thank you, you are verified. I'll pass your request to the team that completes it.",
        "zh": "验证成功，谢谢。我会把您的申请转给负责办理的同事。",
    },
    "verify-failed": {
        "en": "That code doesn't match. Please try again.",
        "zh": "验证码不正确，请重试。",
    },
    "verify-locked": {
        "en": "Verification failed too many times, so I can't continue with this request. "
              "I'm connecting you to a person.",
        "zh": "验证失败次数过多，无法继续办理此业务，正在为您转接人工客服。",
    },
    "feedback-question": {
        "en": "Did that answer your question?",
        "zh": "请问这个回答解决您的问题了吗？",
    },
    "feedback-thanks": {
        "en": "Thank you for your feedback.",
        "zh": "感谢您的反馈。",
    },
    "confirm-slot": {
        "en": "Just to confirm, your {slot} is {value}. Is that right?",
        "zh": "跟您确认一下，您的{slot}是{value}，对吗？",
    },
    "slot-retry": {
        "en": "Sorry about that. Could you tell me the {slot} again?",
        "zh": "抱歉，请再告诉我一次您的{slot}。",
    },
    "slot-confirmed": {
        "en": "Thanks, noted.",
        "zh": "好的，已记录。",
    },
    "queue-position": {
        "en": "You are number {position} in the queue. A person will be with you shortly.",
        "zh": "您前面还有{ahead}位客户在等待，人工客服马上为您服务。",
    },
    "agents-busy": {
        "en": "All our agents are busy right now. Please call 400-820-1234 between 8:00 and 22:00.",
        "zh": "目前人工客服全部繁忙，请在8:00至22:00拨打400-820-1234。",
    },
    "feedback-sorry": {
        "en": "Sorry about that. Would you like me to connect you to a person?",
        "zh": "很抱歉没能帮到您。需要为您转接人工客服吗？",
    },
    # Understanding (issue 13): out of scope, a clarifying question, and small talk.
    "out-of-scope": {
        "en": "That's outside what I can help with: I know about orders and delivery, returns and refunds, "
              "payment, warranty and your account. Would you like me to connect you to a person?",
        "zh": "这超出了我能帮忙的范围：我了解订单配送、退货退款、支付、保修和账户方面的问题。"
              "需要为您转接人工客服吗？",
    },
    "clarify": {
        "en": "Just to be sure I answer the right thing: is your question about {first} or about {second}?",
        "zh": "为了准确回答您：您问的是“{first}”还是“{second}”？",
    },
    "smalltalk-hello": {
        "en": "Hello! How can I help you today?",
        "zh": "您好！请问有什么可以帮您？",
    },
    "smalltalk-thanks": {
        "en": "You're welcome. Is there anything else I can help with?",
        "zh": "不客气。还有其他可以帮您的吗？",
    },
    "smalltalk-bye": {
        "en": "Thank you for calling. Goodbye!",
        "zh": "感谢您的来电，再见！",
    },
    "smalltalk-bot": {
        "en": "I'm the shop's virtual assistant. I can help with orders, returns, payment, warranty and "
              "your account, or connect you to a person.",
        "zh": "我是枫林家居的智能客服，可以帮您处理订单、退货、支付、保修和账户问题，也可以为您转接人工。",
    },
    "smalltalk": {
        "en": "I see. What can I help you with?",
        "zh": "好的。请问有什么可以帮您？",
    },
}

SLOT_NAMES: Mapping[str, Mapping[str, str]] = {
    "order_number": {"en": "order number", "zh": "订单号"},
    "product": {"en": "product", "zh": "商品"},
    "purchase_date": {"en": "purchase date", "zh": "购买日期"},
    "amount": {"en": "amount", "zh": "金额"},
    "contact": {"en": "contact", "zh": "联系方式"},
}


def say(key: str, language: str, **values: str) -> str:
    table = MESSAGES[key]
    text = table.get(language) or table["en"]
    return text.format(**values) if values else text


def slot_name(slot: str, language: str) -> str:
    names = SLOT_NAMES.get(slot, {})
    return names.get(language) or names.get("en") or slot.replace("_", " ")
