"""What every conversation of one core shares: settings, the knowledge index, engines, stores."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gateway.core.agents import AgentQueue
from gateway.core.kb.index import KnowledgeIndex
from gateway.core.nlu.understand import PhraseUnderstanding, Understanding
from gateway.core.phrasing import LlmPhraser
from gateway.core.policies.frustration import SentimentScorer
from gateway.core.policies.verify import OtpVerifier, OutboxSender, Verifier
from gateway.core.records import CoreRecords
from gateway.core.settings import CoreSettings

if TYPE_CHECKING:
    from gateway.core.actions.desk import ActionService


@dataclass
class CoreServices:
    settings: CoreSettings
    index: KnowledgeIndex
    records: CoreRecords = field(default_factory=lambda: CoreRecords(":memory:"))
    agents: AgentQueue = field(default_factory=AgentQueue)
    sentiment: SentimentScorer = field(default_factory=SentimentScorer)
    outbox: OutboxSender = field(default_factory=OutboxSender)
    verifier: Verifier | None = None  # None: one-time codes through `outbox`
    phraser: LlmPhraser | None = None  # None: the grounded responder phrases every answer
    actions: ActionService | None = None  # declared backend actions (core.actions_path); None: none
    # What a turn means (intent, out of scope, emergency by meaning): swap the classifier here.
    understanding: Understanding = field(default_factory=PhraseUnderstanding)

    def __post_init__(self) -> None:
        if self.verifier is None:
            self.verifier = OtpVerifier(self.outbox)
