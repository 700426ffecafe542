"""The store's files: the append-only journal in front of the backend, and the dead-letter file
of records the backend refused (each with the error), kept for `gateway ops store-replay`.
Blocking; used from threads."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import time
from dataclasses import asdict
from pathlib import Path

from gateway.errors import BackendError
from gateway.store.records import (
    _KIND_OF,
    MAX_LINE_BYTES,
    Record,
    decode_record,
    record_from_dict,
)

log = logging.getLogger("gateway.store")


class Journal:
    """`<path>.offset` holds how far the backend has confirmed, so a restart replays only the rest."""

    def __init__(self, path: str | Path, *, fsync: bool = False) -> None:
        self.path = Path(path)
        self.offset_path = self.path.with_name(self.path.name + ".offset")
        self.fsync = fsync
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "ab")  # noqa: SIM115 - held open for the journal's lifetime
        try:  # one writer per journal: two processes would each commit offsets over the other's records
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._file.close()
            raise BackendError(f"the store journal {self.path} is in use by another process (two gateways "
                               "on one store file?)", code="store-journal-in-use") from None
        self._end = self._file.tell()

    def append(self, line: bytes) -> int:
        with self._lock:
            self._file.write(line)
            self._file.flush()  # in the OS: survives the process dying
            if self.fsync:
                os.fsync(self._file.fileno())  # on the disk: survives the machine dying
            self._end += len(line)
            return self._end

    def committed(self) -> int:
        try:
            return int(self.offset_path.read_text().strip() or 0)
        except (FileNotFoundError, ValueError):
            return 0

    def commit(self, offset: int) -> None:
        tmp = self.offset_path.with_name(self.offset_path.name + ".tmp")
        tmp.write_text(str(offset))
        os.replace(tmp, self.offset_path)

    def read_from(self, offset: int, limit: int) -> list[tuple[Record, int]]:
        """Up to `limit` whole records after `offset`, each with the offset where it ends. A torn
        last line (a crash mid-write) ends the read; a corrupt line in the middle is skipped."""
        out: list[tuple[Record, int]] = []
        with self._lock, open(self.path, "rb") as f:
            f.seek(offset)
            while len(out) < limit and f.tell() < self._end:
                line = f.readline(MAX_LINE_BYTES + 1)
                try:
                    out.append((decode_record(line), f.tell()))
                except ValueError:
                    if not line.endswith(b"\n"):
                        break
                    log.error("journal %s: skipped a corrupt line at byte %d", self.path, f.tell())
        return out

    def end(self) -> int:
        with self._lock:
            return self._end

    def reset_if(self, offset: int) -> bool:
        """Empties the journal when everything in it (up to `offset`) has been written."""
        with self._lock:
            if offset != self._end:
                return False
            self._file.truncate(0)
            self._file.seek(0)
            self._end = 0
            self.commit(0)
            return True

    def close(self) -> None:
        with self._lock:
            self._file.close()


class DeadLetters:
    """One JSON line per refused record: {"error", "at", "record"}. Opened per append (rare), so
    `take()` can move the file aside while a gateway keeps appending to a fresh one."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._seen: tuple[int, int] | None = None  # (size, mtime_ns) when last counted
        self._count = 0

    def append(self, record: Record, error: str) -> None:
        line = json.dumps({"error": error[:500], "at": time.time(),
                           "record": {"k": _KIND_OF[type(record)], **asdict(record)}},
                          ensure_ascii=False, separators=(",", ":")).encode("utf-8", "replace") + b"\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "ab") as f:
                f.write(line)
                f.flush()
                os.fsync(f.fileno())  # a dead letter is the only copy of that record
            self._count += 1

    def count(self) -> int:
        """Lines in the file; recounted only when the file changed (a replay emptied it, say)."""
        with self._lock:
            try:
                st = self.path.stat()
            except FileNotFoundError:
                self._seen, self._count = None, 0
                return 0
            if self._seen != (st.st_size, st.st_mtime_ns):
                with open(self.path, "rb") as f:
                    self._count = sum(1 for _ in f)
                self._seen = (st.st_size, st.st_mtime_ns)
            return self._count

    def take(self) -> tuple[list[tuple[Record, str]], Path | None]:
        """Moves the file aside and returns its records (in order) with their errors, and the
        file set aside (delete it once they are written or dead-lettered again; a crash before
        that leaves it for a person). Unreadable lines go to `<path>.unreadable`."""
        aside = self.path.with_name(f"{self.path.name}.replaying-{os.getpid()}")
        with self._lock:
            try:
                os.replace(self.path, aside)
            except FileNotFoundError:
                return [], None
        out: list[tuple[Record, str]] = []
        with open(aside, "rb") as f:
            for line in f:
                try:
                    entry = json.loads(line.decode("utf-8", "replace"))
                    out.append((record_from_dict(entry["record"]), str(entry.get("error", ""))))
                except (ValueError, KeyError, TypeError, RecursionError):
                    with open(self.path.with_name(self.path.name + ".unreadable"), "ab") as bad:
                        bad.write(line if line.endswith(b"\n") else line + b"\n")
        return out, aside
