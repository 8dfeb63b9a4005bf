"""What a hook hands the event step: one small record per kind, lclog's own data only.

A hook fills one of these in the caller's thread (the run, clocks, content serialized while it
cannot change); `EventBuilder.build` turns it into the event dict later, in the writer or in a
producer helping it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from lclog.events.runs import Run

__all__ = ["Capture", "End", "Failure", "ModelEnd", "Point", "Start", "TraceEnd"]


class Start(NamedTuple):
    """A run's start; `metadata` as `EventBuilder.metadata_of` returned it (None: none)."""

    run: Run
    level: str | None  # None: not written, only counted
    wall: float
    tags: Any
    metadata: Any
    extra: dict[str, Any] | None
    inputs: Any


class End(NamedTuple):
    """A run's end (not a model's)."""

    run: Run
    level: str | None
    wall: float
    end_ns: int
    outputs: Any
    extra: dict[str, Any] | None


class ModelEnd(NamedTuple):
    """An LLM or chat model run's end; `reported` as `reported_by` read it from the response."""

    run: Run
    level: str | None
    wall: float
    end_ns: int
    outputs: Any
    reported: tuple[Any, ...]


class Failure(NamedTuple):
    """A run's error; `failure` as `EventBuilder.failure_of` kept it of the exception."""

    run: Run
    wall: float
    end_ns: int
    failure: tuple[str | None, dict[str, Any] | None]
    extra: dict[str, Any] | None


class Point(NamedTuple):
    """An event inside a run: agent action, retry, custom event, token, orphaned run ..."""

    run: Run
    level: str
    name: str
    wall: float
    fields: dict[str, Any]


class TraceEnd(NamedTuple):
    """A trace's root ended: its `trace.end` follows the root's own end."""

    run: Run
    wall: float


Capture = Start | End | ModelEnd | Failure | Point | TraceEnd
