"""One session's conversation with the core: policies first, then retrieval, then phrasing.

Order of a turn (deterministic up to phrasing): mask PII -> agent owns the session? (bot silent)
-> emergency words -> pending verification -> feedback / slot confirmation answers -> intent,
slots, sentiment -> explicit request for a person -> frustration -> high-risk step-up ->
retrieval -> grounded or LLM phrasing. Only masked text goes past the first step; the raw text is
used once more, in memory, to check a verification answer. respond() never blocks the loop.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from gateway.core.agents import Ticket
from gateway.core.api import CoreEvent, Handoff, ReplyClause, StateUpdate, TextTurn, VerificationRequired
from gateway.core.dialog.intents import classify
from gateway.core.dialog.slots import extract_slots
from gateway.core.dialog.state import DialogState, Line, yes_no
from gateway.core.grounded import without_question_type
from gateway.core.kb.index import Hit
from gateway.core.messages import say, slot_name
from gateway.core.nlu.answerability import judge, smalltalk_key
from gateway.core.nlu.understand import Reading
from gateway.core.phrasing import PhraseOutcome, build_messages, grounded_clauses
from gateway.core.policies.emergency import detect_emergency
from gateway.core.policies.frustration import frustrated
from gateway.core.policies.pii import mask
from gateway.core.policies.risk import RiskDecision, assess_risk
from gateway.core.policies.verify import MAX_ATTEMPTS, Challenge
from gateway.core.prepared import Key, ReadingMemo
from gateway.core.services import CoreServices
from gateway.core.text import base_language, guess_language, tokenize
from gateway.errors import LimitExceeded

if TYPE_CHECKING:
    from gateway.core.actions import ActionDesk

log = logging.getLogger("gateway.core")
_FOLLOW_UP_MODALITIES = ("screen", "sign")
_FOLLOW_UP = re.compile(
    r"^\s*(and|what about|how about|also)\b|\b(it|that|this|them)\b|^(那|还有|那么)|它|这个|那个"
)
# Words that name no topic of their own ("how long does it take after that?").
_GENERIC = frozenset(tokenize("take after before long much cost price fee time get need"))
_GENERIC_ZH = frozenset(("那", "那么", "那要", "还有", "呢", "它", "这个", "那个", "要", "需要"))


def _self_contained(text: str) -> bool:
    """A follow-up that asks its own kind of question about its own topic ("and how long does a
    refund take after that?") is not completed with the previous question's topic."""
    rest = without_question_type(text)
    asks = rest != text.lower()
    return asks and any(t not in _GENERIC and t not in _GENERIC_ZH and not t.startswith("~")
                        for t in tokenize(rest))


def _intent_of(keyword: str, reading: Reading | None) -> str:
    """The intent of a turn: the classifier's reading when it is sure (meaning), else the keyword
    rules. The keyword rules stay a floor where safety needs recall: a request for a person they
    see is kept even when the classifier reads something else."""
    if keyword == "human_request":
        return keyword
    if reading is not None and reading.route is not None:
        return reading.reports
    return keyword


class CoreConversation:
    def __init__(
        self, services: CoreServices, *, session_id: str, channel: str, language: str, tenant: str
    ) -> None:
        self.services = services
        self.session_id, self.channel, self.tenant = session_id, channel, tenant
        self.language = base_language(language) if language and language != "auto" else ""
        self.state = DialogState(window_turns=services.settings.window_turns)
        self.turns = 0
        self.handed_off = False
        self.backend_used: list[str] = []  # per answered turn: which backend phrased it
        self._challenge: Challenge | None = None
        self._attempts = 0
        self._pending_request = ""
        self._feedback_for: tuple[str, tuple[str, ...]] | None = None
        self._last_docs: tuple[str, ...] = ()  # documents the last answer came from
        self._turn_record: dict[str, object] | None = None  # written once per turn
        self._desk: ActionDesk | None = None  # backend actions of this conversation (issue 19)
        self._readings = ReadingMemo(self._read)  # understanding, started in the caller's pause

    # ------------------------------------------------------------------ helpers

    def _language_of(self, turn: TextTurn, text: str) -> str:
        if turn.language:
            return base_language(turn.language)
        return guess_language(text, default=self.language or "en")

    def _say(self, key: str, language: str, **values: str) -> ReplyClause:
        text = say(key, language, **values)
        self.state.add(Line("bot", text))
        return ReplyClause(text, language, final=True)

    def _state(self) -> StateUpdate:
        return StateUpdate(self.state.intent, self.state.visible_slots())

    async def _record(self, kind: str, detail: dict[str, object]) -> None:
        await asyncio.to_thread(self.services.records.record, self.session_id, self.turns, kind, detail,
                                tenant=self.tenant)

    def _handoff(self, reason: str, urgent: bool) -> Handoff:
        self.handed_off = True
        package = {**self.state.package(reason), "session_id": self.session_id, "channel": self.channel}
        try:
            self.services.agents.enqueue(Ticket(self.session_id, reason, urgent, package))
        except LimitExceeded:
            package["queue"] = "full"
        log.info("handoff session=%s reason=%s urgent=%s", self.session_id, reason, urgent)
        return Handoff(reason, urgent, package)

    # ------------------------------------------------------------------ the turn

    def _key(self, turn: TextTurn) -> Key | None:
        raw = turn.text.strip()[: self.services.settings.max_turn_chars]
        return (mask(raw).text, self._language_of(turn, raw)) if raw else None

    async def prepare(self, turn: TextTurn) -> None:
        """The caller may have finished on these words: start understanding them (pure; see
        gateway.core.prepared). respond() on the same words then reads nothing again."""
        key = self._key(turn)
        if key is None or self.handed_off or self._challenge is not None or detect_emergency(key[0]):
            return  # nothing to read, or respond() would not read this turn
        await self._readings.read(key)

    def prepared(self, turn: TextTurn) -> bool:
        """Whether a reading of exactly this turn was started before it ended."""
        key = self._key(turn)
        return key is not None and self._readings.has(key)

    async def respond(self, turn: TextTurn) -> AsyncIterator[CoreEvent]:
        settings = self.services.settings
        self.turns += 1
        raw = turn.text.strip()[: settings.max_turn_chars]
        language = self._language_of(turn, raw)
        text = mask(raw).text  # from here on only masked text is stored, logged or sent to a model
        self.state.add(Line("caller", text, turn.modality))
        self._turn_record = {"text": text, "language": language, "modality": turn.modality}
        async for event in self._respond(turn, raw, text, language):
            yield event
        if self._turn_record is not None:  # paths that end before _observe() wrote it
            await self._record("turn", self._turn_record)

    def _observe(self, text: str, language: str) -> float:
        """Worker thread: store the turn and score its sentiment in one hop off the loop."""
        if self._turn_record is not None:
            self.services.records.record(self.session_id, self.turns, "turn", self._turn_record,
                                         tenant=self.tenant)
            self._turn_record = None
        return self.services.sentiment.score(text, language)

    async def _respond(self, turn: TextTurn, raw: str, text: str, language: str) -> AsyncIterator[CoreEvent]:
        settings = self.services.settings
        if self.handed_off:
            agents = self.services.agents
            if agents.owner(self.session_id) is not None:
                return  # a person owns the session: the bot stays silent
            position = agents.position(self.session_id)
            if position:
                yield self._say("queue-position", language, position=str(position), ahead=str(position - 1))
                return
            self.handed_off = False  # the agent released the session: the bot answers again
        if not raw:
            yield self._say("empty", language)
            return
        if turn.modality == "dtmf" and raw == "0":
            yield self._handoff("dtmf", urgent=False)
            yield self._say("handoff", language)
            return
        # Emergencies first: the phrase list at once, then by meaning (one embedding, a few ms).
        floor = detect_emergency(text)
        reading = None if floor is not None else await self._readings.read((text, language))
        if floor is not None or (reading is not None and reading.emergency):
            self.state.intent = "emergency"
            yield self._state()
            yield self._handoff("emergency", urgent=True)
            yield self._say("emergency", language)
            phrase = floor.phrase if floor is not None else str(reading.emergency if reading else "")
            await self._record("emergency", {"phrase": phrase})  # after: nothing delays help
            return
        # Backend actions (issue 19, gateway/core/actions): an operation under way, or one this
        # turn routes to, is answered there; a turn it does not take goes on below unchanged.
        if self._challenge is None and self.services.actions is not None:
            acted = False
            async for event in self._act(turn, raw, text, language, reading):
                acted = True
                yield event
            if acted:
                return
        assert reading is not None
        verified = False
        if self._challenge is not None:
            async for event in self._verification_answer(raw, language):
                yield event
            if self._challenge is not None or self.handed_off or not self._pending_request:
                return
            text, self._pending_request, verified = self._pending_request, "", True
            reading = await self._readings.read((text, language))
        elif (answered := yes_no(text)) is not None and (self._feedback_for or self.state.pending_confirm):
            async for event in self._yes_no(answered, language):
                yield event
            return

        self._feedback_for = None
        score = await asyncio.to_thread(self._observe, text, language)
        self.state.sentiment.append(score)
        keyword = classify(text)
        intent = _intent_of(keyword, reading)
        if intent != "other" or self.state.intent == "emergency":
            self.state.intent = intent
        ask = self.state.fill(extract_slots(text))
        yield self._state()
        route = reading.route

        if keyword == "human_request" or (route is not None and route.policy == "handoff"):
            yield self._handoff("caller-request", urgent=False)
            yield self._say("handoff", language)
            return
        if frustrated(self.state.sentiment, settings.frustration_turns):
            yield self._handoff("frustration", urgent=False)
            yield self._say("handoff-frustration", language)
            return
        amount = float(self.state.slots["amount"]) if "amount" in self.state.slots else None
        risk = None if verified else assess_risk(text, amount, settings.risk_amount)
        if risk is None and not verified and route is not None and route.policy.startswith("verify:"):
            operation = route.policy.removeprefix("verify:")
            if operation != "large-transfer" or (amount is not None and amount >= settings.risk_amount):
                risk = RiskDecision(operation, amount if operation == "large-transfer" else None)
        if risk is not None and self.services.verifier:
            self._challenge = self.services.verifier.start(self.session_id)
            self._attempts, self._pending_request = 0, text
            await self._record("step-up", {"operation": risk.operation, "method": self._challenge.method})
            prompt = say(f"verify-{self._challenge.method}", language)
            yield VerificationRequired(self._challenge.method, prompt)
            yield ReplyClause(prompt, language)
            yield self._say("safety-notice", language)
            return
        if route is not None and route.action == "smalltalk" and ask is None:
            yield self._say(smalltalk_key(text), language)
            return
        # A verified request was understood when it was made: answer it without a second guess.
        async for event in self._answer(text, language, turn.modality, ask, None if verified else reading):
            yield event

    async def _act(self, turn: TextTurn, raw: str, text: str, language: str, reading: Reading | None
                   ) -> AsyncIterator[CoreEvent]:
        """Issue 19: the turn goes to this conversation's action desk first; nothing if not its."""
        from gateway.core.actions import ActionTurn, with_final

        assert self.services.actions is not None
        if self._desk is None:
            self._desk = self.services.actions.desk(self.session_id, self.services.verifier, self.tenant)
        for kind, detail in self._desk.drain():  # the session's A/B arm, with its first turn
            await self._record(kind, detail)
        if self._feedback_for is not None and self._desk.idle and not self.state.pending_confirm \
                and (answered := yes_no(text)) is not None:
            # The answer to "did that answer your question?": stored as ever, then at most one
            # related offer once the question is resolved (the desk says whether one fits).
            resolved = self._feedback_for[1]
            events = [e async for e in self._yes_no(answered, language)]
            offer = "" if not answered else self._desk.offer(
                resolved, language, intent=self.state.intent, handed_off=self.handed_off,
                sentiment=self.state.sentiment[-1] if self.state.sentiment else 0.0)
            if offer:
                events.append(ReplyClause(offer, language, final=True))
                self.state.add(Line("bot", offer, intent=self.state.intent))
            for kind, detail in self._desk.drain():
                await self._record(kind, detail)
            for event in with_final(events):
                yield event
            return
        if self._desk.challenge is not None and self._turn_record is not None:
            self._turn_record["text"] = "[VERIFICATION ANSWER]"  # a one-time code is never stored
        intent = _intent_of(classify(text), reading)  # the same understanding picks actions
        step = await self._desk.step(ActionTurn(text, raw, language, intent, extract_slots(text), turn.detail,
                                                dict(self.state.slots)))
        if step is None:
            for kind, detail in self._desk.drain():  # e.g. an LLM asked which tool, and none fit
                await self._record(kind, detail)
            return
        self._feedback_for = None
        if intent != "other":
            self.state.intent = intent
        for kind, detail in step.records:
            await self._record(kind, detail)
        if step.handoff:
            for name, value in step.slots.items():  # the person sees what the action had (masked)
                self.state.slots.setdefault(name, mask(value).text)
            yield self._handoff(step.handoff, urgent=False)
        for event in with_final(step.events):
            yield event
        if step.said:
            self.state.add(Line("bot", " ".join(step.said), intent=self.state.intent))
        if step.feedback_for:
            self._feedback_for = (text, (step.feedback_for,))

    def _read(self, text: str, language: str) -> Reading:
        """Worker thread: what the turn means (timed in-process, logged at debug level)."""
        started = time.perf_counter()
        reading = self.services.understanding.read(text, language)
        log.debug("understood session=%s intent=%s p=%.2f in %.1f ms", self.session_id, reading.intent,
                  reading.confidence, 1000 * (time.perf_counter() - started))
        return reading

    async def _verification_answer(self, raw: str, language: str) -> AsyncIterator[CoreEvent]:
        challenge, verifier = self._challenge, self.services.verifier
        assert challenge is not None and verifier is not None
        if challenge.method == "otp" and not any(ch.isdigit() for ch in raw):
            self._challenge, self._pending_request = None, ""  # the caller moved on: request dropped
            return
        ok = await asyncio.to_thread(verifier.check, challenge, raw)
        self._attempts += 1
        await self._record("verification", {"method": challenge.method, "ok": ok, "attempt": self._attempts})
        if ok:
            self._challenge = None
            self.state.slots["verified"] = challenge.method
            self.state.confirmed.add("verified")
            yield self._state()
            yield dataclasses.replace(self._say("verify-ok", language), final=False)
        elif self._attempts >= MAX_ATTEMPTS:
            self._challenge, self._pending_request = None, ""
            yield self._handoff("verification-failed", urgent=False)
            yield self._say("verify-locked", language)
        else:
            yield self._say("verify-failed", language)

    async def _yes_no(self, answered: bool, language: str) -> AsyncIterator[CoreEvent]:
        if self.state.pending_confirm:
            slot = self.state.pending_confirm
            self.state.confirm(answered)
            yield self._state()
            if answered:
                yield self._say("slot-confirmed", language)
            else:
                yield self._say("slot-retry", language, slot=slot_name(slot, language))
            return
        assert self._feedback_for is not None
        question, sources = self._feedback_for
        self._feedback_for = None
        await asyncio.to_thread(
            self.services.records.feedback, self.session_id, self.turns, question, sources, answered,
            language, tenant=self.tenant,
        )
        yield self._say("feedback-thanks" if answered else "feedback-sorry", language)

    def _query(self, text: str, modality: str) -> str:
        # A screenshot or a signed turn often completes the question asked just before it. A short
        # typed or spoken follow-up ("and how much does it cost?", "is that covered") is resolved
        # against the dialog state: the topic of the last answer, not the last question's words.
        if not self.state.last_question:
            return text
        if modality in _FOLLOW_UP_MODALITIES:
            return f"{text} {without_question_type(self.state.last_question)}"
        if self._follow_up(text) and self.state.topic:
            return f"{text} {self._topic_words()}"
        return text

    def _topic_words(self) -> str:
        """The last answer's topic without a question type: an FAQ title is a question ("How long
        do I have to return an item?"), and its "how long" must not steer "when will I get my refund"."""
        return without_question_type(self.state.topic)

    def _follow_up(self, text: str) -> bool:
        leans = _FOLLOW_UP.search(text.lower()) is not None and not _self_contained(text)
        return bool(self.state.last_question) and (leans or len(tokenize(text)) <= 1)

    async def _answer(
        self, text: str, language: str, modality: str, ask: str | None, reading: Reading | None = None
    ) -> AsyncIterator[CoreEvent]:
        settings = self.services.settings
        query = self._query(text, modality)
        prefer = self._last_docs if query != text else ()
        route = reading.route if reading is not None else None
        topics: tuple[str, ...] = ()
        if route is not None and not route.kb and reading is not None:  # a policy that did not fire
            route = self.services.understanding.catalog_intent(route.reports) or route
        if route is not None and route.kb:  # the intent's topics, when the caller names none
            topics = tuple(dict.fromkeys(p.doc for p in self.services.index.passages
                                         if p.doc.rsplit("/", 1)[-1].split(".")[0] in route.kb))
            prefer = prefer or topics
        # The classifier already embedded this very text: retrieval reuses the vector.
        vector = reading.vector if reading is not None and query == text else None
        hits: list[Hit] = await asyncio.to_thread(
            self.services.index.search, query, language, settings.top_k, prefer, vector
        )
        # With a classifier, the answerability verdict below judges meaning; without, min_score.
        understood = reading is not None and reading.vector is not None
        hits = [h for h in hits if understood or h.score >= settings.min_score]
        if not hits and self.state.topic and modality not in _FOLLOW_UP_MODALITIES:
            follow = f"{text} {self._topic_words()}"  # "and for express?" leans on the last answer's topic
            hits = [
                h
                for h in await asyncio.to_thread(self.services.index.search, follow, language, settings.top_k)
                if h.score >= settings.min_score
            ]
        if query == text:
            self.state.last_question = text
        followup = query != text or (modality not in _FOLLOW_UP_MODALITIES and self._follow_up(text))
        verdict = judge(hits, reading, settings.answer_min_semantic, followup=followup,
                        topics=topics)
        if verdict.kind != "answer":
            self.backend_used.append("none")
            await self._record("no-answer", {"intent": self.state.intent, "why": verdict.kind})
            if verdict.kind == "clarify":
                yield self._say("clarify", language, first=verdict.topics[0], second=verdict.topics[1])
            else:
                yield self._say("out-of-scope" if verdict.kind == "out-of-scope" else "no-answer", language)
            return
        hits = list(verdict.hits)
        self._last_docs = tuple(dict.fromkeys(h.passage.doc for h in hits[:1]))
        self.state.topic = hits[0].passage.title
        epilogue = ""
        if ask is not None:
            self.state.pending_confirm = ask
            epilogue = say(
                "confirm-slot", language, slot=slot_name(ask, language), value=self.state.slots[ask]
            )
        elif settings.feedback:
            epilogue = say("feedback-question", language)
        spoken: list[str] = []
        sources: set[str] = set()
        async for clause in self._phrase(query, hits, language):
            spoken.append(clause.text)
            sources.update(clause.sources)
            yield dataclasses.replace(clause, final=False) if epilogue and clause.final else clause
        if epilogue:
            spoken.append(epilogue)
            yield ReplyClause(epilogue, language, final=True)
            if ask is None:
                self._feedback_for = (text, tuple(sorted(sources)))
        self.state.add(Line("bot", " ".join(spoken), intent=self.state.intent))
        await self._record("answer", {"sources": sorted(sources), "backend": self.backend_used[-1]})

    async def _phrase(self, query: str, hits: list[Hit], language: str) -> AsyncIterator[ReplyClause]:
        phraser = self.services.phraser
        if phraser is None:
            self.backend_used.append("grounded")
            for clause in grounded_clauses(query, hits, language):
                yield clause
            return
        recent = [(ln.role, ln.text) for ln in list(self.state.window)[:-1]]
        messages = build_messages(query, hits, language, " | ".join(self.state.summary), recent)
        outcomes: list[PhraseOutcome] = []
        async for clause in phraser.phrase(query, hits, language, messages, outcomes):
            yield clause
        outcome = outcomes[-1] if outcomes else PhraseOutcome("grounded", "cancelled")
        self.backend_used.append(outcome.backend)
        if outcome.fallback:
            log.warning("llm fallback session=%s why=%s", self.session_id, outcome.fallback)

    async def aclose(self) -> None:
        self._readings.close()
        self.services.agents.cancel(self.session_id)
