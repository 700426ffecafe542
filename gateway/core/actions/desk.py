"""One conversation's actions: drives an ActionFlow, calls the backend, says the result.

The conversation hands each turn to ActionDesk.step() before its own yes/no handling; None means
"not mine" and the turn goes on to the knowledge base as before. A step carries the events to
send, the lines to record (call outcome and latency, never a payload) and, when needed, the
reason for a hand-off (the conversation builds it, with its context package). Step-up uses the
core's verifier and its attempt limit, as the conversation's own high-risk step-up does.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.core.actions.client import ActionClient, CallResult
from gateway.core.actions.declarations import Action, ActionCatalog
from gateway.core.actions.flow import ActionFlow, Known, carries_value, route
from gateway.core.actions.templates import render
from gateway.core.actions.tools import ToolRouter
from gateway.core.api import CoreEvent, ReplyClause, StateUpdate, VerificationRequired
from gateway.core.dialog.state import yes_no
from gateway.core.messages import say as core_say
from gateway.core.policies.pii import mask
from gateway.core.policies.risk import assess_risk
from gateway.core.policies.verify import MAX_ATTEMPTS, Challenge, Verifier

_MESSAGES: Mapping[str, Mapping[str, str]] = {
    "confirm": {"en": "Before I go ahead: {what}, with {details}. Shall I do that?",
                "zh": "办理前跟您确认：{what}，{details}。确认办理吗？"},
    "cancelled": {"en": "All right, I haven't done anything. Is there anything else I can help with?",
                  "zh": "好的，我没有做任何操作。还有什么可以帮您？"},
    "say-yes-no": {"en": "Please say yes to go ahead, or no to cancel.",
                   "zh": "请回答“是”继续办理，或回答“不”取消。"},
    "give-up": {"en": "I still don't have the {slot}, so I can't do this for you here. "
                      "Would you like me to connect you to a person?",
                "zh": "我还是没有拿到{slot}，暂时无法为您办理。需要为您转接人工客服吗？"},
    "verified": {"en": "Thank you, you are verified.", "zh": "验证成功，谢谢。"},
    "failed-read": {"en": "Sorry, I can't reach our {system} system right now, so I can't check that "
                          "for you. Would you like me to connect you to a person?",
                    "zh": "抱歉，{system}系统暂时无法访问，我现在查不到。需要为您转接人工客服吗？"},
    "failed-change": {"en": "Sorry, our {system} system didn't answer properly, so I can't tell whether "
                            "your request went through. Would you like me to connect you to a person?",
                      "zh": "抱歉，{system}系统没有正常响应，我无法确认您的申请是否已提交。"
                            "需要为您转接人工客服吗？"},
    "rejected": {"en": "Sorry, our {system} system couldn't accept that request. "
                       "Would you like me to connect you to a person?",
                 "zh": "抱歉，{system}系统无法受理这个请求。需要为您转接人工客服吗？"},
    "not-found": {"en": "Sorry, I couldn't find anything for {details}. "
                        "Would you like me to connect you to a person?",
                  "zh": "抱歉，没有找到与{details}相关的记录。需要为您转接人工客服吗？"},
    "anything-else": {"en": "All right. Is there anything else I can help with?",
                      "zh": "好的。还有什么可以帮您？"},
}


def say(key: str, language: str, **values: str) -> str:
    table = _MESSAGES[key]
    return (table.get(language) or table["en"]).format(**values)


@dataclass(frozen=True)
class ActionTurn:
    text: str  # masked
    raw: str  # used once, in memory, for a verification answer; never stored
    language: str
    intent: str
    slots: Mapping[str, str] = field(default_factory=dict)  # found in this turn
    detail: Mapping[str, Any] = field(default_factory=dict)  # screenshot fields
    earlier: Mapping[str, str] = field(default_factory=dict)  # slots from earlier turns


@dataclass
class ActionStep:
    events: list[CoreEvent] = field(default_factory=list)
    records: list[tuple[str, dict[str, object]]] = field(default_factory=list)
    handoff: str = ""  # a reason: the conversation hands the caller to a person first
    feedback_for: str = ""  # "action:<name>": the last clause asks whether that solved it
    slots: dict[str, str] = field(default_factory=dict)  # for the hand-off package: what the action had
    said: list[str] = field(default_factory=list)

    def clause(self, text: str, language: str, final: bool = True) -> None:
        self.events.append(ReplyClause(text, language, final=final))
        self.said.append(text)


class ActionService:
    """The catalog and the HTTP client of one core; opens one desk per conversation."""

    def __init__(self, catalog: ActionCatalog, client: ActionClient | None = None,
                 *, risk_amount: float = 5000.0, tools: ToolRouter | None = None) -> None:
        self.catalog = catalog
        self.client = client or ActionClient(catalog)
        self.risk_amount = risk_amount
        self.tools = tools  # an OpenAI-compatible LLM offered the actions as tools (backend "openai")

    def desk(self, session_id: str, verifier: Verifier | None, tenant: str = "") -> ActionDesk:
        return ActionDesk(self, session_id, verifier, tenant)

    async def aclose(self) -> None:
        await self.client.aclose()
        if self.tools is not None:
            await self.tools.aclose()


def _screen(detail: Mapping[str, Any]) -> dict[str, str]:
    fields: dict[str, str] = {}
    raw = detail.get("fields")
    for item in raw if isinstance(raw, list) else []:
        if isinstance(item, dict) and isinstance(item.get("kind"), str) \
                and isinstance(item.get("value"), str):
            fields.setdefault(item["kind"][:40], mask(item["value"][:120]).text)
    return fields


class ActionDesk:
    def __init__(self, service: ActionService, session_id: str, verifier: Verifier | None,
                 tenant: str = "") -> None:
        self.service, self.session_id, self.verifier = service, session_id, verifier
        experiment = service.catalog.experiment
        self.variant = experiment.variant(session_id, tenant) if experiment is not None else ""
        # Written with the session's first turn: which arm of the A/B split it is in.
        self.pending: list[tuple[str, dict[str, object]]] = (
            [("experiment", {"name": experiment.name, "variant": self.variant})]
            if experiment is not None and self.variant else [])
        self.flow: ActionFlow | None = None
        self.challenge: Challenge | None = None
        self.attempts = 0
        self.offered_person = False  # the last reply offered a person after a failure
        self.offers_made = 0  # proactive offers this call (at most one)
        self.context = ""  # the caller's words since the action started (for the risk policy)
        self.last_values: dict[str, str] = {}  # of the last action that ended without success

    @property
    def idle(self) -> bool:
        """No action under way, no verification and no offer of a person waiting for an answer."""
        return self.flow is None and self.challenge is None and not self.offered_person

    def drain(self) -> list[tuple[str, dict[str, object]]]:
        out, self.pending = self.pending, []
        return out

    def offer(self, resolved: tuple[str, ...], language: str, *, intent: str, handed_off: bool,
              sentiment: float) -> str:
        """The one proactive offer of the call, once the caller said the answer helped: "" when
        none fits, one was made already, the caller is in the B arm, or the call is a complaint,
        a hand-off or an emergency (or the caller sounds unhappy)."""
        if (self.offers_made or handed_off or self.variant == "b" or sentiment <= -0.3
                or intent in ("complaint", "emergency", "human_request")):
            return ""
        offer = next((o for o in self.service.catalog.offers if o.follows(resolved)), None)
        if offer is None:
            return ""
        self.offers_made += 1
        self.pending.append(("offer", {"offer": offer.name, "variant": self.variant}))
        return offer.text.get(language) or offer.text["en"]

    def _system(self, action: Action, language: str) -> str:
        label = self.service.catalog.integrations[action.integration].label
        return label.get(language) or label.get("en") or action.integration

    async def step(self, turn: ActionTurn) -> ActionStep | None:
        if self.challenge is not None:
            return await self._verification(turn)
        if self.offered_person:
            self.offered_person = False
            answer = yes_no(turn.text)
            if answer is not None:
                step = ActionStep()
                if answer:
                    step.handoff, step.slots = "action-failed", dict(self.last_values)
                    step.clause(core_say("handoff", turn.language), turn.language)
                else:
                    step.clause(say("anything-else", turn.language), turn.language)
                return step
        if turn.intent in ("human_request", "complaint", "emergency"):
            if self.flow is not None:
                self.flow = None  # the caller moved on: the conversation's policies take over
            return None
        # Only this turn's words and screen choose an action (an order number mentioned earlier
        # must not turn a later policy question into one); earlier slots may still fill it.
        known = Known(turn.text, turn.slots, _screen(turn.detail))
        flow = self.flow
        if flow is None:
            action = route(self.service.catalog, turn.intent, known)
            proposed: dict[str, str] = {}
            tools = self.service.tools
            if action is None and tools is not None and tools.worth_asking(
                    turn.intent, carries_value(self.service.catalog, known)):
                choice = await tools.choose(turn.text)
                self.pending.append(("tool-route", choice.record()))
                action, proposed = choice.action, choice.values
            if action is None:
                return None
            flow = self.flow = ActionFlow(action, dict(proposed))
            self.context = ""
            flow.fill(Known(turn.text, {**turn.earlier, **turn.slots}, known.screen))
            start: tuple[str, dict[str, object]] = ("action-step", {"action": action.name, "step": "start"})
            step = ActionStep(records=[*self.drain(), start])
        else:
            step = ActionStep()
            if flow.stage == "confirm":
                answer = yes_no(turn.text)
                changed = flow.fill(known) if answer is None else []
                if answer is False:
                    self.flow = None
                    step.records.append(("action-step", {"action": flow.action.name, "step": "cancelled"}))
                    step.clause(say("cancelled", turn.language), turn.language)
                    return step
                if answer is None and not changed:
                    step.clause(say("say-yes-no", turn.language), turn.language)
                    return step
                if answer:
                    step.records.append(("action-step", {"action": flow.action.name, "step": "confirmed"}))
                else:
                    flow.stage = "collect"  # a correction: read back again
            else:
                flow.fill(known)
        self.context = f"{self.context} {turn.text}"[-1000:]
        return await self._advance(flow, step, turn.language)

    def _needs_step_up(self, flow: ActionFlow) -> bool:
        if flow.action.step_up == "always":
            return True
        if flow.action.step_up != "risk":
            return False
        try:
            amount = float(flow.values["amount"]) if "amount" in flow.values else None
        except ValueError:
            amount = None
        if amount is not None and amount >= self.service.risk_amount:
            return True
        return assess_risk(self.context, amount, self.service.risk_amount) is not None

    async def _advance(self, flow: ActionFlow, step: ActionStep, language: str) -> ActionStep:
        action = flow.action
        needs_step_up = self._needs_step_up(flow) and self.verifier is not None
        stage = flow.next_stage(needs_step_up)
        step.events.insert(0, StateUpdate(flow.action.intents[0] if action.intents else action.name,
                                          dict(flow.values)))
        if stage == "ask":
            param = next(p for p in action.parameters if p.name == flow.asking)
            step.clause(param.ask.get(language) or param.ask["en"], language)
            return step
        if stage == "give-up":
            self.flow, self.offered_person, self.last_values = None, True, dict(flow.values)
            missing = flow.missing()
            step.records.append(("action-step", {"action": action.name, "step": "gave-up"}))
            name = missing.label.get(language, missing.name) if missing else ""
            step.clause(say("give-up", language, slot=name), language)
            return step
        if stage == "confirm":
            step.clause(say("confirm", language, what=action.description.get(language, action.name),
                            details=flow.readback(language)), language)
            return step
        if stage == "verify":
            assert self.verifier is not None
            self.challenge = await asyncio.to_thread(self.verifier.start, self.session_id)
            self.attempts = 0
            step.records.append(("step-up", {"operation": f"action:{action.name}",
                                             "method": self.challenge.method}))
            prompt = core_say(f"verify-{self.challenge.method}", language)
            step.events.append(VerificationRequired(self.challenge.method, prompt))
            step.clause(prompt, language, final=False)
            step.clause(core_say("safety-notice", language), language)
            return step
        return await self._call(flow, step, language)

    async def _verification(self, turn: ActionTurn) -> ActionStep | None:
        challenge, verifier, flow = self.challenge, self.verifier, self.flow
        assert challenge is not None and verifier is not None
        if flow is None or (challenge.method == "otp" and not any(ch.isdigit() for ch in turn.raw)):
            self.challenge, self.flow = None, None  # the caller moved on: nothing is done
            return None
        ok = await asyncio.to_thread(verifier.check, challenge, turn.raw)
        self.attempts += 1
        step = ActionStep(records=[("verification", {"method": challenge.method, "ok": ok,
                                                     "attempt": self.attempts, "action": flow.action.name})])
        if ok:
            self.challenge = None
            step.clause(say("verified", turn.language), turn.language, final=False)
            return await self._advance(flow, step, turn.language)
        if self.attempts >= MAX_ATTEMPTS:
            self.challenge, self.flow = None, None
            step.handoff, step.slots = "verification-failed", dict(flow.values)
            step.clause(core_say("verify-locked", turn.language), turn.language)
        else:
            step.clause(core_say("verify-failed", turn.language), turn.language)
        return step

    async def _call(self, flow: ActionFlow, step: ActionStep, language: str) -> ActionStep:
        action = flow.action
        self.flow = None
        result: CallResult = await self.service.client.call(action, flow.values)
        step.records.append(("action", {**result.record(), "changes": action.changes}))
        if result.ok:
            values = {**result.data, **flow.values}
            step.clause(render(action.reply[language] if language in action.reply else action.reply["en"],
                               action, values, language), language, final=False)
            step.feedback_for = f"action:{action.name}"
            step.clause(core_say("feedback-question", language), language)
            return step
        if result.outcome == "not-found" and action.not_found:  # an answer, not a failure
            step.clause(render(action.not_found.get(language, action.not_found["en"]), action, flow.values,
                               language), language)
            return step
        self.offered_person, self.last_values = True, dict(flow.values)
        if result.outcome == "not-found":
            text = say("not-found", language, details=flow.readback(language))
        elif result.outcome == "http-4xx":
            text = say("rejected", language, system=self._system(action, language))
        elif action.changes and result.outcome in ("timeout", "bad-json", "bad-response", "http-5xx"):
            text = say("failed-change", language, system=self._system(action, language))
        else:
            text = say("failed-read", language, system=self._system(action, language))
        step.clause(text, language)
        return step


def with_final(events: list[CoreEvent]) -> list[CoreEvent]:
    """Exactly one final clause, the last one (a hand-off may come before the clauses)."""
    last = max((i for i, e in enumerate(events) if isinstance(e, ReplyClause)), default=-1)
    return [dataclasses.replace(e, final=i == last) if isinstance(e, ReplyClause) else e
            for i, e in enumerate(events)]
