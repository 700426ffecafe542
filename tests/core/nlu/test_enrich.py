"""`gateway intents enrich`: paraphrases go to a reviewable file beside the catalog, never into it;
training (load_catalog) uses that file when present."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from gateway.core.nlu.catalog import ENRICHED_NAME, CatalogError, load_catalog
from gateway.core.nlu.enrich import enrich, write
from models.base import ChatMessage

CATALOG = """
intents:
  - name: return_refund
    route: {kb: [returns]}
    examples: {en: ["I want to send this back", "how do I return an item"], zh: ["我要退货"]}
  - name: order_status
    route: {kb: [shipping]}
    examples: {en: ["where is my parcel", "has my order shipped"]}
"""


class Paraphraser:
    """A stand-in LLM: English or Chinese lines, numbered, one copying its source."""

    name = "paraphraser"

    def __init__(self) -> None:
        self.asks: list[str] = []

    def stream(self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float
               ) -> Iterator[str]:
        ask = messages[-1].content
        self.asks.append(ask)
        example = ask.rsplit("\n", 1)[-1]
        if "换" in ask:
            yield f"1. {example}\n2. 这个我不想要了能退吗\n3. 东西想退回去"
        else:
            yield (f"1. {example}\n2. \"can I get my money back for {example[-6:]}\"\n"
                   f"- uh where's {example[-5:]} at")

    def close(self) -> None:
        pass


def test_paraphrases_go_beside_the_catalog_and_training_uses_them(tmp_path: Path) -> None:
    path = tmp_path / "intents.yaml"
    path.write_text(CATALOG, "utf-8")
    before = load_catalog(path)
    found = enrich(before, Paraphraser(), per_intent=4, say=lambda _: None)
    assert found["return_refund"]["zh"] == ["这个我不想要了能退吗", "东西想退回去"]
    assert all(line not in ("I want to send this back", "我要退货") for langs in found.values()
               for lines in langs.values() for line in lines)  # a copy of its source is dropped
    assert all(len(lines) <= 2 for langs in found.values() for lines in langs.values())
    out = write(before, found)
    assert out == tmp_path / ENRICHED_NAME and path.read_text("utf-8") == CATALOG  # the catalog is untouched
    after = load_catalog(path)
    assert after.sha256 != before.sha256  # the weights are retrained with the paraphrases
    refund = after.get("return_refund")
    assert refund is not None and ("zh", "东西想退回去") in refund.examples
    assert len(after.examples()[0]) > len(before.examples()[0])


def test_a_malformed_enriched_file_names_the_file_and_the_entry(tmp_path: Path) -> None:
    (tmp_path / "intents.yaml").write_text(CATALOG, "utf-8")
    (tmp_path / ENRICHED_NAME).write_text("intents:\n  - name: nope\n    examples: {en: [x]}\n", "utf-8")
    with pytest.raises(CatalogError) as info:
        load_catalog(tmp_path / "intents.yaml")
    assert ENRICHED_NAME in str(info.value) and "entry 1" in str(info.value) and "nope" in str(info.value)


def test_the_enriched_file_is_not_knowledge(tmp_path: Path) -> None:
    from gateway.core.kb.documents import discover

    (tmp_path / "intents.yaml").write_text(CATALOG, "utf-8")
    (tmp_path / ENRICHED_NAME).write_text("intents: []\n", "utf-8")
    (tmp_path / "faq.md").write_text("# Returns\n\n30 days.\n", "utf-8")
    assert [p.name for p in discover(tmp_path)] == ["faq.md"]


def test_the_models_chatter_is_not_kept_as_an_example() -> None:
    from gateway.core.nlu.enrich import paraphrases

    class Chatty(Paraphraser):
        def stream(self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float
                   ) -> Iterator[str]:
            yield "Sure! Here are two ways of rewriting it:\n**Casually:**\n1. can I send it back\n当然可以："

    assert paraphrases(Chatty(), "I want to return this", "en", 3) == ["can I send it back"]
