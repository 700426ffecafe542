"""Numbered SQL migrations shared by SQLite and PostgreSQL (NNNN_name.sql, applied in order once).

Applied versions are recorded in `schema_migrations`. PostgreSQL applies them in one transaction
under an advisory lock (two nodes starting together do not race); SQLite under BEGIN IMMEDIATE.
Statements are separated by a `;` at the end of a line.
"""

from __future__ import annotations

import re
import sqlite3
import time
from dataclasses import dataclass
from importlib import resources
from typing import Any

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_TABLE = ("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
          " applied_at DOUBLE PRECISION NOT NULL)")
_LOCK_ID = 0x6363_6777  # "ccgw": advisory lock key for migrations


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


def load() -> tuple[Migration, ...]:
    found = []
    for entry in resources.files(__package__).iterdir():
        match = _NAME.match(entry.name)
        if match is None:
            continue
        sql = "\n".join(line for line in entry.read_text(encoding="utf-8").splitlines()
                        if not line.lstrip().startswith("--"))
        statements = tuple(s.strip() for s in re.split(r";\s*$", sql, flags=re.M) if s.strip())
        found.append(Migration(int(match.group(1)), match.group(2), statements))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migrations must be numbered 1..n without gaps, found {versions}")
    return tuple(found)


def latest() -> int:
    return load()[-1].version


def apply_sqlite(conn: sqlite3.Connection) -> list[int]:
    """Brings an SQLite file up to date (blocking: call it on the store's own thread)."""
    conn.execute(_TABLE)
    conn.execute("BEGIN IMMEDIATE")
    try:
        done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
        applied = []
        for migration in load():
            if migration.version in done:
                continue
            for statement in migration.statements:
                conn.execute(statement)
            conn.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)",
                         (migration.version, migration.name, time.time()))
            applied.append(migration.version)
        conn.execute("COMMIT")
        return applied
    except BaseException:
        conn.execute("ROLLBACK")
        raise


async def apply_postgres(conn: Any) -> list[int]:
    """Brings a PostgreSQL database up to date (`conn`: a psycopg AsyncConnection)."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_ID,))
        await conn.execute(_TABLE)
        cur = await conn.execute("SELECT version FROM schema_migrations")
        done = {row[0] for row in await cur.fetchall()}
        applied = []
        for migration in load():
            if migration.version in done:
                continue
            for statement in migration.statements:
                await conn.execute(statement)
            await conn.execute("INSERT INTO schema_migrations VALUES (%s, %s, %s)",
                               (migration.version, migration.name, time.time()))
            applied.append(migration.version)
        return applied
