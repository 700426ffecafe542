from __future__ import annotations

import pytest

from gateway.core.policies.frustration import SentimentScorer, frustrated


@pytest.fixture(scope="module")
def scorer() -> SentimentScorer:
    return SentimentScorer()


@pytest.mark.parametrize(("text", "language"), [("This is useless, I have asked three times!", "en"),
                                                ("你们的服务太差了，气死我了", "zh")])
def test_negative(scorer: SentimentScorer, text: str, language: str) -> None:
    assert scorer.score(text, language) <= -0.3


@pytest.mark.parametrize(("text", "language"), [("How long do I have to return an item?", "en"),
                                                ("退款多久到账", "zh"), ("我的手机号怎么改", "zh")])
def test_plain_questions_are_not_negative(scorer: SentimentScorer, text: str, language: str) -> None:
    assert scorer.score(text, language) > -0.3


def test_rule_needs_consecutive_turns() -> None:
    assert frustrated([0.1, -0.5, -0.6], 2)
    assert not frustrated([-0.5, 0.2, -0.6], 2)
    assert not frustrated([-0.9], 2)
