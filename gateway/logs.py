"""Structured logs: one line per session event, with the session id and no caller content.

`log_event(logger, "session.started", session_id=..., channel=...)` writes the message
"session.started session_id=... channel=..." and attaches the fields to the record, so the text
format stays readable and the JSON format (`server.log_format = "json"`, one object per line for
Loki, Elasticsearch or CloudWatch) carries them as keys. Fields are identifiers, codes, counts and
timings only: callers' words, numbers and images never reach a log line.
"""

from __future__ import annotations

import json
import logging
import time

Field = str | int | float | bool | None
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def log_event(logger: logging.Logger, event: str, **fields: Field) -> None:
    """An INFO line for one session event (problems worth a warning are logged as such elsewhere)."""
    if logger.isEnabledFor(logging.INFO):
        pairs = " ".join(f"{k}={v}" for k, v in fields.items() if v is not None)
        logger.info("%s %s", event, pairs, extra={"event": event, "fields": fields})


class JsonFormatter(logging.Formatter):
    """{"at", "level", "logger", "message", "event"?, ...fields, "exception"?} per line."""

    def format(self, record: logging.LogRecord) -> str:
        at = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"
        entry: dict[str, object] = {"at": at, "level": record.levelname.lower(), "logger": record.name,
                                    "message": record.getMessage()}
        event = getattr(record, "event", None)
        if event is not None:
            entry["event"] = event
            for key, value in dict(getattr(record, "fields", {})).items():
                entry.setdefault(key, value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:  # already formatted (and redacted) by the RedactingFilter
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(level: str, log_format: str) -> None:
    """The process's root logging: `log_format` "text" (human) or "json" (one object per line)."""
    logging.basicConfig(level=level.upper(), format=TEXT_FORMAT)
    if log_format == "json":
        for handler in logging.getLogger().handlers:
            handler.setFormatter(JsonFormatter())
