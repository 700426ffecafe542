"""High-risk operations that need step-up identity verification before the core proceeds.

Large transfers or withdrawals (at or above a configured amount), changing the payout account,
changing the phone number or e-mail on the account, closing the account. Deterministic rules on
the masked text plus the amount slot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("change-payout-account", re.compile(
        r"(change|update|switch|add|new)\b.{0,30}\b(payout|bank|receiving|withdrawal)\s*(account|card)"
        r"|(更换|修改|变更|换|添加|绑定).{0,6}(收款|提现|银行)(账户|账号|卡)")),
    ("change-contact", re.compile(
        r"(change|update|new)\b.{0,25}\b(phone|mobile|e-?mail)(\s*(number|address))?"
        r"|(更换|修改|变更|换).{0,6}(手机号|手机号码|电话|邮箱)")),
    ("close-account", re.compile(
        r"(close|delete|cancel|deactivate)\b.{0,20}\baccount|注销.{0,4}账户|注销账号|销户|删除.{0,4}账户")),
)
_TRANSFER = re.compile(r"\b(transfer|withdraw|send|move|pay out|cash out)\b|转账|提现|转出|汇款|转给|取出"
                       r"|[提转取](?=\s*[\d零〇一二两三四五六七八九十百千万])")  # 提八千美元, 转一万块


@dataclass(frozen=True)
class RiskDecision:
    operation: str  # "large-transfer" | "change-payout-account" | "change-contact" | "close-account"
    amount: float | None = None


def assess_risk(text: str, amount: float | None, threshold: float) -> RiskDecision | None:
    """The high-risk operation a (masked) turn asks for, or None."""
    lowered = text.lower()
    for operation, pattern in _RULES:
        if pattern.search(lowered):
            return RiskDecision(operation)
    if amount is not None and amount >= threshold and _TRANSFER.search(lowered):
        return RiskDecision("large-transfer", amount)
    return None
