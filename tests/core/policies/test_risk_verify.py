from __future__ import annotations

from gateway.core.policies.risk import assess_risk
from gateway.core.policies.verify import KnowledgeVerifier, OtpVerifier, OutboxSender


def _op(text: str, amount: float | None = None) -> str | None:
    decision = assess_risk(text, amount, 5000.0)
    return None if decision is None else decision.operation


def test_large_transfer_needs_step_up() -> None:
    assert _op("transfer $8000 to my bank", 8000.0) == "large-transfer"
    assert _op("transfer $80 to my bank", 80.0) is None
    assert _op("我要提现8000美元", 8000.0) == "large-transfer"
    assert _op("how long does a transfer take", 8000.0) == "large-transfer"  # the amount slot counts


def test_account_changes_need_step_up() -> None:
    assert _op("I want to change my payout bank account") == "change-payout-account"
    assert _op("please update my phone number") == "change-contact"
    assert _op("我要注销账户") == "close-account"
    assert _op("我想更换收款银行账户") == "change-payout-account"
    assert _op("how do I reset my password") is None


def test_otp_round_trip() -> None:
    outbox = OutboxSender()
    verifier = OtpVerifier(outbox)
    challenge = verifier.start("s1")
    code = outbox.codes["s1"]
    assert len(code) == 6 and code.isdigit()
    assert verifier.check(challenge, f"the code is {code[:3]} {code[3:]}")
    wrong = str((int(code) + 1) % 1_000_000).zfill(6)
    assert not verifier.check(challenge, wrong)


def test_knowledge_check() -> None:
    verifier = KnowledgeVerifier(lambda session: "200031")
    challenge = verifier.start("s1")
    assert verifier.check(challenge, "it's 200 031")
    assert not verifier.check(challenge, "100000")
