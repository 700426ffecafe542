"""Turn-taking with a learned end-of-turn model (Smart Turn) next to the transcript's cues: the
machine asks for a verdict at each pause (JudgeTurn) and takes it back as an input (TurnJudged).
Whole turns as event sequences, scripted ASR and model (tests/session/harness.py)."""

from __future__ import annotations

from gateway.session.machine import MachineConfig
from gateway.session.messages import JudgeTurn, Transcribe
from modalities.speech.endpointing import EndpointConfig
from tests.session.harness import QUESTION, Crash, Harness, trace

PAUSE = "en_pause_mid_sentence"  # speech, a 1.3 s pause, speech again
FIRST = "I would like to check my order."  # what the ASR hears before the pause: sounds finished
WHOLE = "I would like to check my order. It has not arrived yet."


def judged(skip_ms: int = 6000, **endpoint: float) -> MachineConfig:
    return MachineConfig(language="en", endpoint=EndpointConfig(**endpoint), judge_turns=True,  # type: ignore[arg-type]
                         skip_mid_sentence_pass_ms=skip_ms)


def passes(h: Harness) -> list[tuple[int, bool]]:
    return [(c.until_ms, c.final) for c in h.commands if isinstance(c, Transcribe)]


def words(turn_id: int, until_ms: int, final: bool) -> str:
    return FIRST if until_ms < 2000 else WHOLE


def sure_mid_sentence_then_done(turn_id: int, until_ms: int) -> float:
    """The model on PAUSE: sure the caller goes on at the first pause, finished at the end."""
    return 0.05 if until_ms < 2000 else 0.9


def finals(h: Harness) -> list[str]:
    return [line for line in h.snapshot() if line.startswith("final")]


def test_caller_pauses_mid_sentence_model_says_incomplete_no_reply_and_the_caller_goes_on() -> None:
    """Rule: words that sound finished are not answered while the model is sure the caller is
    mid-sentence; the caller's next words join the same turn, answered once."""
    h = Harness(asr=words, judge=sure_mid_sentence_then_done,
                config=judged())
    h.speak(trace(PAUSE))
    h.idle(1.0)
    snapshot = h.snapshot()
    assert finals(h) == [f"final 1 speech {WHOLE!r}"]
    # the mid-sentence pause got no pass at once, only when its silence reached end_complete_ms
    # (a finished question would end the turn there whatever the model says)
    assert snapshot[:2] == [f"partial 1 {FIRST!r}", f"partial 1 {WHOLE!r}"]
    assert passes(h) == [(1536, False), (4288, False), (4288, True)]
    late = next(i for i, c in enumerate(h.commands) if isinstance(c, Transcribe))
    assert any(isinstance(c, JudgeTurn) for c in h.commands[:late])  # asked after the verdict
    assert snapshot.index(finals(h)[0]) < snapshot.index("audio 1 x10")
    assert [c.until_ms for c in h.commands if isinstance(c, JudgeTurn)] == [1536, 4288]


def test_a_short_mid_sentence_pause_gets_no_pass() -> None:
    """Rule: a pause the model is sure is mid-sentence and that ends before end_complete_ms is never
    transcribed on its own: the next pass covers its audio."""
    h = Harness(asr=words, judge=sure_mid_sentence_then_done,
                config=judged(end_complete_ms=2000, end_incomplete_ms=2000, end_unfinished_ms=2500))
    h.speak(trace(PAUSE))
    h.idle(3.0)
    assert finals(h) == [f"final 1 speech {WHOLE!r}"]
    assert passes(h) == [(4288, False), (4288, True)]


def test_every_pause_is_transcribed_when_skipping_is_off() -> None:
    """The same call with skip_mid_sentence_pass_ms = 0: a pass per pause, the same single answer."""
    h = Harness(asr=words, judge=sure_mid_sentence_then_done,
                config=judged(skip_ms=0))
    h.speak(trace(PAUSE))
    h.idle(1.0)
    assert finals(h) == [f"final 1 speech {WHOLE!r}"]
    assert h.snapshot()[:2] == [f"partial 1 {FIRST!r}", f"partial 1 {WHOLE!r}"]
    assert passes(h) == [(1536, False), (4288, False), (4288, True)]


def test_a_pause_the_model_is_unsure_of_is_transcribed_after_its_verdict() -> None:
    """Rule: only a sure mid-sentence verdict (p < turn_doubt) saves the pass; a doubtful one
    (0.5) and a missing one (None) still get the pause's transcript."""
    for verdict in (0.5, None):
        def judge(turn_id: int, until_ms: int, v: float | None = verdict) -> float | None:
            return v if until_ms < 2000 else 0.9

        h = Harness(asr=words, judge=judge, config=judged())
        h.speak(trace(PAUSE))
        h.idle(1.0)
        assert passes(h)[0] == (1536, False), verdict
        assert h.snapshot()[0] == f"partial 1 {FIRST!r}", verdict


