from __future__ import annotations

import pytest

from gateway.core.kb.documents import MAX_DOC_BYTES, KnowledgeError, parse_document


def test_markdown_sections_become_passages() -> None:
    doc = parse_document("en/x.md", b"---\ntitle: X\n---\n# X\n\n## Return window\nYou have 30 days.\n\n"
                                    b"## Refunds\nWithin 5 days.\n")
    assert [p.id for p in doc.passages] == ["en/x.md#return-window", "en/x.md#refunds"]
    assert doc.passages[0].language == "en" and doc.passages[0].title == "Return window"


def test_long_sections_split_at_sentences() -> None:
    body = " ".join(f"Sentence number {i} says something useful." for i in range(60))
    doc = parse_document("a.md", f"## Long\n{body}\n".encode())
    assert len(doc.passages) > 1 and all(len(p.text) <= 900 for p in doc.passages)
    assert doc.passages[1].id == "a.md#long-2" and doc.passages[0].text.endswith(".")


def test_faq_yaml_json_csv_text() -> None:
    faq = parse_document("zh/faq.yaml", "- id: a\n  question: 退货期限？\n  answer: 30天。\n".encode())
    assert faq.passages[0].id == "zh/faq.yaml#a" and faq.passages[0].language == "zh"
    js = parse_document("f.json", b'{"faq": [{"question": "Q?", "answer": "A."}]}')
    assert js.passages[0].text == "A."
    rows = parse_document("rates.csv", b"region,price\nHK,$12\nMO,$13\n")
    assert [p.text for p in rows.passages] == ["region: HK; price: $12.", "region: MO; price: $13."]
    text = parse_document("notes.txt", b"First paragraph.\n\nSecond paragraph.")
    assert "Second paragraph." in text.passages[0].text


@pytest.mark.parametrize(("name", "raw", "code"), [
    ("a.yaml", b"- question: only a question\n", "kb-bad-document"),
    ("a.yaml", b"key: [unclosed", "kb-bad-document"),
    ("a.md", b"\xff\xfe\x00bad", "kb-bad-document"),
    ("a.pdf", b"%PDF", "kb-unsupported"),
    ("a.md", b"x" * (MAX_DOC_BYTES + 1), "kb-too-large"),
    ("a.csv", b"", "kb-bad-document"),
])
def test_bad_documents(name: str, raw: bytes, code: str) -> None:
    with pytest.raises(KnowledgeError) as info:
        parse_document(name, raw)
    assert info.value.code == code
