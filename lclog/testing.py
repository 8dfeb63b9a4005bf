"""Capture lclog events in tests: `with capture() as events: chain.invoke(...)`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from lclog.capture.handler import LoggingCallbackHandler
from lclog.outputs import MemoryOutput

__all__ = ["CapturedEvents", "capture"]


class CapturedEvents(list[dict[str, Any]]):
    """The processed events (dicts, after redaction and processors), plus the handler."""

    handler: LoggingCallbackHandler

    def named(self, event: str) -> list[dict[str, Any]]:
        """Returns the events whose `event` field equals event (e.g. "tool.error")."""
        return [e for e in self if e.get("event") == event]


@contextmanager
def capture(config: Any = None, **overrides: Any) -> Iterator[CapturedEvents]:
    """Yields a list that holds every event once the block ends; the handler is `.handler`."""
    memory = MemoryOutput()
    handler = LoggingCallbackHandler(config, outputs=[memory], **overrides)
    events = CapturedEvents()
    events.handler = handler
    try:
        yield events
    finally:
        handler.close()
        events.extend(memory.events)
