"""`gateway loadtest`'s error rates: which final belongs to which recording, and how turns pool.

Pure functions, no gateway: the finals are given as the caller would have received them."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from gateway.cli.loadtest import V1Wire
from gateway.cli.loadtest_scoring import (
    Accuracy,
    Spoken,
    attribute,
    reference_for,
    reference_texts,
    report_lines,
)
from gateway.client import CallResult, GatewayClient
from gateway.evaluation import char_errors, word_errors, written_in_characters
from gateway.speech_references import known_reference, sample_clips
from tests.conftest import SAMPLES

JFK = ("And so my fellow Americans ask not what your country can do for you "
       "ask what you can do for your country.")
ZH = "广州市房地产中介协会分析"


def test_a_final_belongs_to_the_recording_whose_speech_had_begun_last() -> None:
    starts = [10.0, 20.0, 30.0]
    finals = [(5.0, "before any speech"), (12.0, "a"), (14.0, "b"), (20.0, "late a or c"),
              (25.0, "c"), (31.0, "d"), (99.0, "e")]
    assert attribute(starts, finals) == [["a", "b"], ["late a or c", "c"], ["d", "e"]]
    assert attribute([10.0], []) == [[]]


def test_a_turn_cut_in_two_is_joined_in_the_order_heard() -> None:
    accuracy = Accuracy(measured=True)
    accuracy.add([Spoken("jfk.wav", JFK, 1.0)],
                 [(4.0, "And so, my fellow Americans, ask not"),
                  (12.0, "what your country can do for you, ask what you can do for your country.")])
    assert (accuracy.words.edits, accuracy.words.units, accuracy.words.turns) == (0, 22, 1)


def test_a_turn_with_no_final_is_every_word_deleted() -> None:
    accuracy = Accuracy(measured=True)
    accuracy.add([Spoken("jfk.wav", JFK, 1.0), Spoken("jfk.wav", JFK, 20.0)], [(5.0, JFK)])
    assert (accuracy.words.edits, accuracy.words.units, accuracy.words.turns) == (22, 44, 2)
    assert accuracy.figures()["wer_percent"] == 50.0


def test_errors_are_pooled_over_words_not_averaged_over_turns() -> None:
    """One wrong word of a one-word turn and a perfect nine-word turn: 1/10 = 10%, not (100% + 0%) / 2."""
    accuracy = Accuracy(measured=True)
    nine = "one two three four five six seven eight nine"
    accuracy.add([Spoken("a.wav", "yes", 1.0), Spoken("b.wav", nine, 10.0)],
                 [(2.0, "no"), (11.0, nine)])
    figures = accuracy.figures()
    assert figures["wer_percent"] == 10.0
    assert (figures["wer_edits"], figures["wer_reference_words"], figures["wer_turns"]) == (1, 10, 2)
    assert figures["cer_percent"] is None and figures["cer_turns"] == 0


def test_chinese_references_are_scored_by_character_and_apart_from_english() -> None:
    accuracy = Accuracy(measured=True, unscored=("mine.wav",))
    accuracy.add([Spoken("aishell.wav", ZH, 1.0), Spoken("jfk.wav", JFK, 10.0),
                  Spoken("mine.wav", None, 30.0)],
                 [(2.0, "广州市房地产"), (3.0, "中介协会分析。"), (12.0, JFK), (31.0, "anything")])
    figures = accuracy.figures()
    assert (figures["cer_edits"], figures["cer_reference_chars"], figures["cer_turns"]) == (0, 12, 1)
    assert (figures["wer_edits"], figures["wer_reference_words"], figures["wer_turns"]) == (0, 22, 1)
    assert figures["unscored"] == ["mine.wav"]  # spoken, heard, not scored: no reference
    lines = report_lines(figures, "v1")
    assert any(line.startswith("character error rate") and "0.0%" in line for line in lines)
    assert lines[-1].endswith("mine.wav")


def test_a_phone_wire_reports_the_error_rate_as_not_measured() -> None:
    figures = Accuracy(measured=False, unscored=("mine.wav",)).figures()
    assert figures["wer_percent"] is None and figures["cer_percent"] is None
    assert figures["wer_turns"] is None and figures["unscored"] is None
    assert report_lines(figures, "twilio") == [
        "word/character error rate: not measured (the twilio wire carries no transcripts)"]


def test_normalisation_and_script() -> None:
    heard = "hello how long do i have to return an item"
    assert word_errors("Hello, how long do I have to return an item?", heard) == (0, 10)
    assert char_errors("我想退货，需要多长时间？", "我想退货,需要多长时间?") == (0, 10)  # full/half width
    assert char_errors(ZH, "广州市房地产中介协会") == (2, 12)
    assert written_in_characters(ZH) and not written_in_characters(JFK)


def test_the_v1_wire_gives_the_spoken_finals_with_their_arrival_times() -> None:
    result = CallResult(events=[
        {"type": "transcript.partial", "turn_id": 1, "text": "and so", "_t": 1.0},
        {"type": "transcript.final", "turn_id": 1, "text": "and so my", "modality": "speech", "_t": 2.0},
        {"type": "transcript.final", "turn_id": 2, "text": "typed", "modality": "text", "_t": 3.0},
        {"type": "transcript.final", "turn_id": 3, "text": "fellow", "modality": "speech", "_t": 4.0}])
    client = cast(GatewayClient, SimpleNamespace(result=result))
    assert V1Wire(client).finals() == [(2.0, "and so my"), (4.0, "fellow")]


def test_references_come_from_the_table_by_path_or_from_the_command_line(tmp_path: Path) -> None:
    sample = SAMPLES / "audio" / "en_question_returns.wav"
    assert known_reference(sample) == sample_clips()[0].reference
    copy = tmp_path / sample.name  # the same name elsewhere is not the same recording
    copy.write_bytes(sample.read_bytes())
    assert known_reference(copy) is None
    given = reference_texts([f"{copy}=Hello there", f"{sample}=overridden"], [str(copy), str(sample)])
    assert reference_for(str(copy), given) == "Hello there"
    assert reference_for(str(sample), given) == "overridden"
    assert reference_for(str(sample), {}) == sample_clips()[0].reference
    bad: list[Any] = [[f"{copy}"], [f"{copy}= "], [f"{tmp_path / 'other.wav'}=text"]]
    for items in bad:
        with pytest.raises(ValueError, match="--reference"):
            reference_texts(items, [str(copy)])
