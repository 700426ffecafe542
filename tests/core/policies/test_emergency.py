from __future__ import annotations

import pytest

from gateway.core.policies.emergency import detect_emergency


@pytest.mark.parametrize(
    "text",
    [
        "I have chest pain",
        "my husband CAN'T BREATHE",
        "I want to kill myself",
        "the kitchen is on fire",
        "我胸口疼",
        "他喘不过气了",
        "家里着火了",
        "我不想活了",
        "there is fire in the kitchen",
        "this is fire in the hallway",
    ],
)
def test_emergencies(text: str) -> None:
    assert detect_emergency(text) is not None


@pytest.mark.parametrize(
    "text",
    [
        "my fire alarm is broken",
        "is the fire extinguisher in stock",
        "退货需要多久",
        "烟雾报警器坏了",
        "How long is the warranty?",
        "these deals are straight fire",
        "your prices are fire, thanks",
    ],
)
def test_not_emergencies(text: str) -> None:
    assert detect_emergency(text) is None
