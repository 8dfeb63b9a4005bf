"""The structlog bridge: lclog's events handed to the application's own structlog logger."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import structlog

from lclog.outputs.base import Item, Output

__all__ = ["StructlogOutput"]

_LEVELS = ("debug", "info", "warning", "error")


class StructlogOutput(Output):
    """Sends each event, redacted, to `structlog.get_logger(logger)` at the event's level: the
    application's processors and renderer handle it like its own lines, in lclog's writer thread
    (never the caller's). The event name is the log call's `event`; its other fields are the
    call's keyword arguments, and the app's structlog context variables at the request's start
    (a request id ...) are merged in, as `merge_contextvars` merges them into the app's lines."""

    needs_events = True
    needs_context = True

    def __init__(self, logger: str | None = None) -> None:
        self.name = f"structlog:{logger or ''}"
        self.logger = structlog.get_logger(logger) if logger else structlog.get_logger()

    def write(self, items: Sequence[Item]) -> None:
        log = self.logger
        for event, _ in items:
            fields: dict[str, Any] = dict(event)
            name = fields.pop("event", None) or fields.pop("message", None) or "lclog"
            level = str(fields.pop("level", None) or fields.pop("log.level", None) or "info")
            context = fields.pop("context", None)
            if type(context) is dict:
                for key, value in context.items():
                    fields.setdefault(key, value)
            getattr(log, level if level in _LEVELS else "info")(name, **fields)
