"""One definition of a Chinese character (contracts/text.py) for every layer."""

from __future__ import annotations

import re
from pathlib import Path

from contracts.evaluation import written_in_characters
from contracts.text import has_cjk, is_cjk
from gateway.core.text import guess_language
from modalities.speech.completeness import completeness

ROOT = Path(__file__).resolve().parents[1]
# Tokenisers, not detectors: changing their ranges would change trained features and KB anchors.
TOKENISERS = {"gateway/core/nlu/features.py", "gateway/core/kb/documents.py"}


def test_chinese_characters_of_every_block_are_recognised() -> None:
    for char in ("退", "\u3400", "\u4dbf", "\uf900"):  # common, Extension A (first, last), Compatibility
        assert is_cjk(char) and has_cjk(f"ok {char}")
    for text in ("", "abc", "ひらがな", "カタカナ", "\u4dc0", "!?"):  # kana, Yijing hexagrams: not Han
        assert not has_cjk(text)
    assert not is_cjk("退货")  # one character only
    assert written_in_characters("ひらがな")  # scoring by characters also covers kana
    assert guess_language("\u3400\u3401 ok") == "zh"
    assert completeness("\u3400\u3401吗") == "final"


def test_no_module_keeps_its_own_range_of_chinese_characters() -> None:
    own = re.compile(r"\\u(3400|4e00)")
    allowed = TOKENISERS | {"contracts/text.py"}
    offenders = [name for folder in ("gateway", "modalities", "models", "contracts")
                 for p in (ROOT / folder).rglob("*.py")
                 if (name := str(p.relative_to(ROOT))) not in allowed
                 and own.search(p.read_text(encoding="utf-8"))]
    assert not offenders, offenders


def test_spaces_between_chinese_words_are_closed_and_kept_next_to_latin() -> None:
    from contracts.text import close_cjk_gaps

    assert close_cjk_gaps("我 想 退货 。") == "我想退货。"
    assert close_cjk_gaps("我的 iPhone 坏了") == "我的 iPhone 坏了"
