"""Whether the reply is still audible: caller media time while media runs, real time without it."""

from __future__ import annotations

from gateway.playout import Playout


def reply(playout: Playout, seconds: float, at: float) -> None:
    """A reply of `seconds` of audio sent at once at wall time `at` (TTS is faster than real time)."""
    playout.begin()
    playout.first_frame()
    for _ in range(int(seconds * 50)):
        playout.sent(20.0, at)


def test_a_client_that_sends_no_media_hears_the_reply_for_its_duration_in_real_time():
    playout = Playout()
    reply(playout, 2.0, at=100.0)
    assert playout.audible(100.0) and playout.audible(101.9)
    assert not playout.audible(102.0) and not playout.audible(500.0)


def test_pauses_in_synthesis_make_the_reply_end_later():
    playout = Playout()
    reply(playout, 1.0, at=100.0)
    for _ in range(50):  # a second clause, made 3 s later: the first has long played out
        playout.sent(20.0, 103.0)
    assert playout.audible(103.9) and not playout.audible(104.0)


def test_while_media_runs_media_time_decides_at_any_input_speed():
    playout = Playout()
    playout.media(5000, now=10.0)
    reply(playout, 2.0, at=10.0)
    playout.media(6980, now=10.1)  # streamed faster than real time: real time says "just started"
    assert playout.audible(10.1)
    playout.media(7000, now=10.2)
    assert not playout.audible(10.2)

    playout.media(7020, now=20.0)
    reply(playout, 1.0, at=20.0)
    playout.media(7040, now=40.0)  # real time says over long ago; the caller's media says not yet
    assert playout.audible(40.0)
    playout.media(8020, now=40.02)
    assert not playout.audible(40.02)


def test_media_that_stopped_no_longer_holds_a_reply_audible():
    playout = Playout()
    playout.media(3000, now=10.0)  # the caller spoke, then only typed
    reply(playout, 2.0, at=11.0)
    assert playout.audible(11.5)  # media stopped 1.5 s ago, the reply is still playing
    assert not playout.audible(13.0)  # played out in real time; media time alone would say "never"
    playout.media(3020, now=13.5)  # media runs again: it decides again (as before, still audible)
    assert playout.audible(13.5)


def test_played_or_stopped_replies_are_not_audible():
    playout = Playout()
    assert not playout.audible(0.0)  # nothing sent yet
    reply(playout, 2.0, at=0.0)
    playout.over()
    assert not playout.audible(0.5)
    playout.begin()
    playout.sent(20.0, 1.0)  # audio before the first frame was marked: never audible (as before)
    assert not playout.audible(1.0)
