"""Which action a turn starts, and one action's progress: a small pure state object, no I/O.

collect (missing parameters asked for one at a time) -> confirm (read back, for anything that
changes state) -> verify (step-up, where the declaration or the risk policy says so) -> call.
Values come from the sources each parameter declares: a dialog slot, a screenshot field, a
pattern in the caller's words, or the caller's whole answer to the question asking for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from gateway.core.actions.declarations import Action, ActionCatalog, Parameter

MAX_ASKS = 2  # the same question asked this many times without an answer: give up, offer a person
MAX_ANSWER_CHARS = 200


@dataclass(frozen=True)
class Known:
    """What one turn offers: the caller's (masked) words, dialog slots, screenshot fields."""

    text: str
    slots: Mapping[str, str] = field(default_factory=dict)
    screen: Mapping[str, str] = field(default_factory=dict)  # field kind -> first value


def value_for(param: Parameter, known: Known, *, answering: bool = False) -> str | None:
    if param.screen and known.screen.get(param.screen):
        return known.screen[param.screen]
    if param.pattern is not None and (m := param.pattern.search(known.text)):
        return (m.group(1) if m.groups() and m.group(1) else m.group()).upper() \
            if param.type == "order_number" else (m.group(1) if m.groups() and m.group(1) else m.group())
    if param.slot and known.slots.get(param.slot):
        return known.slots[param.slot].replace(" (unconfirmed)", "")
    if param.caller and answering and known.text.strip():
        return known.text.strip()[:MAX_ANSWER_CHARS]
    return None


def carries_value(catalog: ActionCatalog, known: Known) -> bool:
    """The turn holds a value some action takes (an order number, a product on a screenshot)."""
    return any(value_for(p, known) for a in catalog.actions for p in a.parameters if not p.caller)


def route(catalog: ActionCatalog, intent: str, known: Known) -> Action | None:
    """An action whose trigger phrase the turn says; else one its intent routes to, when the turn
    already carries one of that action's values (a screenshot of an order, "where is A1029?").
    A policy question of the same intent ("how do I track an order?") stays with the knowledge base."""
    for action in catalog.actions:
        if any(t.search(known.text) for t in action.triggers):
            return action
    for action in catalog.actions:
        if intent in action.intents and any(
                value_for(p, known) for p in action.parameters if p.required and not p.caller):
            return action
    return None


@dataclass
class ActionFlow:
    action: Action
    values: dict[str, str] = field(default_factory=dict)
    stage: str = "collect"  # collect | confirm | verify | call | done
    asking: str | None = None  # the parameter the last question asked for
    asks: int = 0  # times that question was asked

    def fill(self, known: Known) -> list[str]:
        """Takes values the turn offers; returns the names newly filled or changed."""
        changed = []
        for param in self.action.parameters:
            answering = param.name == self.asking
            value = value_for(param, known, answering=answering)
            if value is None or (param.caller and not answering):
                continue
            if self.values.get(param.name) != value:
                self.values[param.name] = value
                changed.append(param.name)
        if self.asking in changed:
            self.asking, self.asks = None, 0
        return changed

    def missing(self) -> Parameter | None:
        return next((p for p in self.action.parameters if p.required and p.name not in self.values), None)

    def next_stage(self, needs_step_up: bool) -> str:
        """After values changed or a question was answered: what happens now."""
        param = self.missing()
        if param is not None:
            if self.asking == param.name:
                self.asks += 1
            else:
                self.asking, self.asks = param.name, 1
            self.stage = "collect" if self.asks <= MAX_ASKS else "done"
            return "give-up" if self.stage == "done" else "ask"
        self.asking = None
        if self.action.changes and self.stage == "collect":
            self.stage = "confirm"
            return "confirm"
        if needs_step_up and self.stage in ("collect", "confirm"):
            self.stage = "verify"
            return "verify"
        self.stage = "call"
        return "call"

    def readback(self, language: str) -> str:
        sep = "，" if language == "zh" else ", "
        joiner = "：" if language == "zh" else ": "
        return sep.join(f"{p.label.get(language, p.name)}{joiner}{self.values[p.name]}"
                        for p in self.action.parameters if p.name in self.values)
