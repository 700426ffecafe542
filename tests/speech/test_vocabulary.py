"""The tenant vocabulary given to Whisper as hotwords, read from knowledge documents."""

from __future__ import annotations

from pathlib import Path

from modalities.speech.vocabulary import vocabulary

KB = Path(__file__).resolve().parents[2] / "samples" / "kb"


def _write(folder: Path, name: str, text: str) -> None:
    (folder / name).write_text(text, encoding="utf-8")


def test_headings_and_latin_names_of_chinese_documents(tmp_path: Path) -> None:
    _write(tmp_path, "returns.md", "---\ntitle: 退货与退款\nlanguage: zh\n---\n# 退货与退款\n\n## 退货期限\n"
           "自签收之日起30天内可以申请退货。\n\n## 支付方式\n我们支持Visa、PayPal和支付宝。\n")
    _write(tmp_path, "faq.yaml", "# 常见问题（中文）。每一条是一个段落。\n- id: faq-return-window\n"
           "  question: 我想退货，需要多长时间？\n  answer: 30天内可以退货，iPhone除外。\n")
    _write(tmp_path, "shipping.md", "# Shipping\n\n## Delivery times\nStandard delivery takes 3 days.\n")
    terms = vocabulary(tmp_path, "zh").split(" ")
    assert terms[:6] == ["iPhone", "Visa", "PayPal", "退货与退款", "退货期限", "支付方式"]
    assert len(terms) == 6
    joined = " ".join(terms)
    assert "常见问题" not in joined  # a YAML comment is not a heading
    assert "我想退货" not in joined  # FAQ questions are sentences, not terms
    assert not {"title", "language", "zh", "id", "question", "answer"} & set(terms)
    assert "Shipping" not in terms  # the English document is not Chinese vocabulary
    assert vocabulary(tmp_path, "en") == "Shipping Delivery times"  # English: headings only


def test_vocabulary_is_capped_and_deduplicated(tmp_path: Path) -> None:
    body = "".join(f"## 条目{i}\n内容。\n## 条目{i}\n" for i in range(100))
    _write(tmp_path, "many.md", body)
    words = vocabulary(tmp_path, "zh", max_chars=40)
    assert len(words) <= 40
    assert words.split(" ")[:3] == ["条目0", "条目1", "条目2"]


def test_bundled_knowledge_base_names_returns() -> None:
    words = vocabulary(KB, "zh")
    assert "退货期限" in words and "PayPal" in words
    assert vocabulary(KB / "nowhere", "zh") == ""
