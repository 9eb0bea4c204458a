"""Structured logs: one JSON object per line, with an event name and plain fields."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

_events = logging.getLogger("verbatim.events")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        data.update(getattr(record, "fields", {}))
        if record.exc_info:
            data["traceback"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str, ensure_ascii=False)


def setup_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("discord.http").setLevel(logging.WARNING)


def log_event(event: str, **fields: Any) -> None:
    """Log ``event`` with ``fields``; fields that are None are left out."""
    _events.info(event, extra={"fields": {k: v for k, v in fields.items() if v is not None}})
