"""The writer: one background thread per process that builds queued captures into events and
writes them to the outputs. Hooks only queue; no caller ever writes, flushes or sends."""

from __future__ import annotations

import heapq
import itertools
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from lclog._threads import Worker, fork_safe
from lclog.counters import Counters
from lclog.events.captures import Capture, TraceEnd
from lclog.events.sampling import Sampler
from lclog.outputs.base import Item, Output, ReaderGone
from lclog.pipeline.processors import Rendered

__all__ = ["NO_EVENT", "Source", "flush", "register", "unregister"]

Process = Callable[[Any], "Rendered | None"]

# Events built and written per round at most; a longer backlog is written in several rounds,
# each as soon as it is ready.
_CHUNK = 1024
# Backlog past which a producer builds queued events itself (CPU only) instead of letting the
# queue grow: a producer faster than the writer thread slows down rather than drops events.
_DEFER = 256
# How long a producer far ahead waits for the writer at most, per event.
_WAIT_S = 0.1
# Global order of everything queued, so that outputs shared by several handlers get one sequence.
_seq = itertools.count()
# What a queued event's dict costs, per byte of its JSON line, for each dict an output reads
# (a chat-model event's dict takes 2-3 times its line).
_PER_DICT = 3
NO_EVENT: dict[str, Any] = {}  # stands for an event dict no output reads
# A built event waiting for the writer: (order, event as laid out, line, bytes, lclog's fields
# before the layout, or None when no layout was applied or no output reads them).
Built = tuple[int, dict[str, Any], bytes, int, "dict[str, Any] | None"]


def _nothing(captured: Any) -> Rendered | None:
    return None


