"""Aggregates of what run events say: counts, durations, tokens and cost per run type and name."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from lclog._threads import fork_safe

__all__ = ["Metrics", "RunStats"]


@dataclass
class RunStats:
    """Totals for one (run type, name) pair."""

    starts: int = 0
    completions: int = 0
    errors: int = 0
    total_duration_ms: float = 0.0
    max_duration_ms: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    with_usage: int = 0  # ends that reported usage: without any, the token counts are unknown
    cost_usd: float = 0.0  # what the priced calls cost
    priced: int = 0  # calls with a cost: without any, the cost is unknown

    @property
    def mean_duration_ms(self) -> float:
        ended = self.completions + self.errors
        return self.total_duration_ms / ended if ended else 0.0


class Metrics:
    """Thread-safe running totals, readable at any time.

    `sync`, when given, is called before each read so that the totals include every run that
    has started or ended so far (the handler builds its queued events).
    """

    def __init__(self, sync: Callable[[], None] | None = None) -> None:
        self._lock = fork_safe(threading.RLock())  # a flush from a SIGTERM handler may build here
        self._by_key: dict[tuple[str, str], RunStats] = {}
        self._sync = sync

    def _stats(self, key: tuple[str, str]) -> RunStats:
        stats = self._by_key.get(key)
        if stats is None:
            stats = self._by_key[key] = RunStats()
        return stats

    def started(self, run_type: str, name: str) -> None:
        key = (run_type, name)
        with self._lock:
            stats = self._by_key.get(key) or self._stats(key)
            stats.starts += 1

    def ended(
        self,
        run_type: str,
        name: str,
        duration_ms: float,
        *,
        error: bool = False,
        usage: dict[str, Any] | None = None,
        cost: dict[str, Any] | None = None,
        started_as: str | None = None,
    ) -> None:
        """A run's end; `started_as`: the name its start was counted under, when the end names it
        otherwise (a model run, by the model that answered: as its end event does)."""
        key = (run_type, name)
        with self._lock:
            stats = self._by_key.get(key) or self._stats(key)
            if started_as is not None and started_as != name:
                stats.starts += 1
                before = self._by_key.get((run_type, started_as))
                if before is not None:
                    before.starts -= 1
                    if before == RunStats():  # nothing else counted there
                        del self._by_key[(run_type, started_as)]
            if error:
                stats.errors += 1
            else:
                stats.completions += 1
            stats.total_duration_ms += duration_ms
            if duration_ms > stats.max_duration_ms:
                stats.max_duration_ms = duration_ms
            if usage:
                stats.with_usage += 1
                stats.input_tokens += usage.get("input_tokens") or 0
                stats.output_tokens += usage.get("output_tokens") or 0
            if cost:
                stats.priced += 1
                stats.cost_usd += cost["total"]

    def snapshot(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Returns {run_type: {name: totals}} as plain dicts (a copy)."""
        if self._sync is not None:
            self._sync()
        with self._lock:
            items = [
                (k, asdict(v) | {"mean_duration_ms": v.mean_duration_ms}) for k, v in self._by_key.items()
            ]
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for (run_type, name), totals in sorted(items):
            out.setdefault(run_type, {})[name] = totals
        return out

    def summary(self) -> str:
        """Returns the totals as an aligned text table."""
        header = (
            "type",
            "name",
            "starts",
            "ok",
            "errors",
            "mean ms",
            "max ms",
            "in tok",
            "out tok",
            "cost $",
        )
        rows = [header]
        for run_type, names in self.snapshot().items():
            for name, t in names.items():
                rows.append(
                    (
                        run_type,
                        name,
                        str(t["starts"]),
                        str(t["completions"]),
                        str(t["errors"]),
                        f"{t['mean_duration_ms']:.1f}",
                        f"{t['max_duration_ms']:.1f}",
                        str(t["input_tokens"]) if t["with_usage"] else "-",
                        str(t["output_tokens"]) if t["with_usage"] else "-",
                        f"{t['cost_usd']:.6f}" if t["priced"] else "-",
                    )
                )
        widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
        return "\n".join(
            "  ".join(
                c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
            )
            for r in rows
        )
