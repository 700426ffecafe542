"""The session ending during each stage, and the machine's smaller rules (DTMF repeat, a person's
words, explicit barge-in, played-out replies, noise, the baseline pipeline, held audio)."""

from __future__ import annotations

from gateway.core.api import Handoff
from gateway.errors import GatewayError
from gateway.inputs import (
    AgentSays,
    AudioIn,
    BargeInRequest,
    DtmfIn,
    End,
    ImageIn,
    Played,
    SignConfirm,
    TextIn,
    VideoFrameIn,
)
from gateway.session.machine import MAX_HELD_WINDOWS, MachineConfig, SessionMachine
from gateway.session.messages import (
    Finish,
    OpenSpeech,
    Record,
    ReplyOutput,
    SignSaw,
    Transcribe,
    Transcribed,
    VoiceWindow,
    WorkerFailed,
)
from modalities.sign.events import ReadbackResolved, SignTurnReady, WordRecognised
from tests.session.harness import QUESTION, Crash, Harness, silence, trace

RETURNS = "en_question_returns"


def caller_records(h: Harness) -> list[Record]:
    return [r for r in h.records if r.speaker == "caller"]


def test_session_end_during_speech_keeps_the_words_as_an_interrupted_turn() -> None:
    """Rule (issue 16): speech under way at hang-up is transcribed and stored, marked interrupted."""
    h = Harness()
    h.speak(trace(RETURNS)[:40])
    h.end()
    assert h.finished == "hangup"
    [record] = caller_records(h)
    assert (record.turn_id, record.text, record.timings.get("interrupted")) == (1, QUESTION, 1.0)
    assert not any(line.startswith("reply") for line in h.snapshot())  # nobody left to answer


def test_session_end_while_the_last_turn_is_transcribed_stores_it_unanswered() -> None:
    h = Harness()
    h.speak(trace(RETURNS))
    h.speak(silence(0.6))  # the turn ends at the last window: its final transcript is in flight
    finals = [c for c in h.commands if isinstance(c, Transcribe) and c.final]
    assert len(finals) == 1 and h.finished is None
    h.end()
    [record] = caller_records(h)
    assert record.text == QUESTION and "interrupted" not in record.timings
    assert h.finished == "hangup"


def test_session_end_when_the_last_transcript_fails_still_ends() -> None:
    def asr(turn_id: int, until_ms: int, final: bool) -> str:
        if final:
            raise Crash
        return "How long"

    h = Harness(asr=asr)
    h.speak(trace(RETURNS)[:40])
    h.end()
    assert h.finished == "hangup" and caller_records(h) == []
    assert "error asr-failed" in h.snapshot()


def test_session_end_during_a_reply_a_screenshot_or_sign_ends_at_once() -> None:
    for start in (TextIn("hello"), ImageIn(b"png"), VideoFrameIn(b"jpg", 0)):
        m = SessionMachine(MachineConfig(language="en"))
        m.receive(start, 0.0)
        assert m.receive(End("hangup"), 0.0) == [Finish("hangup")]
        assert m.receive(TextIn("late"), 0.0) == []  # nothing after the end
        assert m.receive(End("again"), 0.0) == []


def test_end_twice_while_waiting_is_one_end() -> None:
    m = SessionMachine(MachineConfig(language="en"))
    for i in range(1, 12):
        m.receive(VoiceWindow(i * 32, 32, 1.0), i * 0.032)
    todo = m.receive(End("hangup"), 1.0)
    assert [type(c).__name__ for c in todo] == ["Transcribe"]
    assert m.receive(End("idle-timeout"), 1.0) == []
    assert m.ending == "hangup"
    done = m.receive(Transcribed(1, 352, "", "", final=True), 1.0)
    assert [type(c).__name__ for c in done] == ["Count", "CloseSpeech", "Finish"]


def test_dtmf_hash_repeats_the_last_reply_and_digits_are_turns() -> None:
    h = Harness()
    h.send(DtmfIn("#"))  # nothing said yet: nothing to repeat
    h.send(DtmfIn("1"))
    h.idle(0.5)
    h.send(DtmfIn("#"))
    h.idle(0.5)
    assert h.snapshot() == ["final 1 dtmf '1'", *["reply 1", "audio 1 x10", "audio.end 1", "timing 1"],
                            "reply 2", "audio 2 x10", "audio.end 2", "timing 2"]
    assert h.records[-1].speaker == "bot" and h.records[-1].text == "Answer to 1"


def test_a_persons_words_are_voiced_as_the_agents_turn() -> None:
    h = Harness(config=MachineConfig(language="auto"))
    h.send(AgentSays("a1", "你好"))
    h.idle(0.5)
    assert h.records[-1].speaker == "agent" and h.records[-1].turn_id == 1


def test_explicit_barge_in_and_played_out_replies() -> None:
    h = Harness(reply_frames=50, frames_per_step=1)
    h.send(TextIn("hello"))
    h.idle(0.2)
    h.send(BargeInRequest())
    assert "clear 1" in h.snapshot()
    h.send(BargeInRequest())  # nothing audible: nothing to stop
    assert h.snapshot().count("clear 1") == 1
    h = Harness(reply_frames=5)
    h.send(TextIn("hello"))
    h.idle(0.3)
    h.send(Played(1))  # the far end played it all: the next turn cuts nothing
    h.send(TextIn("again"))
    h.idle(0.3)
    assert not any(line.startswith("clear") for line in h.snapshot())