class Source:
    """One handler's way into the writer: a bounded queue of captures and of built events.

    `put` never blocks: past `capacity` events, or once the built events hold `max_bytes`, the
    event is dropped and counted at once. Built events wait compact: the JSON line at its size,
    and the event dict only when an output reads it.
    """

    def __init__(
        self,
        outputs: Sequence[Output],
        stats: Counters,
        *,
        capacity: int,
        max_bytes: int = sys.maxsize,
        interval: float,
        process: Process | None = None,
        housekeeping: Callable[[], None] | None = None,
        sampler: Sampler | None = None,
    ) -> None:
        self.outputs = list(outputs)
        self.sampler = sampler  # whole-trace sampling: built events wait for their trace's decision
        self._outputs_seen = -1
        self._reads = (True, True)
        self.stats = stats
        self.capacity = capacity
        self.max_bytes = max_bytes
        self.interval = interval
        self.housekeeping = housekeeping  # run on the writer's schedule (expired runs)
        self._defer = min(_DEFER, capacity)
        self._quiet = self._defer - 1  # a backlog below this needs no check but the built queue's
        self._process = process or _nothing
        self._captured: deque[tuple[int, Any]] = deque()
        self._built: deque[Built] = deque()
        # Bytes of the built events, each sum kept by one side: builders (holding self._lock),
        # callers putting built events (self._put_lock), and the writer taking them (self._lock).
        self._built_bytes = self._put_bytes = self._taken_bytes = 0
        # Building happens in queue order, one thread at a time: the writer, or a producer ahead.
        self._lock = threading.RLock()
        self._put_lock = fork_safe(threading.RLock())  # reentrant, as every lock a flush takes

    @property
    def reads(self) -> tuple[bool, bool]:
        """Whether an output reads the events as laid out, and whether one reads lclog's fields
        before the layout, besides the lines (outputs may be added)."""
        outputs = self.outputs
        if len(outputs) != self._outputs_seen:
            fields = any(o.needs_fields for o in outputs)
            self._reads = (any(o.needs_events and not o.needs_fields for o in outputs), fields)
            self._outputs_seen = len(outputs)
        return self._reads

    def _compact(self, rendered: Rendered) -> tuple[dict[str, Any], bytes, int, dict[str, Any] | None]:
        """A rendered event as it waits: the line copied to its size (orjson's output keeps its
        working buffer, 4 KB and more behind a short line), each dict only when an output reads
        it; and what it holds, in bytes."""
        event, line, fields = rendered
        line = bytes(memoryview(line))
        events, wants_fields = self.reads
        if not wants_fields:
            fields = None
        elif fields is None:  # no layout: the event is lclog's fields
            events = True
        dicts = events + (fields is not None)
        return event if events else NO_EVENT, line, len(line) * (1 + _PER_DICT * dicts), fields

    def backlog(self) -> int:
        return len(self._captured) + len(self._built)

    def crowded(self) -> bool:
        """Past half the capacity or half the byte budget: producers wait for the writer."""
        return self.backlog() >= self.capacity // 2 or self.queued_bytes >= self.max_bytes // 2

    def _drop(self, limit: str = "") -> None:
        self.stats.add("dropped")
        limit = limit or f"queue_size={self.capacity}"
        self.stats.report("queue full", f"event dropped ({limit}; is an output down?)")

    @property
    def queued_bytes(self) -> int:
        """What the built events waiting hold, in bytes (as counted against `max_bytes`)."""
        return self._built_bytes + self._put_bytes - self._taken_bytes

    def _over(self, size: int) -> bool:
        if self._built_bytes + self._put_bytes - self._taken_bytes + size <= self.max_bytes:
            return False
        self._drop(f"max_queue_bytes={self.max_bytes}")
        return True

    def put(self, captured: Any) -> None:
        """Queues what a hook captured, to be built into an event off the caller's path."""
        queue = self._captured
        backlog = len(queue)
        if backlog < self._quiet and not self._built:  # far from helping and from the capacity
            queue.append((next(_seq), captured))
            return
        if backlog + len(self._built) >= self.capacity:
            self._drop()
            return
        queue.append((next(_seq), captured))
        if backlog >= self._quiet:
            _writer.wake()
            self._help()

    def put_built(self, rendered: Rendered, capture: Capture) -> None:
        """Queues an event already built and rendered (processors that must run in the caller)."""
        if len(self._captured) + len(self._built) >= self.capacity:
            self._drop()
            return
        if self.sampler is not None:
            self._sample(capture, rendered)
            return
        event, line, size, fields = self._compact(rendered)
        if self._over(size):
            return
        with self._put_lock:  # callers in many threads
            self._put_bytes += size
        self._built.append((next(_seq), event, line, size, fields))

    def _sample(self, capture: Capture, rendered: Rendered) -> None:
        """Queues what whole-trace sampling writes now of a built event: nothing while its
        trace waits (the event waits compact), else the trace's events, then this one."""
        compact = self._compact(rendered)
        always = type(capture) is TraceEnd
        self._queue(self.sampler.route(capture[0], compact, compact[2], always))  # type: ignore[union-attr]

    def release_held(self) -> None:
        """Queues every trace still waiting for its sampling decision (the handler closes)."""
        if self.sampler is not None:
            self._queue(self.sampler.release_all())

    def _queue(self, items: list[tuple[dict[str, Any], bytes, int, dict[str, Any] | None]]) -> None:
        """Queues compact built events in their order, within `max_bytes`."""
        for event, line, size, fields in items:
            if self._over(size):
                continue
            with self._put_lock:
                self._put_bytes += size
            self._built.append((next(_seq), event, line, size, fields))

    def _help(self) -> None:
        # Past half the capacity the producer waits (at most 0.1 s) for the writer's current
        # chunk rather than skip: building is CPU work, never I/O, so the wait is short.
        if len(self._captured) >= self.capacity // 2:
            acquired = self._lock.acquire(timeout=0.1)
        else:
            acquired = self._lock.acquire(blocking=False)
        if acquired:
            try:
                self._build(len(self._captured), waits=True)
            finally:
                self._lock.release()
        if len(self._built) >= self.capacity // 2 or self.queued_bytes >= self.max_bytes // 2:
            _writer.await_progress(self)

    def build(self, limit: int | None = None) -> None:
        """Builds queued captures into events (all of them, or at most `limit`) for the writer's
        round under way; never writes."""
        with self._lock:
            self._build(len(self._captured) if limit is None else min(limit, len(self._captured)))

    def _build(self, count: int, waits: bool = False) -> None:
        """Builds `count` captures (holding self._lock); events that `waits` for a later round
        are kept compact (see _compact)."""
        captured, built, process = self._captured, self._built, self._process
        events, fields_read = self.reads
        factor = 1 + _PER_DICT * (events + fields_read)
        room = self.max_bytes - self.queued_bytes  # only grows meanwhile (the writer takes)
        for _ in range(count):
            try:
                seq, capture = captured.popleft()
            except IndexError:  # taken by discard()
                return
            try:
                item = process(capture)
            except Exception as exc:
                self.stats.add("internal_errors")
                self.stats.report("processing failed", type(exc).__name__)
                continue
            if item is None:
                continue
            if self.sampler is not None:
                self._sample(capture, item)
                continue
            if waits:
                event, line, size, fields = self._compact(item)
            else:
                event, line, fields = item
                size = len(line) * factor
            if size > room:
                room = self.max_bytes - self.queued_bytes
                if self._over(size):
                    continue
            room -= size
            self._built_bytes += size
            built.append((seq, event, line, size, fields))

    def take(self, limit: int) -> list[Built]:
        """At most `limit` built events, oldest first."""
        built = self._built
        with self._lock:  # discard() may empty it meanwhile
            taken = [built.popleft() for _ in range(min(limit, len(built)))]
            self._taken_bytes += sum([t[3] for t in taken])
        return taken

    def discard(self) -> int:
        """Forgets everything still queued (the handler closed without delivering it); returns how much."""
        with self._lock:
            lost = len(self._captured) + len(self._built)
            self._captured.clear()
            self._built.clear()
            with self._put_lock:
                self._built_bytes = self._put_bytes = self._taken_bytes = 0
        return lost


