"""One line per request: each trace's runs, tokens, cost, errors and slowest model call, totalled
as its runs end, for the `trace.end` event written when its root ends.

Runs that end after their root (background tasks, a run reported orphaned that ends late) are in
their own events and in `handler.metrics`, not in a `trace.end` already written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lclog.events.runs import Run

__all__ = ["TraceTotals", "Traces", "is_trace_root"]


def is_trace_root(run: Run) -> bool:
    """The run is the root of its whole trace (not only of what this handler saw of it)."""
    return run.parent is None and run.parent_run_id is None and run.start_ns != 0


@dataclass(slots=True)
class TraceTotals:
    runs: dict[str, int] = field(default_factory=dict)
    usage: dict[str, int] = field(default_factory=dict)
    cost: float = 0.0
    priced: int = 0
    unpriced: int = 0
    errors: int = 0
    first_error: dict[str, Any] | None = None
    slowest: dict[str, Any] | None = None
    metadata: Any = None
    outcome: str | None = None  # the root's
    duration_ms: float | None = None

    def fields(self, label: Callable[[Any], Any]) -> dict[str, Any]:
        """What `trace.end` says of the trace; `label` redacts the names and error types in it
        (run ids and numbers are lclog's own)."""
        duration = round(self.duration_ms, 3) if self.duration_ms is not None else None
        out: dict[str, Any] = {"outcome": self.outcome, "duration_ms": duration, "runs": dict(self.runs)}
        out["usage"] = dict(self.usage) or None
        out["cost"] = (
            {"total": round(self.cost, 10), "currency": "USD", "unpriced_calls": self.unpriced}
            if self.priced
            else None
        )
        errors: dict[str, Any] = {"count": self.errors}
        if self.first_error is not None:
            errors["first_type"] = label(self.first_error["first_type"])
            errors["first_run_id"] = self.first_error["first_run_id"]
        out["errors"] = errors
        slowest = self.slowest
        if slowest is not None:
            out["slowest_llm"] = {**slowest, "name": label(slowest["name"]), "model": label(slowest["model"])}
        if self.metadata:
            out["metadata"] = self.metadata
        return out


class Traces:
    """Totals of the traces whose root has not ended yet, kept on the root run itself: they live
    as long as the run table (bounded by `max_open_runs`) or one of the trace's runs holds it."""

    def opened(self, root: Run, metadata: Any) -> None:
        root.totals = TraceTotals(metadata=metadata)

    def ended(
        self,
        run: Run,
        duration_ms: float,
        *,
        usage: dict[str, Any] | None = None,
        cost: dict[str, Any] | None = None,
        error: dict[str, Any] | None = None,
        outcome: str | None = None,
        model: Any = None,
    ) -> None:
        """Adds a run that ended (or failed) to its trace's totals."""
        totals = run.root.totals
        if totals is None:  # a trace seen only in part, or its root ended already
            return
        if run.root is run:
            totals.outcome, totals.duration_ms = outcome, duration_ms
        kind = run.run_type
        totals.runs[kind] = totals.runs.get(kind, 0) + 1
        if kind in ("llm", "chat_model") and not run.model_below:  # a wrapper's calls are counted themselves
            for key, value in (usage or {}).items():
                if isinstance(value, int):
                    totals.usage[key] = totals.usage.get(key, 0) + value
            if cost is not None:
                totals.priced += 1
                totals.cost += cost["total"]
            else:
                totals.unpriced += 1
            if totals.slowest is None or duration_ms > totals.slowest["duration_ms"]:
                totals.slowest = {
                    "run_id": run.id,
                    "name": run.name,
                    "model": run.model,
                    "duration_ms": duration_ms,
                }
        if error is not None:
            totals.errors += 1
            if totals.first_error is None:
                totals.first_error = {"first_type": error.get("type"), "first_run_id": run.id}

    def close(self, root: Run) -> TraceTotals | None:
        """The totals of a trace whose root ended, forgotten here."""
        totals, root.totals = root.totals, None
        return totals