def test_a_next_turn_cuts_an_audible_reply() -> None:
    h = Harness(reply_frames=50, frames_per_step=2)
    h.send(TextIn("hello"))
    h.idle(0.2)
    h.send(TextIn("again"))
    h.idle(2.0)
    snapshot = h.snapshot()
    assert "clear 1" in snapshot and "audio.end 1" not in snapshot and "audio.end 2" in snapshot


def test_noise_is_no_turn_and_an_empty_transcript_is_not_answered() -> None:
    h = Harness(asr=lambda turn_id, until_ms, final: "")
    h.speak([1.0, 1.0, *silence(0.5)])  # 64 ms of voice: a click
    h.speak(trace(RETURNS))
    h.idle(2.0)
    assert h.snapshot() == []
    assert [type(c).__name__ for c in h.commands if type(c).__name__ in ("CloseSpeech", "Count")] == [
        "CloseSpeech", "Count", "CloseSpeech"]


def test_the_baseline_pipeline_transcribes_only_at_the_end() -> None:
    h = Harness(config=MachineConfig(language="en", transcribe_in_pauses=False))
    h.speak(trace(RETURNS))
    h.idle(1.5)
    assert [c.final for c in h.commands if isinstance(c, Transcribe)] == [True]
    assert h.snapshot()[0] == f"final 1 speech {QUESTION!r}"


def _question_then_long_silence(m: SessionMachine) -> tuple[int, int]:
    """Speaks the question into `m` with no worker answering, then silence past the held-audio
    bound; returns (final passes asked for, media time)."""
    t = 0
    for p in trace(RETURNS):
        t += 32
        m.receive(VoiceWindow(t, 32, p), t / 1000)
    opened = 0
    for _ in range(MAX_HELD_WINDOWS + 50):
        t += 32
        todo = m.receive(VoiceWindow(t, 32, 0.0), t / 1000)
        opened += sum(isinstance(c, Transcribe) and c.final for c in todo)
    return opened, t


def test_held_audio_is_bounded_when_the_pause_transcript_never_comes() -> None:
    m = SessionMachine(MachineConfig(language="en"))
    opened, t = _question_then_long_silence(m)
    assert opened == 1  # the turn ended without the hint, after the long silence
    assert m.receive(Transcribed(1, 0, "late", "en", final=False), t / 1000) == []  # a turn that is over


def test_held_audio_is_bounded_when_the_verdict_a_pass_waits_for_never_comes() -> None:
    """The same bound when the end-of-turn model never answers and the pause's ASR pass waits for
    its verdict (an English turn with the model on): the turn still ends, nothing piles up."""
    m = SessionMachine(MachineConfig(language="en", judge_turns=True))
    opened, _ = _question_then_long_silence(m)
    assert opened == 1
    assert len(m._held) <= MAX_HELD_WINDOWS  # the bound is the rule under test


def test_sign_read_back_and_confirm() -> None:
    m = SessionMachine(MachineConfig(language="en"))
    asked = m.receive(SignSaw((WordRecognised("HELP", 0.6, 0),
                               SignTurnReady("HELP", 0.6, ("HELP",), True, "Did you sign HELP?"))), 0.0)
    assert [type(c).__name__ for c in asked] == ["Emit", "Emit"]
    assert [type(c).__name__ for c in m.receive(SignConfirm(True), 0.0)] == ["ConfirmSign"]
    refused = m.receive(SignSaw((ReadbackResolved(False, "HELP", 0),)), 0.0)
    assert [type(c).__name__ for c in refused] == ["Emit"]
    confirmed = m.receive(SignSaw((ReadbackResolved(True, "HELP", 0),)), 0.0)
    assert [type(c).__name__ for c in confirmed] == ["Emit", "Emit", "Record", "StartReply"]


def test_handoff_is_recorded_and_stage_failures_without_a_turn_are_reported() -> None:
    m = SessionMachine(MachineConfig(language="en"))
    todo = m.receive(ReplyOutput(1, Handoff("caller-request", urgent=False)), 0.0)
    assert [type(c).__name__ for c in todo] == ["Emit", "Record"]
    failed = m.receive(WorkerFailed("sign", None, GatewayError("x")), 0.0)
    assert [type(c).__name__ for c in failed] == ["Report"]
    stray = m.receive(WorkerFailed("asr", 7, GatewayError("x")), 0.0)  # a turn long gone
    assert [type(c).__name__ for c in stray] == ["Report"]


def test_audio_goes_through_the_runner_and_turns_open_with_the_session_language() -> None:
    m = SessionMachine(MachineConfig(language="auto"))
    try:
        m.receive(AudioIn(b"\0\0"), 0.0)
    except TypeError:
        pass
    else:
        raise AssertionError("AudioIn must not reach the machine")
    opened = [c for i in range(1, 6) for c in m.receive(VoiceWindow(i * 32, 32, 1.0), 0.0)]
    assert opened == [OpenSpeech(1, 0, None)]
