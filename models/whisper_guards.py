"""Guards for decoding an utterance at its own length (pure functions, no model needed).

Whisper was trained on 30-s windows. Decoding a short utterance on its own frames is 3 to 5
times cheaper, but two failure modes appear that the 30-s window hides: on clips under about
10 s the decoder repeats a phrase until it runs out of tokens, and nothing bounds the output of a
confused pass. So the input is padded to `MIN_FRAMES`, the output is capped in proportion to the
duration, and a pass that loops, hits the cap or compresses too well is rejected (the caller
then decodes the padded 30-s window as before).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence

FRAMES_PER_SECOND = 100  # Whisper's log-mel hop is 10 ms
MIN_FRAMES = 1000  # 10 s: shorter encodings make tiny.en and base loop on short clips
MAX_FRAMES = 3000  # the encoder's positional table ends at 30 s
# Tokens per second of audio: fast English is ~4 tokens/s, Mandarin up to ~6 characters/s and a
# character is 1 to 3 byte-level tokens; 15/s plus a floor leaves room for all of them.
TOKENS_PER_SECOND = 15.0
TOKEN_FLOOR = 24
COMPRESSION_LIMIT = 2.4  # faster-whisper's own threshold for "too repetitive"
# A pass prompted with the turn's earlier words that wrote fewer tokens than this per second of
# audio skipped speech: on jfk.wav's last 3 s ("ask what you can do for your country"), prompted
# with "... what your country can do for you", tiny.en wrote only "country." (2 tokens).
MIN_PROMPTED_TOKENS_PER_SECOND = 1.0
MAX_PERIOD = 12  # longest repeated token pattern looked for
MIN_REPEATS = 3  # a pattern seen this many times in a row ...
MIN_LOOP_TOKENS = 9  # ... over at least this many tokens is a loop, not "对对对" or "no no no"
MIN_TWICE_TOKENS = 4  # a whole output of one phrase said twice, each at least this long


def padded_frames(frames: int) -> int:
    """Frames to encode for an utterance of `frames` frames (at least MIN_FRAMES, at most MAX_FRAMES)."""
    return min(MAX_FRAMES, max(frames, MIN_FRAMES))


def token_cap(seconds: float, prompt_tokens: int, max_length: int = 448) -> int:
    """Most new tokens a pass may produce for `seconds` of audio after a prompt of `prompt_tokens`."""
    if seconds < 0 or prompt_tokens < 0:
        raise ValueError("seconds and prompt_tokens must be >= 0")
    cap = TOKEN_FLOOR + int(TOKENS_PER_SECOND * seconds)
    return max(1, min(cap, max_length - prompt_tokens))


def compression_ratio(text: str) -> float:
    """Bytes of the text over bytes of its zlib compression (high: repetitive)."""
    raw = text.encode("utf-8")
    return len(raw) / len(zlib.compress(raw)) if raw else 0.0


def loops(tokens: Sequence[int]) -> bool:
    """True when the sequence ends in one pattern repeated (what a looping decoder produces), or
    is one sentence said twice (beam search on a short clip: "我想问...有房我想问...有房")."""
    n = len(tokens)
    if n >= 2 * MIN_TWICE_TOKENS and n % 2 == 0 and list(tokens[:n // 2]) == list(tokens[n // 2:]):
        return True
    for period in range(1, min(MAX_PERIOD, n // MIN_REPEATS) + 1):
        tail = list(tokens[n - period:])
        repeats, end = 1, n - period
        while end - period >= 0 and list(tokens[end - period:end]) == tail:
            repeats += 1
            end -= period
        if repeats >= MIN_REPEATS and repeats * period >= MIN_LOOP_TOKENS:
            return True
    return False


def skipped_speech(tokens: int, seconds: float) -> bool:
    """A prompted pass wrote something, but too little for the audio's length (empty is silence)."""
    return 0 < tokens < MIN_PROMPTED_TOKENS_PER_SECOND * seconds


def rejection(tokens: Sequence[int], text: str, cap: int) -> str | None:
    """Why a variable-length pass must not be trusted ("loop", "token-cap", "compression"), or None."""
    if loops(tokens):
        return "loop"
    if len(tokens) >= cap - 1:  # CTranslate2 stops one token short of max_length
        return "token-cap"
    if compression_ratio(text) > COMPRESSION_LIMIT:
        return "compression"
    return None


_REPEATED = re.compile(r"(.{2,50}?)(?:[\s，,、]*\1){2,}")  # bounded: linear in the text


def collapse_repeats(text: str) -> str:
    """The text with any phrase said three or more times in a row kept once (the padded decode
    has no second chance: a loop there is cut rather than spoken back to the caller)."""
    return _REPEATED.sub(r"\1", text)
