"""The endpointer driven by synthetic VAD probabilities in media time (32 ms windows)."""

from modalities.speech.endpointing import (
    BargeIn,
    EndpointConfig,
    Endpointer,
    EndpointEvent,
    NoiseDiscarded,
    PauseStarted,
    SpeechResumed,
    SpeechStarted,
    TurnEnded,
    sounds_complete,
)

W = 32


def drive(ep: Endpointer, pattern: list[tuple[float, int]],
          start_ms: int = 0) -> list[tuple[int, EndpointEvent]]:
    """pattern: (probability, duration_ms) runs; returns (media ms, event) pairs."""
    out: list[tuple[int, EndpointEvent]] = []
    t = start_ms
    for prob, duration in pattern:
        for _ in range(duration // W):
            t += W
            out.extend((t, e) for e in ep.window(t, W, prob))
    return out


def kinds(events):
    return [type(e).__name__ for _, e in events]


def test_turn_with_finished_words_ends_after_short_silence():
    ep = Endpointer(EndpointConfig())
    events = drive(ep, [(0.0, 320), (0.9, 1600), (0.0, 192)])
    assert kinds(events) == ["SpeechStarted", "PauseStarted"]
    ep.hint(True)
    events = drive(ep, [(0.0, 320)], start_ms=2112)
    ended = [e for _, e in events if isinstance(e, TurnEnded)]
    assert len(ended) == 1 and ended[0].speech_end_ms == 1920 and ended[0].start_ms == 320


def test_unfinished_words_wait_through_a_one_second_pause():
    ep = Endpointer(EndpointConfig())
    events = drive(ep, [(0.9, 1600), (0.0, 192)])
    ep.hint(False)
    events += drive(ep, [(0.0, 1000), (0.9, 800)], start_ms=1792)
    assert not any(isinstance(e, TurnEnded) for _, e in events)
    assert any(isinstance(e, SpeechResumed) for _, e in events)


def test_unknown_hint_still_ends_after_the_long_silence():
    ep = Endpointer(EndpointConfig(end_incomplete_ms=1400))
    events = drive(ep, [(0.9, 1600), (0.0, 1600)])
    ends = [(t, e) for t, e in events if isinstance(e, TurnEnded)]
    assert len(ends) == 1 and 1600 + 1400 <= ends[0][0] < 1600 + 1400 + W


def test_awaiting_hint_only_once_the_short_silence_has_passed():
    ep = Endpointer(EndpointConfig(end_complete_ms=384))
    drive(ep, [(0.9, 640), (0.0, 192)])
    assert not ep.awaiting_hint
    drive(ep, [(0.0, 192)], start_ms=832)
    assert ep.awaiting_hint


def test_short_noise_is_not_a_turn():
    ep = Endpointer(EndpointConfig(min_speech_ms=120))
    events = drive(ep, [(0.9, 64), (0.0, 640)])
    assert kinds(events) == ["SpeechStarted", "NoiseDiscarded"]
    assert not ep.in_turn and isinstance(events[-1][1], NoiseDiscarded)


def test_barge_in_needs_the_configured_voiced_time_during_a_reply():
    ep = Endpointer(EndpointConfig(barge_in_ms=120))
    ep.reply_active = True
    events = drive(ep, [(0.9, 96)])
    assert not any(isinstance(e, BargeIn) for _, e in events)
    events = drive(ep, [(0.9, 64)], start_ms=96)
    barge = [(t, e) for t, e in events if isinstance(e, BargeIn)]
    assert len(barge) == 1 and barge[0][0] == 128 and not ep.reply_active


def test_barge_in_counts_consecutive_voice_only():
    ep = Endpointer(EndpointConfig(barge_in_ms=120))
    ep.reply_active = True
    events = drive(ep, [(0.9, 96), (0.0, 32), (0.9, 96)])
    assert not any(isinstance(e, BargeIn) for _, e in events)


def test_max_turn_length_cuts_the_turn():
    ep = Endpointer(EndpointConfig(max_turn_ms=2000))
    events = drive(ep, [(0.9, 2600)])
    ends = [e for _, e in events if isinstance(e, TurnEnded)]
    assert ends and ends[0].reason == "max-length"
    assert any(isinstance(e, PauseStarted) for _, e in events)
    assert isinstance(events[0][1], SpeechStarted)


def test_sounds_complete():
    assert sounds_complete("How long do I have to return an item?") is True
    assert sounds_complete("And so, my fellow Americans,") is False
    assert sounds_complete("ask what you can do for your country.") is True
    assert sounds_complete("I want to return the") is False
    assert sounds_complete("I bought it and.") is False
    assert sounds_complete("我想退货，需要多长时间？") is True
    assert sounds_complete("我想问一下，") is False
    assert sounds_complete("") is None


def test_a_caller_who_paused_and_went_on_gets_that_long_again():
    ep = Endpointer(EndpointConfig(end_complete_ms=450, end_incomplete_ms=1400, pause_factor=1.25))
    # (the default factor is 0.75; 1.25 makes the effect easy to see against the 450 ms floor)
    drive(ep, [(0.9, 1600), (0.0, 192)])
    ep.hint(False)
    drive(ep, [(0.0, 896), (0.9, 1600)], start_ms=1792)  # a 1088 ms pause, then more words
    events = drive(ep, [(0.0, 192)], start_ms=4288)
    ep.hint(True)
    events += drive(ep, [(0.0, 1408)], start_ms=4480)
    ends = [t for t, e in events if isinstance(e, TurnEnded)]
    assert ends and ends[0] - 4288 >= 1.25 * 1088  # not after the usual 450 ms


def test_sounds_complete_fragments_and_short_answers():
    assert sounds_complete("And so my fellow Americans.") is False  # opener, no verb yet
    assert sounds_complete("And so my fellow Americans. Ask not") is False  # no final punctuation
    assert sounds_complete("Yes.") is True and sounds_complete("Not!") is False
    assert sounds_complete("广州市房地产中介协会分析") is True  # unpunctuated Chinese
    assert sounds_complete("我想问一下那个") is False


def test_a_turn_end_says_why_then():
    """The log line of a turn end names the words' verdict, the model's p, the silence they called
    for and the caller's longest pause (never the words): how a turn that ended too early is read."""
    ep = Endpointer(EndpointConfig())
    drive(ep, [(0.9, 960), (0.0, 640), (0.9, 960), (0.0, 192)])  # a 640 ms pause, then more speech
    ep.hint("complete")
    ep.judged(0.4)  # doubtful: the caller's rhythm rule decides (0.75 x 640 = 480 ms)
    ended = [e for _, e in drive(ep, [(0.0, 640)], start_ms=2752) if isinstance(e, TurnEnded)]
    assert len(ended) == 1
    why = ended[0]
    assert (why.words, why.turn_p, why.longest_pause_ms, why.needed_ms) == ("complete", 0.4, 640, 480)


def test_a_question_mark_does_not_outweigh_the_model_and_the_callers_rhythm_together():
    """jfk.wav over a phone line: "... ask not what your country can do for you?" (Whisper's
    question mark), a 0.54 s breath, the model sure the caller goes on (p 0.05), a 1 s pause
    earlier in the turn. The rhythm rule decides (0.75 x 1000 ms); without the earlier pause, or
    with a model that does not doubt, a question still ends after end_complete_ms."""
    def ends_after(first_pause_ms: int, p: float) -> int | None:
        ep = Endpointer(EndpointConfig())
        pattern = [(0.9, 960)] + ([(0.0, first_pause_ms), (0.9, 960)] if first_pause_ms else [])
        t = sum(d for _, d in pattern)
        drive(ep, [*pattern, (0.0, 192)])
        ep.hint("final")
        ep.judged(p)
        for _, e in drive(ep, [(0.0, 1600)], start_ms=t + 192):
            if isinstance(e, TurnEnded):
                return e.needed_ms
        return None

    assert ends_after(992, 0.05) == 744  # the caller's rhythm: 0.75 x 992 ms, not 450
    assert ends_after(0, 0.05) == 450  # no earlier pause: the question ends the turn as before
    assert ends_after(992, 0.5) == 450  # a doubtful model does not hold a question back
