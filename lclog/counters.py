"""Counters of what lclog did and failed to do, and the fallback line that reports failures."""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field, fields
from typing import Any

from lclog._threads import fork_safe, restarted_after_fork

__all__ = ["Counters"]

# One fallback line per kind of failure at most this often; the rest are counted.
FALLBACK_INTERVAL_S = 10.0


@dataclass(eq=False)  # compared and hashed by identity: a child process renews each (_after_fork)
class Counters:
    """lclog's own counters (`handler.stats`): events emitted and lost, failures of its parts.

    Read them any time (`handler.stats.emitted`), or `as_dict()` for a snapshot."""

    emitted: int = 0  # events handed to the outputs
    dropped: int = 0  # events lost: queue full, or per output whose write failed
    filtered: int = 0  # events a processor dropped on purpose (structlog.DropEvent)
    internal_errors: int = 0  # failures inside lclog's hooks (the event may be lost)
    processor_errors: int = 0  # a processor raised; the event went on without its change
    output_errors: int = 0  # writes that failed
    redaction_errors: int = 0  # values replaced by a marker because redaction failed
    redaction_over_budget: int = 0  # strings past redaction.max_chars_per_value, written as a marker
    evicted_runs: int = 0  # open runs forgotten to stay within max_open_runs
    notifications_sent: int = 0  # notifications a target accepted (of several: at least one)
    notifications_suppressed: int = 0  # duplicates within min_interval_s (counted in the next one)
    notifications_dropped: int = 0  # notification queue full
    notifier_failures: int = 0  # deliveries a target failed, after its retries
    unpriced_calls: int = 0  # LLM calls without a cost: a model no price is known for, or no usage
    sampled_out: int = 0  # events of traces `sampling` dropped, on purpose (their trace.end is written)
    sampling_early: int = 0  # traces `sampling` decided before their root ended (memory bound, close)
    # Reentrant: a SIGTERM handler may report while the main thread holds it.
    _lock: threading.RLock = field(
        default_factory=lambda: fork_safe(threading.RLock()), repr=False, compare=False
    )
    _last_report: dict[str, float] = field(default_factory=dict, repr=False, compare=False)
    _suppressed: dict[str, int] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        _counters.add(self)

    def _after_fork(self) -> None:
        """In a forked child: its own counts, from zero (the parent's are the parent's)."""
        for f in fields(self):
            if not f.name.startswith("_"):
                setattr(self, f.name, 0)
        self._last_report.clear()
        self._suppressed.clear()

    def add(self, name: str, n: int = 1) -> None:
        """Adds n to the counter called name (thread-safe)."""
        with self._lock:
            setattr(self, name, getattr(self, name) + n)

    def as_dict(self) -> dict[str, int]:
        """Returns the counters as a plain dict."""
        with self._lock:
            return {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}

    def report(self, kind: str, detail: str) -> None:
        """Writes one rate-limited `lclog:` line to stderr; never raises.

        detail must already be safe to show (no user content): callers pass exception types,
        hook names and redacted text only.
        """
        now = time.monotonic()
        with self._lock:
            last = self._last_report.get(kind)
            if last is not None and now - last < FALLBACK_INTERVAL_S:
                self._suppressed[kind] = self._suppressed.get(kind, 0) + 1
                return
            self._last_report[kind] = now
            suppressed = self._suppressed.pop(kind, 0)
        more = f" ({suppressed} similar suppressed)" if suppressed else ""
        line = f"lclog: {kind}: {detail}{more}\n"
        try:
            stream = sys.stderr or sys.__stderr__
            if stream is None:  # no stderr at all (pythonw): nowhere to report
                return
            stream.write(line.replace("\r", " ").replace("\x1b", " "))
            stream.flush()
        except Exception:
            pass


_counters: Any = restarted_after_fork()
