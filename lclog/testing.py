"""Capture lclog events in tests: `with capture() as events: chain.invoke(...)`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from lclog.capture.handler import LoggingCallbackHandler
from lclog.outputs.base import MemoryOutput

__all__ = ["CapturedEvents", "capture"]


class CapturedEvents(list[dict[str, Any]]):
    """The events the handler wrote (dicts, after redaction and processors), plus the handler.

    Complete when the `capture()` block ends; inside it, `refresh()` and `named()` first deliver
    what is queued. `lines` holds the same events as the JSON lines the outputs got.
    """

    handler: LoggingCallbackHandler
    lines: list[bytes]

    def __init__(self, handler: LoggingCallbackHandler, memory: MemoryOutput) -> None:
        super().__init__()
        self.handler = handler
        self.lines = []
        self._memory = memory

    def refresh(self) -> CapturedEvents:
        """Delivers what is queued and returns the list, now holding every event so far."""
        self.handler.flush()
        self[:] = self._memory.events
        self.lines = list(self._memory.lines)
        return self

    def named(self, event: str) -> list[dict[str, Any]]:
        """The events whose `event` field equals event (e.g. "tool.error")."""
        return [e for e in self.refresh() if e.get("event") == event]


@contextmanager
def capture(config: Any = None, **overrides: Any) -> Iterator[CapturedEvents]:
    """Yields a list that holds every event once the block ends; the handler is `.handler`.

    `config` and keyword overrides are those of `LoggingCallbackHandler` (outputs excepted)."""
    memory = MemoryOutput()
    handler = LoggingCallbackHandler(config, outputs=[memory], **overrides)
    events = CapturedEvents(handler, memory)
    try:
        yield events
    finally:
        handler.close()
        events[:] = memory.events
        events.lines = list(memory.lines)
