"""One conversation on one channel: a pure state machine (machine.py) driven by a thin asyncio
runner (runner.py) that executes its commands through narrow workers (speech, reply, visual).
docs/architecture.md traces one turn through it."""

from gateway.session.runner import Session, SessionDeps

__all__ = ["Session", "SessionDeps"]
