"""Backend actions declared in YAML beside the knowledge base (docs/actions.md)."""

from __future__ import annotations

from gateway.core.actions.client import ActionClient, CallResult, CircuitBreaker
from gateway.core.actions.declarations import Action, ActionCatalog, load_catalog
from gateway.core.actions.desk import ActionDesk, ActionService, ActionStep, ActionTurn, with_final

__all__ = ["Action", "ActionCatalog", "ActionClient", "ActionDesk", "ActionService", "ActionStep",
           "ActionTurn", "CallResult", "CircuitBreaker", "load_catalog", "with_final"]