def test_a_long_stretch_without_a_pass_is_transcribed_whatever_the_verdict() -> None:
    """Rule: speech since the last pass longer than skip_mid_sentence_pass_ms is transcribed at the
    next pause even when the model is sure the caller goes on (the final pass stays short)."""
    h = Harness(asr=words, judge=sure_mid_sentence_then_done,
                config=judged(skip_ms=1000))
    h.speak(trace(PAUSE))
    h.idle(1.0)
    assert passes(h)[0] == (1536, False)


def test_the_same_pause_without_the_model_is_answered_by_the_pause_rule() -> None:
    """The control for the test above: today's rule answers finished-sounding words after 450 ms."""
    h = Harness(asr=words)
    h.speak(trace(PAUSE))
    h.idle(1.0)
    assert finals(h)[0] == f"final 1 speech {FIRST!r}"  # answered in the caller's pause


def test_words_and_model_agree_the_turn_ends_after_the_short_silence() -> None:
    """Rule: finished words + a confident model end the turn after end_confident_ms, without the
    pause_factor stretch a caller who paused long before would otherwise get."""
    h = Harness(asr=words, judge=lambda turn_id, until_ms: 0.05 if until_ms < 2000 else 0.97,
                config=judged(pause_factor=1.0, end_confident_ms=200))
    h.speak(trace(PAUSE))
    ended = None
    for step in range(60):
        h.idle(0.032)
        if finals(h):
            ended = step + 1
            break
    assert finals(h) == [f"final 1 speech {WHOLE!r}"]
    assert ended is not None and ended * 32 <= 320  # 200 ms of silence, not 1.3 s (pause_factor 1)


def test_words_unfinished_outweigh_a_confident_model() -> None:
    """Rule: the model never ends a turn whose words sound unfinished ("And so, my fellow Americans,")."""
    def asr(turn_id: int, until_ms: int, final: bool) -> str:
        return "And so, my fellow Americans," if until_ms < 2000 and not final else WHOLE

    h = Harness(asr=asr, judge=lambda turn_id, until_ms: 0.99, config=judged())
    h.speak(trace(PAUSE))
    h.idle(1.0)
    assert finals(h) == [f"final 1 speech {WHOLE!r}"]


def test_turn_taking_is_the_same_whatever_the_speed_of_the_model() -> None:
    """Rule: audio is held until the verdict is known, so a slow model changes nothing."""
    seen = []
    for delay in (0, 40):  # 40 steps: 1.3 s, as long as the caller's pause
        h = Harness(asr=words, judge=sure_mid_sentence_then_done,
                    judge_delay_steps=delay, config=judged())
        h.speak(trace(PAUSE))
        h.idle(2.5)
        seen.append(finals(h))
    assert seen[0] == seen[1] == [f"final 1 speech {WHOLE!r}"]


def test_a_crashing_model_is_reported_and_the_pause_rules_decide() -> None:
    def judge(turn_id: int, until_ms: int) -> float | None:
        raise Crash

    h = Harness(judge=judge, config=judged())
    h.speak(trace("en_question_returns"))
    h.idle(1.5)
    snapshot = h.snapshot()
    assert "error internal-error" in snapshot
    assert finals(h) == [f"final 1 speech {QUESTION!r}"]
    assert snapshot[-4:] == ["reply 1", "audio 1 x10", "audio.end 1", "timing 1"]


def test_no_verdict_falls_back_to_the_pause_rules() -> None:
    """An "auto" model that is not installed answers None: the session behaves as without it."""
    h = Harness(asr=words, judge=lambda turn_id, until_ms: None, config=judged())
    h.speak(trace(PAUSE))
    h.idle(1.0)
    plain = Harness(asr=words)
    plain.speak(trace(PAUSE))
    plain.idle(1.0)
    assert finals(h) == finals(plain)


def test_a_mandarin_session_transcribes_every_pause() -> None:
    """Rule: only the languages in skip_mid_sentence_languages skip passes (Mandarin measured
    worse with the skip); the same sure verdict in a zh session still gets its pass."""
    config = MachineConfig(language="zh", endpoint=EndpointConfig(), judge_turns=True)
    h = Harness(asr=words, judge=sure_mid_sentence_then_done, config=config)
    h.speak(trace(PAUSE))
    h.idle(1.0)
    assert passes(h)[0] == (1536, False)


def test_a_question_is_answered_when_the_audio_stops_before_a_slow_verdict() -> None:
    """A fast client sends its question and 0.6 s of silence, then nothing; the model is slow and
    wrongly sure the caller goes on. The silence windows are held while the pause's pass may still
    be asked for, so the "?" transcript (final words end the turn after end_complete_ms whatever
    the model says) still ends the turn (tests/e2e/test_voice_websocket.py met this for real)."""
    h = Harness(judge=lambda turn_id, until_ms: 0.05, judge_delay_steps=25, config=judged())
    h.speak(trace("en_question_returns"))
    h.idle(0.6)
    h.wait(40)
    assert finals(h) == [f"final 1 speech {QUESTION!r}"]
    assert "reply 1" in h.snapshot()