class _Writer:
    """The process's writer (a Worker: one thread) and the sources it serves."""

    def __init__(self) -> None:
        self._sources: tuple[Source, ...] = ()
        self._lock = fork_safe(threading.RLock())  # the sources tuple
        self._worker = Worker(
            "lclog-writer",
            self.cycle,
            interval=self._interval,
            on_error=self._failed,
            on_fork=self._after_fork,
        )
        self._progress = fork_safe(threading.Event())  # set after each batch written
        self._written = 0  # batches written so far
        self._stuck_at = -1  # _written when a producer last waited in vain: the writer is stuck

    def wake(self) -> None:
        """Starts a round now rather than at the next interval."""
        self._worker.wake()

    def register(self, source: Source) -> None:
        with self._lock:
            self._sources = (*self._sources, source)
        self._worker.start()

    def unregister(self, source: Source) -> None:
        with self._lock:
            self._sources = tuple(s for s in self._sources if s is not source)

    def await_progress(self, source: Source) -> None:
        """Lets a producer far ahead of the writer wait (0.1 s at most) until the source's backlog
        is under half its capacity, giving the writer the GIL. A writer that wrote nothing during
        such a wait is stuck in an output, and is not waited on again until it writes: events
        past the capacity are dropped and counted instead."""
        written = self._written
        if self._stuck_at == written:
            return
        deadline = time.monotonic() + _WAIT_S
        while source.crowded():
            now = time.monotonic()
            if now >= deadline:
                if self._written == written:
                    self._stuck_at = written
                return
            self._progress.clear()
            self._worker.wake()
            self._progress.wait(min(0.02, deadline - now))

    def _interval(self) -> float:
        sources = self._sources
        return min((s.interval for s in sources), default=1.0)

    def _failed(self, exc: Exception) -> None:
        """A bug of lclog's in a round: reported, and the writer goes on."""
        for source in self._sources:
            source.stats.add("internal_errors")
            source.stats.report("writer failed", type(exc).__name__)

    def cycle(self, flush: bool = False) -> None:
        """Builds and writes what is queued now (not what arrives meanwhile), then flushes or
        ticks every output; one round at a time (the worker's)."""
        sources = self._sources
        for source in sources:
            _housekeeping(source)
        self._drain(sources)
        outputs: dict[Output, list[Source]] = {}
        for source in sources:
            for output in source.outputs:
                outputs.setdefault(output, []).append(source)
        for output, users in outputs.items():
            _call(output, output.flush if flush else output.tick, users)
            count_losses(output, users)

    def _drain(self, sources: tuple[Source, ...]) -> None:
        """Builds and writes each source's backlog as it is now, a chunk of each in turn."""
        budgets = {source: source.backlog() for source in sources}
        while True:
            batches = []
            for source in sources:
                left = budgets[source]
                if left <= 0:
                    continue
                if source._captured:
                    source.build(min(left, _CHUNK))
                taken = source.take(min(left, _CHUNK))
                budgets[source] = left - _CHUNK
                if taken:
                    batches.append((source, taken))
            if not batches:
                return
            _write(batches)
            self._written += 1
            self._progress.set()

    def flush(self, deadline: float) -> bool:
        """Has everything queued so far written and flushed; waits until `deadline` at most.

        True when done in time. Outputs that send from threads of their own (Loki) are waited
        for separately (Output.wait)."""
        return self._worker.flush(deadline)

    def settle(self, output: Output) -> None:
        """Counts what output has lost so far on every handler writing to it (a network output
        learns of a refused batch after the writer's last round)."""
        count_losses(output, [s for s in self._sources if output in s.outputs])

    def _after_fork(self) -> None:
        """In a forked child: what the parent had queued is the parent's."""
        for source in self._sources:
            source._lock = threading.RLock()
            source.discard()


