"""Whether the caller is still hearing the reply audio sent so far: a pure state machine, no I/O.

The far end plays reply audio in real time from the first frame. While the caller sends media
(audio frames), the caller's media time is the clock: the reply is audible until that clock has
run for as long as the audio sent. That makes turn-taking the same at any input speed. A client
that sends no media (typed turns only), or has stopped sending it, has no running media clock:
then the reply is audible until its audio has had time to play out in real time (wall-clock time
from each frame's sending, so pauses in synthesis count). The wall-clock time is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass

STALE_MEDIA_S = 1.0  # caller media older than this no longer runs the clock (frames are <= 200 ms)


@dataclass
class Playout:
    stale_media_s: float = STALE_MEDIA_S
    start_ms: int | None = None  # caller media time at the reply's first frame; None: nothing audible
    sent_ms: float = 0.0  # reply audio sent since the reply began
    media_ms: int = 0  # the caller's media time
    media_at: float | None = None  # wall-clock time the caller's media time last advanced
    ends_at: float = 0.0  # wall-clock time the audio sent so far has played out in real time

    def media(self, media_ms: int, now: float) -> None:
        """Caller media up to `media_ms` has arrived (at `now`)."""
        self.media_ms, self.media_at = media_ms, now

    def begin(self) -> None:
        """A new reply: nothing of it sent yet."""
        self.start_ms, self.sent_ms, self.ends_at = None, 0.0, 0.0

    def first_frame(self) -> None:
        """The reply's first audio frame is about to be sent: it is audible from this media time."""
        self.start_ms = self.media_ms

    def sent(self, frame_ms: float, now: float) -> None:
        """One frame of reply audio, `frame_ms` long, sent at `now`."""
        self.sent_ms += frame_ms
        self.ends_at = max(self.ends_at, now) + frame_ms / 1000

    def over(self) -> None:
        """The far end says it played the reply (or the reply was stopped): nothing audible."""
        self.start_ms = None

    def audible(self, now: float) -> bool:
        """Media time decides while the caller's media runs; without it, real time can only end a
        reply sooner (never make audible what media time says is over)."""
        if self.start_ms is None or self.media_ms >= self.start_ms + self.sent_ms:
            return False
        media_running = self.media_at is not None and now - self.media_at < self.stale_media_s
        return media_running or now < self.ends_at
