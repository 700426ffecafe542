"""`gateway ops store-replay`: writes the dead letters (records the store refused, each kept with
its error) once the cause is fixed. Safe while the gateway runs: it uses its own journal, takes
the dead-letter file by renaming it, and records refused again go back to that file."""

from __future__ import annotations

import asyncio
import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from gateway.errors import BackendError
from gateway.store.buffered import BufferedStore, dead_letter_path_for


@dataclass(frozen=True)
class ReplayResult:
    queued: int  # dead letters taken from the file
    refused: int  # of those, refused again (back in the file)
    path: Path


async def replay(store: BufferedStore, *, timeout_s: float = 60.0) -> ReplayResult:
    """Runs the replay through `store` (not started; it is started and closed here)."""
    await store.start()
    try:
        queued = await store.replay_dead_letters()
        await store.flush(timeout_s)  # BackendError: the backend is still away; nothing is lost
        refused = await asyncio.to_thread(store.dead.count)  # (and any a running gateway added since)
    finally:
        await store.aclose()
    return ReplayResult(queued, refused, store.dead.path)


def replay_store_for_sqlite(path: str | Path) -> BufferedStore:
    """A second store on the gateway's SQLite file, with its own journal and the gateway's dead letters."""
    from gateway.store.transcripts import TranscriptStore, journal_path_for

    own = Path(path).with_name(f"{Path(path).name}.replay-{os.getpid()}.jsonl")
    dead = dead_letter_path_for(journal_path_for(path))
    return TranscriptStore(path, journal_path=own, dead_letter_path=dead)


def replay_store_for_postgres(dsn: str, journal_path: str | Path) -> BufferedStore:
    from gateway.store.postgres import PostgresStore

    journal = Path(journal_path)
    own = journal.with_name(f"{journal.name}.replay-{os.getpid()}.jsonl")
    return BufferedStore(PostgresStore(dsn), own, dead_letter_path=dead_letter_path_for(journal))


def tidy(store: BufferedStore) -> None:
    """Removes the replay's own journal once it has been written out (kept when it was not)."""
    journal = store.journal_path
    if journal.exists() and journal.stat().st_size == 0:
        for leftover in (journal, journal.with_name(journal.name + ".offset")):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()


__all__ = ["BackendError", "ReplayResult", "replay", "replay_store_for_postgres", "replay_store_for_sqlite",
           "tidy"]
