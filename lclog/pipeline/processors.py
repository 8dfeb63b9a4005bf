"""The structlog processor chain every event runs through: redaction, user processors, render."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import orjson
import structlog

from lclog._imports import import_callable
from lclog.counters import Counters
from lclog.events import fields
from lclog.redact.redactor import Redactor

__all__ = ["Pipeline", "Processor", "Rendered", "import_processor"]

Processor = Callable[[Any, str, dict[str, Any]], Any]

# Kept when the redactor itself fails: ids and names, never content.
_MINIMAL_KEYS = fields.MINIMAL


class _Clock:
    """`timestamp`: ISO 8601 UTC with microseconds, always (TimeStamper(fmt="iso") drops a zero
    fraction); the date and time up to the second are formatted once per second."""

    def __init__(self) -> None:
        self._cached = (-1, "")  # (second, its prefix): one attribute, so threads see a pair

    def __call__(self, logger: Any, method_name: str, event: dict[str, Any]) -> dict[str, Any]:
        now = event.get("timestamp")
        if type(now) is not float:  # the handler stamps events with time.time() when it builds them
            now = time.time()
        event["timestamp"] = self.text(now)
        return event

    def text(self, now: float) -> str:
        """`now` (time.time()) as the timestamp's text."""
        second = int(now)
        cached_second, prefix = self._cached
        if second != cached_second:
            prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._cached = (second, prefix)
        # %-format: half the cost of an f-string with a format spec; %d truncates, as int() does
        return prefix + ".%06dZ" % ((now - second) * 1e6)  # noqa: UP031


_OPTIONS = orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS


def _fallback(obj: Any) -> str:
    """orjson `default`: anything a user processor adds that JSON cannot hold becomes its type."""
    return f"<{type(obj).__qualname__}>"


def import_processor(path: str, field: str = "processors") -> Processor:
    """Resolves a processor's 'package.module:callable'; raises ConfigError naming the field."""
    return import_callable(path, field)


# A processed event: (the event as laid out, its JSON line, the event before the layout when
# one was applied, else None).
Rendered = tuple[dict[str, Any], bytes, "dict[str, Any] | None"]


class Pipeline:
    """Runs an event through timestamp -> redaction -> user processors, then renders JSON.

    Redaction happens once, in one of two places: as the event is built, when the redactor fuses
    with serialization (`Redactor.fuses`: no per-field rules), or else here, over every field
    that is not lclog's own (`fields.TRUSTED`). `tests/redact/test_redact_once.py` holds both to it.
    """

    def __init__(
        self,
        redactor: Redactor,
        processors: Sequence[Processor],
        stats: Counters,
        *,
        schema: Processor | None = None,
    ) -> None:
        self.redactor = redactor
        self._schema = schema  # the field layout, applied last so your processors see lclog's fields
        self.redacts = not redactor.fuses  # events arrive redacted as they were built otherwise
        self.processors = list(processors)
        self._stats = stats
        self._clock = _Clock()
        self._timestamp = self._clock.text
        # Redacted as it was built, and nothing else to run: a timestamp and orjson (see plain).
        self.is_plain = not self.redacts and not self.processors and schema is None

    def plain(self, event: dict[str, Any]) -> Rendered:
        """`process` when `is_plain`, for an event stamped with time.time() as every builder's
        is: the event's timestamp as text, and its JSON line."""
        event["timestamp"] = self._timestamp(event["timestamp"])
        try:
            return event, orjson.dumps(event, default=_fallback, option=orjson.OPT_APPEND_NEWLINE), None
        except orjson.JSONEncodeError:  # text that is not valid UTF-8: repaired
            return event, self.render(event), None

    def process(
        self, event: dict[str, Any], redacted: Callable[[dict[str, Any]], Any] | None = None
    ) -> Rendered | None:
        """Returns the processed event (laid out), its JSON line and, when a layout was applied,
        the event before it (lclog's fields); None when a processor dropped it.

        `redacted` is called with the event once it is redacted, before your processors (the
        conversation's history is referenced there, see events/history.py)."""
        if self.is_plain:
            if redacted is not None:
                redacted(event)
            if type(event.get("timestamp")) is not float:  # an event lclog's builder did not stamp
                event["timestamp"] = time.time()
            return self.plain(event)
        method = event.get("level", "info")
        event = self._clock(None, method, event)
        if self.redacts:
            try:
                event = self.redactor.redact_event(event)
            except Exception as exc:
                self._stats.add("redaction_errors")
                self._stats.report("redaction failed", type(exc).__name__)
                event = {k: event[k] for k in _MINIMAL_KEYS if k in event}
                event["lclog_error"] = "redaction failed; content withheld"
        if redacted is not None:
            redacted(event)
        for processor in self.processors:
            try:
                result = processor(None, method, event)
            except structlog.DropEvent:
                self._stats.add("filtered")
                return None
            except Exception as exc:
                self._stats.add("processor_errors")
                name = getattr(processor, "__qualname__", type(processor).__qualname__)
                self._stats.report("processor failed", f"{name}: {type(exc).__name__}")
                event["lclog_processor_error"] = name
                continue
            if isinstance(result, dict):
                event = result
        if self._schema is None:
            return event, self.render(event), None
        laid_out = self._schema(None, method, event)
        return laid_out, self.render(laid_out), event

    @staticmethod
    def render(event: dict[str, Any]) -> bytes:
        """Returns event as one JSON line; keys that are not strings are written as strings,
        strings that are not valid UTF-8 are repaired."""
        try:
            return orjson.dumps(event, default=_fallback, option=orjson.OPT_APPEND_NEWLINE)
        except orjson.JSONEncodeError:
            pass
        try:  # keys a processor added that are not strings: orjson's slower mode converts them
            return orjson.dumps(event, default=_fallback, option=_OPTIONS)
        except orjson.JSONEncodeError:
            return orjson.dumps(_repair(event), default=_fallback, option=_OPTIONS)


def _repair(value: Any) -> Any:
    """Replaces lone surrogates (invalid in JSON) with U+FFFD, at any depth."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    if isinstance(value, dict):
        return {_repair(k) if isinstance(k, str) else k: _repair(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_repair(v) for v in value]
    return value
