"""The pure call bridge: framing, media-clock pacing, marks, barge-in, handoff; the settings."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import pytest

from gateway.core.api import Handoff
from gateway.errors import ConfigError
from gateway.events import AudioClear, AudioFormat, CoreOutput, ReplyAudio, ReplyAudioEnd, SessionEnded
from gateway.telephony import (
    CallBridge,
    ClearPlayback,
    Hangup,
    MarkPlayed,
    PhoneSettings,
    PlayFrame,
    SendMark,
    Transfer,
    convert,
)

MULAW = AudioFormat("mulaw", 8000)


def frames(cmds: Sequence[object]) -> list[PlayFrame]:
    return [c for c in cmds if isinstance(c, PlayFrame)]


def test_odd_chunks_become_20ms_frames_and_the_tail_is_padded() -> None:
    bridge = CallBridge(MULAW, lead_ms=10_000)
    for i in range(5):
        bridge.on_event(ReplyAudio(1, bytes([i + 1]) * 100, i), 0)
    bridge.on_event(ReplyAudioEnd(1), 0)
    out = frames(bridge.tick(0))
    assert [len(f.frame.audio) for f in out] == [160, 160, 160, 160]
    assert out[-1].frame.audio[20:] == b"\xff" * 140  # mu-law silence


def test_pacing_follows_media_clock() -> None:
    bridge = CallBridge(MULAW, lead_ms=0)
    bridge.on_event(ReplyAudio(1, b"\x00" * 1600, 0), 0)  # 200 ms
    sent = {t: len(frames(bridge.tick(t))) for t in range(0, 260, 10)}
    assert sum(sent.values()) == 10
    assert all(n <= 1 for n in sent.values())  # never a burst
    stamps = []
    bridge2 = CallBridge(MULAW, lead_ms=60)
    bridge2.on_event(ReplyAudio(1, b"\x00" * 1600, 0), 0)
    first = frames(bridge2.tick(0))
    stamps = [f.frame.media_time_ms for f in first]
    assert stamps == [0, 20, 40, 60]  # up to lead_ms ahead


def test_marks_are_reported_when_played_without_far_end_echo() -> None:
    bridge = CallBridge(MULAW)
    bridge.on_event(ReplyAudio(3, b"\x00" * 320, 0), 0)
    bridge.on_event(ReplyAudioEnd(3), 0)
    out = [c for t in range(0, 100, 20) for c in bridge.tick(t)]
    assert MarkPlayed(3) in out
    assert out.index(MarkPlayed(3)) > max(i for i, c in enumerate(out) if isinstance(c, PlayFrame))


def test_far_end_marks_are_sent_and_echo_reported() -> None:
    bridge = CallBridge(MULAW, far_end_marks=True, lead_ms=1000)
    bridge.on_event(ReplyAudio(4, b"\x00" * 160, 0), 0)
    bridge.on_event(ReplyAudioEnd(4), 0)
    assert SendMark("turn-4") in bridge.tick(0)
    assert bridge.on_mark("turn-4") == [MarkPlayed(4)]
    assert bridge.on_mark("something-else") == []


def test_barge_in_drops_queue_and_late_audio_of_that_turn() -> None:
    bridge = CallBridge(MULAW, far_end_marks=True, lead_ms=200)
    bridge.on_event(ReplyAudio(5, b"\x00" * 8000, 0), 0)
    bridge.tick(0)
    assert bridge.on_event(AudioClear(5, 1234), 10) == [ClearPlayback()]
    bridge.on_event(ReplyAudio(5, b"\x00" * 800, 1), 20)  # in flight before the clear
    bridge.on_event(ReplyAudioEnd(5), 20)
    assert bridge.tick(40) == [] and bridge.on_mark("turn-5") == []
    bridge.on_event(ReplyAudio(6, b"\x00" * 160, 0), 50)  # the next turn plays
    assert len(frames(bridge.tick(60))) == 1


def test_handoff_waits_for_its_reply_then_transfers() -> None:
    bridge = CallBridge(MULAW, handoff_grace_ms=3000)
    bridge.on_event(CoreOutput(7, Handoff("dtmf", False)), 0)
    bridge.on_event(ReplyAudio(7, b"\x00" * 800, 0), 0)  # 100 ms "connecting you"
    bridge.on_event(ReplyAudioEnd(7), 0)
    out = {t: bridge.tick(t) for t in range(0, 300, 20)}
    transfer_at = [t for t, cmds in out.items() if Transfer("dtmf", False) in cmds]
    assert transfer_at == [100]


def test_handoff_without_reply_transfers_at_the_deadline() -> None:
    bridge = CallBridge(MULAW, handoff_grace_ms=500)
    bridge.on_event(CoreOutput(8, Handoff("emergency", True)), 0)
    assert Transfer("emergency", True) not in bridge.tick(480)
    assert Transfer("emergency", True) in bridge.tick(500)


def test_pause_and_queue_cap_and_session_end() -> None:
    bridge = CallBridge(MULAW, max_queue_frames=10)
    bridge.on_event(ReplyAudio(1, b"\x00" * 160 * 15, 0), 0)
    assert bridge.dropped_frames == 5
    bridge.paused = True
    assert frames(bridge.tick(0)) == []
    bridge.paused = False
    assert len(frames(bridge.tick(20))) == 1
    assert bridge.on_event(SessionEnded("s", "hangup"), 30) == [Hangup("hangup")]


def test_convert_between_phone_encodings() -> None:
    every = bytes(range(256))
    for enc in ("mulaw", "alaw"):  # G.711 -> linear -> G.711 keeps every level
        linear = convert(every, enc, "pcm16")
        assert convert(convert(linear, "pcm16", enc), enc, "pcm16") == linear
    assert len(convert(every, "mulaw", "alaw")) == 256 and convert(every, "alaw", "alaw") == every


@pytest.mark.parametrize("change", [
    {"sip_host": "example.com"}, {"sip_host": "0.0.0.0"},
    {"sip_port": 70000}, {"rtp_port_min": 20001}, {"sip_codecs": ("G729",)},
    {"agent_uri": "tel:+1555"}, {"jitter_ms": 5}, {"max_calls": 0}])
def test_settings_validation(change: dict[str, object]) -> None:
    PhoneSettings().validate()
    with pytest.raises(ConfigError):
        dataclasses.replace(PhoneSettings(), **change).validate()  # type: ignore[arg-type]
