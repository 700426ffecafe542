"""Rule: at a pause whose words sound finished the machine lets the core start on them
(PrepareReply), and only then; the turn that ends on those words asks for exactly that turn."""

from __future__ import annotations

from gateway.core.api import TextTurn
from gateway.session.machine import MachineConfig
from gateway.session.messages import PrepareReply, StartReply
from tests.session.harness import QUESTION, Harness, trace


def _prepared(h: Harness) -> list[TextTurn]:
    return [c.turn for c in h.commands if isinstance(c, PrepareReply)]


def test_finished_sounding_words_are_prepared_before_the_turn_ends_and_match_it() -> None:
    h = Harness(asr=lambda turn_id, until_ms, final: QUESTION)
    h.speak(trace("en_question_returns"))
    h.idle(1.5)
    kinds = [type(c).__name__ for c in h.commands if isinstance(c, PrepareReply | StartReply)]
    assert kinds == ["PrepareReply", "PrepareReply", "StartReply"]  # at each of the turn's two pauses
    start = next(c for c in h.commands if isinstance(c, StartReply))
    assert _prepared(h) == [start.turn, start.turn] and start.turn == TextTurn(QUESTION, "en", "speech")
    assert not any(line.startswith(("reply", "audio")) for line in h.snapshot()[:2])  # nothing said early


def test_unfinished_words_are_not_prepared() -> None:
    def asr(turn_id: int, until_ms: int, final: bool) -> str:
        return "And so, my fellow Americans," if not final else "And so, my fellow Americans, ask not."

    h = Harness(asr=asr)
    h.speak(trace("en_pause_mid_sentence"))
    h.idle(1.5)
    assert _prepared(h) == []
    assert any(isinstance(c, StartReply) for c in h.commands)


def test_preparing_can_be_turned_off() -> None:
    h = Harness(asr=lambda turn_id, until_ms, final: QUESTION,
                config=MachineConfig(language="en", prepare_in_pauses=False))
    h.speak(trace("en_question_returns"))
    h.idle(1.5)
    assert _prepared(h) == [] and any(isinstance(c, StartReply) for c in h.commands)
