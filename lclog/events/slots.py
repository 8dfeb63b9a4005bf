"""Where the `ecs` and `otel` layouts put lclog's envelope fields, both ways, declared once.

Each slot names a place in a laid-out event (a path of keys), how a field's value is written
there and how it is read back; `pipeline/layouts.py` lays events out with these slots and reads
any layout back (`normalize`) with the same ones. The GenAI content (`gen_ai.*`) is paired the
same way in `pipeline/genai.py` (to_messages / from_messages); lclog's other fields go under
`lclog.*` as `fields.py` declares.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["ECS", "ECS_VERSION", "OTEL", "Slot", "lay_out", "read_back", "span_id", "trace_hex"]

# ECS version the `ecs` layout follows (ecs-logging spec: `ecs.version` is required): the first
# to define the gen_ai fields it writes (gen_ai.provider.name, gen_ai.input/output.messages ...).
ECS_VERSION = "9.5.0-dev"
_SEVERITY = {"debug": 5, "info": 9, "warning": 13, "error": 17}
_ECS_OUTCOME = {"ok": "success", "error": "failure"}


def trace_hex(value: str | None) -> str | None:
    """A run or trace UUID as 32 lowercase hex digits (W3C trace id width)."""
    return value.replace("-", "") if value else None


def span_id(run_id: str | None) -> str | None:
    """A run's span id: the random last 16 hex digits of its UUID (W3C span id width)."""
    return run_id.replace("-", "")[-16:] if run_id else None


def _same(value: Any) -> Any:
    return value


def _field(name: str) -> Callable[[dict[str, Any]], Any]:
    return lambda event: event.get(name)


def _ecs_time(event: dict[str, Any]) -> str:
    timestamp = str(event.get("timestamp") or "")
    return timestamp[:23] + "Z" if len(timestamp) >= 23 else timestamp  # milliseconds, UTC


def _message(event: dict[str, Any]) -> str:
    return f"{event.get('event', '')} {event.get('name') or ''}".strip()


def _trace(event: dict[str, Any]) -> str | None:
    return (event.get("otel") or {}).get("trace_id") or trace_hex(event.get("trace_id"))


def _span(event: dict[str, Any]) -> str | None:
    return (event.get("otel") or {}).get("span_id") or span_id(event.get("run_id"))


def _nanoseconds(event: dict[str, Any]) -> int | None:
    duration = event.get("duration_ms")
    # rounded: 4.063 ms is 4,062,999.99… ns in binary floating point, and 4,063,000 ns
    return None if duration is None else round(duration * 1_000_000)


def _ecs_error(error: Any) -> dict[str, Any] | None:
    if not isinstance(error, dict):
        return None
    return {k: v for k, v in error.items() if k in ("type", "message", "stack_trace")}


def _milliseconds(value: Any) -> float | None:
    return value / 1e6 if isinstance(value, (int, float)) else None


@dataclass(frozen=True, slots=True)
class Slot:
    """A place in a laid-out event: what is written there (from the default-layout event), and
    which field of lclog's it reads back as (None: written only, lclog.* keeps the field)."""

    path: tuple[str, ...]
    write: Callable[[dict[str, Any]], Any]
    field: str | None = None
    read: Callable[[Any], Any] = _same
    always: bool = False  # written even when None (ECS wants these keys on every event)


def _slot(field: str, *path: str, always: bool = False) -> Slot:
    """A field written as it is, and read back as it is."""
    return Slot(path, _field(field), field, always=always)


# In the order the `ecs` layout writes them: ecs-logging puts @timestamp, log.level and message
# first. `event.outcome` and the span ids are written only: lclog.outcome and lclog.run_id keep them.
ECS: tuple[Slot, ...] = (
    Slot(("@timestamp",), _ecs_time, "timestamp", always=True),
    Slot(("log.level",), lambda e: e.get("level", "info"), "level", always=True),
    Slot(("message",), _message, always=True),
    Slot(("ecs.version",), lambda e: ECS_VERSION, always=True),
    _slot("service", "service", "name", always=True),
    _slot("event", "event", "action", always=True),
    Slot(("event", "kind"), lambda e: "event", always=True),
    Slot(("event", "dataset"), lambda e: "lclog.langchain", always=True),
    Slot(("event", "duration"), _nanoseconds, "duration_ms", _milliseconds),
    Slot(
        ("event", "outcome"),
        lambda e: _ECS_OUTCOME.get(e["outcome"], "unknown") if e.get("outcome") else None,
    ),
    Slot(("trace", "id"), _trace, "trace_id", always=True),
    Slot(("span", "id"), _span, always=True),
    Slot(("parent", "id"), lambda e: span_id(e.get("parent_run_id"))),
    Slot(("error",), lambda e: _ecs_error(e.get("error")), "error"),
)

# The `otel` layout's record, before its attributes.
OTEL: tuple[Slot, ...] = (
    _slot("timestamp", "timestamp", always=True),
    _slot("event", "event_name", always=True),  # the record's EventName (`event.name` is deprecated)
    Slot(
        ("severity_text",),
        lambda e: e.get("level", "info").upper(),
        "level",
        lambda v: str(v or "info").lower(),
    ),
    Slot(("severity_number",), lambda e: _SEVERITY.get(e.get("level", "info"), 9), always=True),
    Slot(("body",), _message, always=True),
    Slot(("trace_id",), _trace, "trace_id", always=True),
    Slot(("span_id",), _span, always=True),
    Slot(
        ("resource",),
        lambda e: {"service.name": e.get("service")},
        "service",
        lambda r: (r or {}).get("service.name"),
        always=True,
    ),
)


def lay_out(slots: tuple[Slot, ...], event: dict[str, Any]) -> dict[str, Any]:
    """The places of `slots`, filled from a default-layout event, in their order."""
    out: dict[str, Any] = {}
    for slot in slots:
        value = slot.write(event)
        if value is None and not slot.always:
            continue
        node = out
        *parents, leaf = slot.path
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    return out


def read_back(slots: tuple[Slot, ...], laid_out: dict[str, Any], out: dict[str, Any]) -> None:
    """Sets in `out` the fields of lclog's that `slots` read back from a laid-out event."""
    for slot in slots:
        if slot.field is None:
            continue
        node: Any = laid_out
        for key in slot.path:
            node = node.get(key) if isinstance(node, dict) else None
        out[slot.field] = slot.read(node)
