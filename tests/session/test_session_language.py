"""Language auto: the session detects the caller's spoken language once, early, keeps it for later
turns (decoded with it known) and switches when a turn's engine heard another language surely."""

from __future__ import annotations

from gateway.events import TranscriptFinal
from gateway.session.machine import MachineConfig, SessionMachine
from gateway.session.messages import Command, Count, OpenSpeech, Record, Transcribe, Transcribed, VoiceWindow


class Caller:
    """Speaks 0.8 s turns into a machine (VAD probabilities) and answers its ASR requests."""

    def __init__(self, language: str = "auto") -> None:
        self.m = SessionMachine(MachineConfig(language, transcribe_in_pauses=False))
        self.t = 0

    def windows(self, probability: float, ms: int) -> list[Command]:
        out: list[Command] = []
        for _ in range(ms // 32):
            self.t += 32
            out += self.m.receive(VoiceWindow(self.t, 32, probability), self.t / 1000)
        return out

    def turn(self, text: str, language: str, probability: float) -> tuple[OpenSpeech, list[Command]]:
        out = self.windows(0.95, 800) + self.windows(0.0, 3000)
        opened = [c for c in out if isinstance(c, OpenSpeech)]
        final = [c for c in out if isinstance(c, Transcribe) and c.final]
        assert len(opened) == 1 and len(final) == 1, out
        done = self.m.receive(Transcribed(final[0].turn_id, final[0].until_ms, text, language, final=True,
                                          language_probability=probability), self.t / 1000)
        return opened[0], done


def notes(commands: list[Command]) -> list[str]:
    return [c.text for c in commands if isinstance(c, Record) and c.speaker == "system"]


def test_the_first_turn_detects_and_later_turns_decode_with_the_language_known() -> None:
    caller = Caller()
    first, done = caller.turn("我想退货", "zh", 0.97)
    assert first.language is None  # detect
    assert notes(done) == ["language detected: zh (p=0.97)"]
    assert Count("language_detected") in done
    assert any(isinstance(c, Record) and c.speaker == "caller" and c.language == "zh" for c in done)
    second, done = caller.turn("需要多长时间", "zh", 1.0)
    assert (second.language, second.guessed) == ("zh", True)  # known, but the turn may switch
    assert notes(done) == [] and caller.m.heard_language == "zh"


def test_an_unsure_first_detection_is_not_kept() -> None:
    caller = Caller()
    caller.turn("Wurder iPhone", "la", 0.35)
    second, _ = caller.turn("我的iPhone坏了", "zh", 0.9)
    assert second.language is None  # detected again
    third, _ = caller.turn("谢谢", "zh", 1.0)
    assert third.language == "zh"


def test_a_turn_heard_in_another_language_switches_the_session() -> None:
    caller = Caller()
    caller.turn("我想退货", "zh", 0.97)
    _, done = caller.turn("how long do I have", "en", 0.9)  # the transcriber switched that turn
    assert notes(done) == ["language switched: en (p=0.90)"]
    assert Count("language_switched") in done
    assert any(isinstance(c, TranscriptFinal) and c.language == "en" for c in _events(done))
    third, _ = caller.turn("thanks", "en", 1.0)
    assert third.language == "en"


def test_a_language_the_caller_chose_is_never_guessed_or_switched() -> None:
    caller = Caller("zh")
    first, done = caller.turn("我想退货", "zh", 1.0)
    assert (first.language, first.guessed) == ("zh", False)
    assert notes(done) == [] and caller.m.heard_language is None


def _events(commands: list[Command]) -> list[object]:
    from gateway.session.messages import Emit

    return [c.event for c in commands if isinstance(c, Emit)]
