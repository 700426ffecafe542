"""`gateway ops ...`: operator commands for data protection and credentials.

  forget --caller NUMBER_OR_SESSION   delete a caller's sessions (by phone number or session id)
  retention --days N                  delete sessions that ended more than N days ago

Both also delete the matching rows of the core's records (core.records_path, or --records).
  migrate                             apply the store's SQL migrations
  store-replay                        write the records the store set aside (dead letters)
  new-key --tenant T --role R         make an API key; prints the key once and its config line
  token --tenant T --role R           issue a short-lived HS256 token (secret from the environment)

The store is the SQLite file of settings store.path (or --store), or PostgreSQL with --dsn
(default: env GATEWAY_DURABLE__DSN).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path

from gateway.cli.groups import CommandGroups
from gateway.core.records import CoreRecords
from gateway.security.redact import caller_hash
from gateway.security.settings import ROLES
from gateway.security.tokens import hash_api_key, issue_jwt, new_api_key
from gateway.store import migrations

_PHONE = re.compile(r"^\+?[0-9 ()./-]{5,32}$")


def register(groups: CommandGroups) -> None:
    ops = groups.top.add_parser("ops", help="operator commands: forget, retention, keys, tokens")
    sub = ops.add_subparsers(dest="ops", required=True, metavar="WHAT")

    def store_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--store", help="SQLite file (default: settings store.path)")
        p.add_argument("--dsn", default=os.environ.get("GATEWAY_DURABLE__DSN"),
                       help="PostgreSQL URL (default: env GATEWAY_DURABLE__DSN); overrides --store")
        p.add_argument("--records", help="the core's records (default: settings core.records_path)")

    p = sub.add_parser("forget", help="delete every stored session of a caller")
    p.add_argument("--caller", required=True, help="the caller's phone number, or a session id")
    p.add_argument("--pepper", default=os.environ.get("GATEWAY_SECURITY__CALLER_PEPPER", ""),
                   help="security.caller_pepper (default: env GATEWAY_SECURITY__CALLER_PEPPER)")
    store_args(p)
    p.set_defaults(func=run_forget)

    p = sub.add_parser("retention", help="delete sessions older than N days")
    p.add_argument("--days", type=float, help="default: settings durable.retention_days")
    store_args(p)
    p.set_defaults(func=run_retention)

    p = sub.add_parser("migrate", help="apply the store's SQL migrations")
    store_args(p)
    p.set_defaults(func=run_migrate)

    p = sub.add_parser("store-replay", help="write the store's dead letters once the cause is fixed")
    store_args(p)
    p.add_argument("--journal", help="PostgreSQL store: its journal (default: settings durable.journal_path)")
    p.set_defaults(func=run_store_replay)

    p = sub.add_parser("new-key", help="make an API key (printed once) and its security.api_keys entry")
    p.add_argument("--tenant", required=True)
    p.add_argument("--role", choices=ROLES, required=True)
    p.add_argument("--name", default="")
    p.set_defaults(func=run_new_key)

    p = sub.add_parser("token", help="issue an HS256 token (secret: env GATEWAY_SECURITY__JWT_SECRET)")
    p.add_argument("--tenant", required=True)
    p.add_argument("--role", choices=ROLES, required=True)
    p.add_argument("--subject", default="ops")
    p.add_argument("--ttl", type=int, default=3600, help="seconds")
    p.add_argument("--audience", default="cc-gateway")
    p.set_defaults(func=run_token)


# ---------------------------------------------------------------------- store commands


def _sqlite_path(args: argparse.Namespace) -> Path:
    if args.store:
        return Path(args.store)
    from gateway.config import load_settings

    return Path(load_settings(args.config).store.path)


def sqlite_delete_sessions(path: Path, *, session_id: str | None = None, caller: str | None = None,
                           older_than_days: float | None = None, now: float | None = None) -> list[str]:
    """The SQLite twin of PostgresStore.delete_sessions (`caller` is the caller hash)."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=10)
    try:
        migrations.apply_sqlite(conn)
        params: tuple[object, ...]
        if older_than_days is not None:
            cutoff = (time.time() if now is None else now) - older_than_days * 86400
            where, params = "COALESCE(ended_at, started_at) < ?", (cutoff,)
        elif session_id is not None:
            where, params = "id = ?", (session_id,)
        else:
            where, params = "caller_hash = ?", (caller,)
        conn.execute("PRAGMA secure_delete = ON")  # deleted text is zeroed, not left in free pages
        conn.execute("BEGIN IMMEDIATE")
        ids = [r[0] for r in conn.execute(f"SELECT id FROM sessions WHERE {where}", params)]
        for table, column in (("turns", "session_id"), ("errors", "session_id"), ("sessions", "id")):
            conn.executemany(f"DELETE FROM {table} WHERE {column} = ?", [(i,) for i in ids])
        conn.execute("COMMIT")
        return ids
    finally:
        conn.close()


