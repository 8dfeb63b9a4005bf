"""Whole-trace sampling by outcome (`sampling:`): a trace's events wait until its root ends, then
the trace is written whole or dropped whole; its `trace.end` is written either way.

A trace is kept when it failed (any run of it raised), was interrupted or cancelled, ran longer
than `slower_than_ms`, cost more than `cost_over_usd` or used more than `tokens_over` tokens;
any other is kept at `rate`, decided from its trace id alone (as `sample_rate` is), so every
process agrees.

Waiting events are bounded in bytes, per trace (`max_trace_bytes`) and in all (`max_bytes`). A
trace past its bound, the oldest trace waiting once all are past theirs, and every trace still
open when the handler closes, are decided early, by the same rules on what is known so far
(failed so far, open longer than `slower_than_ms` so far, cost and tokens so far); a trace still
open at close is kept (`because: open_at_close`): it is where the process stopped. What a trace
decided early writes next follows its decision.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lclog._threads import fork_safe, restarted_after_fork
from lclog.events.routing import sampled
from lclog.events.runs import Run
from lclog.events.traces import TraceTotals

__all__ = ["Rules", "Sampler", "verdict"]

Item = Any  # a built event as the writer queues it (opaque here but for its size)


@dataclass(frozen=True, slots=True)
class Rules:
    """What keeps a trace whole (see the module's docstring); the numbers None: no such rule."""

    rate: float
    keep_failed: bool = True
    keep_interrupted: bool = True
    slower_than_ms: float | None = None
    cost_over_usd: float | None = None
    tokens_over: int | None = None
    max_trace_bytes: int = 1 << 20
    max_bytes: int = 16 << 20


def _tokens(usage: dict[str, int]) -> int:
    total = usage.get("total_tokens")
    return total if total is not None else usage.get("input_tokens", 0) + usage.get("output_tokens", 0)


def verdict(
    rules: Rules, root: Run, totals: TraceTotals | None, duration_ms: float | None
) -> tuple[bool, str]:
    """(kept, why) for a trace: its outcome, duration, cost and tokens, else its rate."""
    if totals is not None:
        if rules.keep_failed and (totals.errors or totals.outcome == "error"):
            return True, "failed"
        if rules.keep_interrupted and totals.outcome in ("interrupted", "cancelled"):
            return True, totals.outcome
    if rules.slower_than_ms is not None and duration_ms is not None and duration_ms > rules.slower_than_ms:
        return True, "slow"
    if totals is not None:
        if rules.cost_over_usd is not None and totals.priced and totals.cost > rules.cost_over_usd:
            return True, "cost"
        if rules.tokens_over is not None and _tokens(totals.usage) > rules.tokens_over:
            return True, "tokens"
    return sampled(root.trace_uuid, rules.rate), "rate"


class _Held:
    __slots__ = ("items", "size")

    def __init__(self) -> None:
        self.items: list[Item] = []
        self.size = 0


class Sampler:
    """The events of the traces not decided yet, and the decisions; thread-safe.

    `count(name, n)` counts events sampled out and traces decided early (handler.stats);
    `forget(conversation)` tells `history: once` that what a dropped trace wrote was not
    written, so that no later event references it."""

    def __init__(
        self,
        rules: Rules,
        count: Callable[[str, int], None],
        forget: Callable[[str], None] | None = None,
    ) -> None:
        self.rules = rules
        self._count = count
        self._forget = forget
        self._held: dict[Run, _Held] = {}
        self._threads: dict[str, int] = {}  # traces waiting, by conversation
        self._bytes = 0
        self._lock = fork_safe(threading.RLock())
        _samplers.add(self)

    def _after_fork(self) -> None:
        """In a forked child: the traces waiting are the parent's."""
        self._held = {}
        self._threads = {}
        self._bytes = 0

    @property
    def held_bytes(self) -> int:
        """What the events waiting for their trace's decision hold, in bytes."""
        return self._bytes

    def __len__(self) -> int:
        """The traces waiting."""
        return len(self._held)

    # -- deciding ---------------------------------------------------------------------------

    def decide(self, root: Run, totals: TraceTotals | None) -> dict[str, Any]:
        """Decides a trace whose root ended (unless it was decided early); returns what its
        `trace.end` says of it (`sampled`)."""
        with self._lock:
            if root.verdict is None:
                duration = totals.duration_ms if totals is not None else None
                kept, why = verdict(self.rules, root, totals, duration)
                if not kept and root.thread is not None and self._shares_thread(root):
                    kept, why = True, "conversation"  # see _shares_thread
                root.verdict = (kept, why, False)
            kept, why, early = root.verdict
        field: dict[str, Any] = {"kept": kept, "because": why, "rate": self.rules.rate}
        if early:
            field["early"] = True
        return field

    def _shares_thread(self, root: Run) -> bool:
        """Another trace of the same conversation is waiting: its events may reference messages
        this one wrote first (`history: once`), so this one is not dropped."""
        if self._forget is None or root.thread is None:
            return False
        waiting = self._threads.get(root.thread, 0) - (root in self._held)
        return waiting > 0

    def _decide_early(self, root: Run, why: str | None = None) -> None:
        """Decides an open trace now, on what is known so far (holding self._lock)."""
        self._count("sampling_early", 1)
        if why is not None:
            root.verdict = (True, why, True)
            return
        open_ms = (time.monotonic_ns() - root.start_ns) / 1e6 if root.start_ns else None
        kept, why = verdict(self.rules, root, root.totals, open_ms)
        root.verdict = (kept, why, True)

    # -- routing built events ---------------------------------------------------------------

    def route(self, run: Run, item: Item, size: int, always: bool = False) -> list[Item]:
        """What to write now of a built event of `run` (`size` bytes): nothing while its trace
        waits; else the trace's waiting events first, when kept, and the event itself when
        kept or `always` (trace.end)."""
        root = run.root
        with self._lock:
            if root.verdict is None:
                if root.totals is None:  # a trace whose root this handler did not see start
                    return [item]
                return self._hold(root, item, size)
            return self._release(root, item, always)

    def _hold(self, root: Run, item: Item, size: int) -> list[Item]:
        held = self._held.get(root)
        if held is None:
            held = self._held[root] = _Held()
            if root.thread is not None:
                self._threads[root.thread] = self._threads.get(root.thread, 0) + 1
        held.items.append(item)
        held.size += size
        self._bytes += size
        if held.size > self.rules.max_trace_bytes:
            self._decide_early(root)
            return self._release(root, None, False)
        out: list[Item] = []
        while self._bytes > self.rules.max_bytes and self._held:
            oldest = next(iter(self._held))
            self._decide_early(oldest)
            out += self._release(oldest, None, False)
        return out

    def _release(self, root: Run, item: Item, always: bool) -> list[Item]:
        kept = root.verdict[0]  # type: ignore[index]
        held = self._held.pop(root, None)
        out: list[Item] = []
        if held is not None:
            self._bytes -= held.size
            if root.thread is not None:
                left = self._threads.pop(root.thread, 1) - 1
                if left:
                    self._threads[root.thread] = left
            if kept:
                out = held.items
            else:
                self._count("sampled_out", len(held.items))
                if self._forget is not None:  # what it wrote in full was not written
                    self._forget(root.thread or root.trace_id)
        if item is not None:
            if kept or always:
                out.append(item)
            else:
                self._count("sampled_out", 1)
        return out

    def release_all(self, why: str = "open_at_close") -> list[Item]:
        """Decides every waiting trace as kept (`why`); returns their events, trace by trace."""
        out: list[Item] = []
        with self._lock:
            for root in list(self._held):
                self._decide_early(root, why)
                out += self._release(root, None, False)
        return out


_samplers: weakref.WeakSet[Sampler] = restarted_after_fork()
