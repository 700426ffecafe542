"""Mandarin text for the Kokoro voice: numbers as a Chinese agent reads them, clauses, English kept."""

from __future__ import annotations

import pytest

pytest.importorskip("cn2an", reason="the zh extra is not installed (pip install 'cc-gateway[zh]')")

from models.zh_speech_text import MAX_CLAUSE_CHARS, clauses, normalise


def test_amounts_dates_and_percentages() -> None:
    assert normalise("不满49美元收取5.99美元运费") == "不满四十九美元收取五点九九美元运费"
    assert normalise("2026年12月31日前") == "二零二六年十二月三十一日前"
    assert normalise("自签收之日起30天内") == "自签收之日起三十天内"
    assert normalise("退款50%") == "退款百分之五十"


def test_identifiers_are_read_digit_by_digit() -> None:
    assert "一二三四五六" in normalise("您的订单号是MLH-123456")
    assert "MLH" in normalise("您的订单号是MLH-123456")  # the letters stay English
    assert normalise("客服电话400-820-1234").replace(" ", "") == "客服电话四零零-八二零-一二三四"
    assert normalise("单号20261204").replace(" ", "") == "单号二零二六一二零四"
    assert normalise("第1天") == "第一天"  # a short number is a number, not an identifier


def test_clock_times() -> None:
    assert normalise("每天8:00至22:00") == "每天八点至二十二点"
    assert normalise("9:30开门") == "九点三十分开门"


def test_clauses_split_at_chinese_punctuation_and_are_capped() -> None:
    assert clauses("我想退货，需要多长时间？好的。") == ["我想退货，", "需要多长时间？", "好的。"]
    long = "很" * (MAX_CLAUSE_CHARS * 2 + 5)
    assert [len(c) for c in clauses(long)] == [MAX_CLAUSE_CHARS, MAX_CLAUSE_CHARS, 5]
    assert clauses(" ") == []


def test_english_words_get_english_phonemes() -> None:
    pytest.importorskip("misaki")
    from models.zh_speech_text import MandarinPhonemizer

    seen: list[str] = []

    def english(words: str) -> str:
        seen.append(words)
        return "<en>"

    phonemes = MandarinPhonemizer(english)("我们支持PayPal和iPhone付款，订单MLH-123456。")
    assert seen == ["PayPal", "iPhone", "MLH"]
    assert phonemes.count("<en>") == 3
    assert "↘" in phonemes and "→" in phonemes  # Mandarin tones, not letters
    assert not any(c.isdigit() for c in phonemes)