def _delete(args: argparse.Namespace, *, session_id: str | None = None, hashed: str | None = None,
            older_than_days: float | None = None) -> list[str]:
    if args.dsn:
        from gateway.store.postgres import PostgresStore

        async def run() -> list[str]:
            store = PostgresStore(args.dsn)
            try:
                return await store.delete_sessions(session_id=session_id, caller_hash=hashed,
                                                   older_than_days=older_than_days)
            finally:
                await store.aclose()

        return asyncio.run(run())
    path = _sqlite_path(args)
    if not path.exists():
        raise SystemExit(f"no transcript store at {path}")
    return sqlite_delete_sessions(path, session_id=session_id, caller=hashed, older_than_days=older_than_days)


def _core_records(args: argparse.Namespace) -> CoreRecords | None:
    """The core's feedback and masked event log (core.records_path), when there is one; opened
    before anything is deleted, so a bad file stops the command with nothing half done."""
    if args.records:
        path = args.records
    else:
        from gateway.config import load_settings

        path = load_settings(args.config).core.records_path
    if path == ":memory:" or not Path(path).exists():
        return None
    try:
        return CoreRecords(path)
    except sqlite3.DatabaseError as exc:
        raise SystemExit(f"{path} is not the core's records file ({exc}); nothing was deleted") from None


def _tidy_core_records(records: CoreRecords | None, work: Callable[[CoreRecords], int]) -> int:
    if records is None:
        return 0
    try:
        return work(records)
    finally:
        records.close()


def run_forget(args: argparse.Namespace) -> int:
    target = args.caller.strip()
    records = _core_records(args)
    if _PHONE.match(target) and sum(c.isdigit() for c in target) >= 5:
        ids = _delete(args, hashed=caller_hash(target, args.pepper))
        what = "caller"
    else:
        ids = _delete(args, session_id=target)
        what = "session"
    # The core's records of those sessions hold masked text, but they are the caller's all the same.
    forget = ids if what == "caller" else [target]  # a session already gone from the store
    rows = _tidy_core_records(records, lambda r: r.forget(forget))
    print(f"deleted {len(ids)} session(s) of that {what} and {rows} core record(s)")  # never the number
    return 0


def run_retention(args: argparse.Namespace) -> int:
    if args.days is None:
        from gateway.config import load_settings

        durable = getattr(load_settings(args.config), "durable", None)
        args.days = float(getattr(durable, "retention_days", 0))
    if args.days <= 0:
        print("--days (or durable.retention_days) must be positive", file=sys.stderr)
        return 2
    records = _core_records(args)
    ids = _delete(args, older_than_days=args.days)
    rows = _tidy_core_records(records, lambda r: r.expire(args.days))
    print(f"deleted {len(ids)} session(s) and {rows} core record(s) older than {args.days:g} days")
    return 0


def run_migrate(args: argparse.Namespace) -> int:
    if args.dsn:
        from gateway.store.postgres import PostgresStore

        async def run() -> list[int] | None:
            store = PostgresStore(args.dsn)
            await store.write([])  # connecting applies the migrations
            await store.aclose()
            return store.migrated

        applied = asyncio.run(run())
    else:
        conn = sqlite3.connect(_sqlite_path(args), isolation_level=None)
        applied = migrations.apply_sqlite(conn)
        conn.close()
    print(f"applied migrations {applied or 'none'}; schema at {migrations.latest()}")
    return 0


def run_store_replay(args: argparse.Namespace) -> int:
    from gateway.store import replay

    if args.dsn:
        journal = args.journal
        if not journal:
            from gateway.config import load_settings

            journal = load_settings(args.config).durable.journal_path
        store = replay.replay_store_for_postgres(args.dsn, journal)
    else:
        store = replay.replay_store_for_sqlite(_sqlite_path(args))
    try:
        result = asyncio.run(replay.replay(store))
    except replay.BackendError as exc:
        print(f"gateway: {exc.code}: {exc} (the records wait in {store.journal_path})", file=sys.stderr)
        return 1
    replay.tidy(store)
    print(f"replayed {result.queued} dead letters; {result.refused} refused again (in {result.path})")
    return 0 if result.refused == 0 else 1


# ---------------------------------------------------------------------- credentials


def run_new_key(args: argparse.Namespace) -> int:
    key = new_api_key()
    name = args.name or f"{args.tenant}-{args.role}"
    print(f"key (shown once, give it to the client): {key}")
    print(f'security.api_keys entry: "{hash_api_key(key)}:{args.tenant}:{args.role}:{name}"')
    return 0


def run_token(args: argparse.Namespace) -> int:
    secret = os.environ.get("GATEWAY_SECURITY__JWT_SECRET", "")
    if len(secret.encode()) < 32:
        print("set GATEWAY_SECURITY__JWT_SECRET (at least 32 bytes)", file=sys.stderr)
        return 2
    print(issue_jwt(secret, tenant=args.tenant, role=args.role, subject=args.subject,
                    audience=args.audience, now=time.time(), ttl_s=args.ttl))
    return 0
