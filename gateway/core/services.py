"""What every conversation of one core shares: settings, the knowledge index, engines, stores."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.core.kb.index import KnowledgeIndex
from gateway.core.settings import CoreSettings


@dataclass
class CoreServices:
    settings: CoreSettings
    index: KnowledgeIndex
