"""Does a pause's transcript read as a finished turn? Cues per language, kept as data.

Whisper punctuates finished sentences, so missing final punctuation, a trailing comma or a
dangling function word means the caller is mid-sentence. Some endings say more than a full stop:
a question mark, and in Mandarin a sentence-final particle (吗 呢 吧 啊 了), which Whisper often
leaves unpunctuated. Those make a turn "final": the caller's own pause rhythm no longer stretches
the wait (modalities/speech/endpointing.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from contracts.text import is_cjk

# "unsure": no full stop, or one after one or two words; only a confident end-of-turn model ends it.
# "announced": the words so far only announce what comes next ("I want to ask", 我想问): the caller
# has not said it yet, so no verdict of the model ends the turn at the usual silence.
# "opening": a greeting and nothing else ("Hello.", "Hello?", 你好): callers usually go on to the
# question after a short breath, so the model's certainty does not end the turn there either.
Completeness = Literal["announced", "opening", "incomplete", "unsure", "complete", "final"]


@dataclass(frozen=True)
class LanguageCues:
    continuations: frozenset[str] | tuple[str, ...]  # a turn ending in one of these is unfinished
    final_endings: tuple[str, ...] = ()  # endings (punctuation stripped) that close a turn
    short_turns: frozenset[str] = frozenset()  # whole turns of one or two words
    announcements: tuple[str, ...] = ()  # endings that announce the question still to come
    greetings: frozenset[str] = frozenset()  # whole turns that only open the conversation
    spaced: bool = True  # words are separated by spaces (False: match endings on characters)


CUES: Mapping[str, LanguageCues] = MappingProxyType({
    "en": LanguageCues(
        continuations=frozenset((
            "and", "or", "but", "so", "because", "the", "a", "an", "to", "of", "my", "your", "our",
            "their", "his", "her", "its", "with", "for", "in", "on", "at", "if", "that", "which", "who",
            "when", "while", "than", "then", "as", "like", "about", "from", "into", "um", "uh", "er")),
        short_turns=frozenset((
            "yes", "no", "yeah", "yep", "nope", "ok", "okay", "sure", "thanks", "thank you",
            "bye", "goodbye", "agent", "operator", "representative", "help", "stop", "repeat",
            "correct", "right", "wrong", "please", "human", "person")),
        announcements=("want to ask", "wanted to ask", "like to ask", "have a question", "got a question",
                       "my question is", "was wondering", "can i ask", "could i ask"),
        greetings=frozenset(("hello", "hi", "hey", "hello there", "hi there", "hey there", "good morning",
                             "good afternoon", "good evening", "hello hello", "hi hello"))),
    "zh": LanguageCues(
        continuations=("和", "跟", "但是", "因为", "所以", "的", "而且", "还有", "如果", "就是", "然后",
                       "我想", "想问", "问一下", "想知道", "请问", "那个", "嗯"),
        final_endings=("吗", "呢", "吧", "啊", "了", "嘛"),
        announcements=("我想问", "想问一下", "问一下", "请问", "我想知道", "想咨询", "咨询一下", "我有个问题",
                       "我有一个问题", "我想了解", "想了解一下"),
        greetings=frozenset(("你好", "您好", "喂", "喂你好", "喂您好", "你好你好", "哈喽", "早上好", "下午好",
                             "晚上好")),
        spaced=False),
})

# A few verbs and auxiliaries: a sentence opening with "and"/"so"/"but" with none of them (nor a
# word in -ed/-ing/-n't) is a fragment still waiting for its verb ("And so, my fellow Americans.").
_VERBS = frozenset((
    "is", "are", "was", "were", "be", "been", "am", "do", "does", "did", "have", "has", "had", "can",
    "could", "will", "would", "should", "shall", "may", "might", "must", "want", "need", "get", "got",
    "go", "went", "make", "made", "know", "think", "see", "take", "give", "tell", "ask", "return",
    "send", "ship", "pay", "paid", "order", "cancel", "change", "help", "buy", "bought", "like",
    "let", "call", "check", "find", "keep", "says", "said", "came", "come", "arrived", "work"))
_FRAGMENT_OPENERS = ("and", "so", "but", "or", "because", "well")
_FINAL_PUNCT = ".?!。？！"
_OPEN_PUNCT = ",;:，；：、…-—"


def completeness(text: str) -> Completeness | None:
    """How finished a transcript reads; None when there is nothing to judge."""
    stripped = text.strip().strip("\"'“”")
    if not stripped:
        return None
    said = stripped.rstrip(_FINAL_PUNCT + _OPEN_PUNCT + ".").strip().lower()
    if _greeting_only(said):  # "Hello?" too: Whisper writes the greeting as a question as often
        return "opening"
    if stripped[-1] in "?？":
        return "final"
    if said.endswith(CUES["zh"].announcements + CUES["en"].announcements):
        return "announced"
    if stripped.endswith("...") or stripped[-1] in _OPEN_PUNCT:
        return "incomplete"
    body = stripped.rstrip(_FINAL_PUNCT).strip()
    if is_cjk(body[-1:]):  # Whisper often leaves Chinese unpunctuated: endings decide
        zh = CUES["zh"]
        if body.endswith(tuple(zh.continuations)):
            return "incomplete"
        return "final" if body.endswith(zh.final_endings) else "complete"
    en = CUES["en"]
    last_sentence = _last_sentence(body)
    words = [w.strip(",;:").lower() for w in last_sentence.split()]
    if not words or words[-1] in en.continuations:
        return "incomplete"
    if " ".join(words) in en.short_turns:
        return "complete"
    if words[0] in _FRAGMENT_OPENERS and not any(_verb_like(w) for w in words):
        return "incomplete"
    # Whisper often leaves a short last piece unpunctuated ("ask what you can do for your
    # country"), and "Come quickly." or "The grass." may be whole or not: the words cannot tell.
    if stripped[-1] not in _FINAL_PUNCT or len(words) <= 2:
        return "unsure"
    return "complete"


def sounds_complete(text: str) -> bool | None:
    """Whether a transcript reads as a finished utterance; None when there is nothing to judge."""
    verdict = completeness(text)
    return None if verdict is None else verdict in ("complete", "final")


def _greeting_only(said: str) -> bool:
    """The whole turn so far is a greeting (punctuation between its words ignored)."""
    words = " ".join("".join(" " if c in _FINAL_PUNCT + _OPEN_PUNCT else c for c in said).split())
    return words in CUES["en"].greetings or words.replace(" ", "") in CUES["zh"].greetings


def _last_sentence(text: str) -> str:
    cut = max(text.rfind(p) for p in _FINAL_PUNCT)
    return text[cut + 1:] if cut >= 0 else text


def _verb_like(word: str) -> bool:
    return word in _VERBS or word.endswith(("ed", "ing", "n't"))