def _items(taken: list[Built], fields: bool) -> list[Item]:
    """What outputs get: (event, line) pairs; with `fields`, the event before its layout."""
    if fields:
        return [(e if f is None else f, line) for _, e, line, _, f in taken]
    return [(e, line) for _, e, line, _, _ in taken]


def _write(batches: list[tuple[Source, list[Built]]]) -> None:
    if len(batches) == 1:
        source, taken = batches[0]
        kinds: dict[bool, list[Item]] = {}
        for output in source.outputs:
            wants = output.needs_fields
            items = kinds.get(wants)
            if items is None:
                items = kinds[wants] = _items(taken, wants)
            if not _call(output, output.write, [source], items):
                source.stats.add("dropped", len(items))
        source.stats.add("emitted", len(taken))
        return
    # Several handlers: one merged sequence, so a shared output gets every event in order.
    per_output: dict[Output, list[Item]] = {}
    counts: dict[Output, dict[Source, int]] = {}
    merged = heapq.merge(*[[(b[0], i, b) for b in taken] for i, (_, taken) in enumerate(batches)])
    for _, i, (_, event, line, _, fields) in merged:
        source = batches[i][0]
        for output in source.outputs:
            chosen = fields if fields is not None and output.needs_fields else event
            per_output.setdefault(output, []).append((chosen, line))
            by_source = counts.setdefault(output, {})
            by_source[source] = by_source.get(source, 0) + 1
    for output, items in per_output.items():
        users = list(counts[output])
        if not _call(output, output.write, users, items):
            for source, n in counts[output].items():
                source.stats.add("dropped", n)
    for source, taken in batches:
        source.stats.add("emitted", len(taken))


def _call(output: Output, method: Callable[..., Any], users: list[Source], *args: Any) -> bool:
    try:
        method(*args)
        return True
    except ReaderGone:  # the reader left: its events are dropped (and counted), nothing failed
        return False
    except Exception as exc:  # one failing output never stops the others
        detail = type(exc).__name__ + _errno(exc)
        for source in users:
            source.stats.add("output_errors")
            source.stats.report(f"output {output.name} failed", detail)
        count_losses(output, users)
        return False


def _housekeeping(source: Source) -> None:
    """Runs a source's housekeeping (expired runs); what fails is counted and reported."""
    if source.housekeeping is not None:
        try:
            source.housekeeping()
        except Exception as exc:
            source.stats.add("internal_errors")
            source.stats.report("housekeeping failed", type(exc).__name__)


def count_losses(output: Output, users: list[Source]) -> None:
    """Counts events an output accepted earlier and then lost, on each handler writing to it."""
    failures, lost = output.take_losses()
    for source in users:
        if failures:
            source.stats.add("output_errors", failures)
        if lost:
            source.stats.add("dropped", lost)


def _errno(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f" ({exc.strerror})"
    return ""


_writer = _Writer()
register = _writer.register
unregister = _writer.unregister
flush = _writer.flush
settle = _writer.settle
