"""Outputs that send batches over the network (Loki, OTLP) from a thread of their own.

The writer only buffers; full or due batches go to the output's sender thread. What is buffered
and unsent stays under `max_buffer_bytes`: past it, new events are dropped and counted, and a
batch the backend refused after its retries is counted too (`take_losses`).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

from lclog._threads import Worker, fork_safe
from lclog.counters import Counters
from lclog.outputs.base import Item, Output

__all__ = ["BatchingOutput", "SendFailed"]


class SendFailed(Exception):
    """A batch the backend did not take, after the retries the sender allows itself."""


class BatchingOutput(Output):
    """Buffers what `encode` makes of each event; `send` delivers a batch or raises SendFailed."""

    needs_events = True

    def __init__(
        self, name: str, *, batch_bytes: int, flush_interval_s: float, timeout_s: float, max_buffer_bytes: int
    ) -> None:
        self.name = name
        self._batch_bytes = batch_bytes
        self._interval = flush_interval_s
        self._timeout = timeout_s
        self._max_buffer = max_buffer_bytes
        self._values: list[Any] = []
        self._size = 0  # bytes buffered here
        self._last_push = time.monotonic()
        self._report = Counters()  # rate-limits this output's own fallback lines
        # The sender: batches waiting, the one in flight, and the bytes of both.
        self._lock = fork_safe(threading.Lock())
        self._batches: deque[tuple[list[Any], int]] = deque()
        self._unsent = 0
        self._in_flight = 0  # events in the batch being sent
        self._lost = 0
        self._failures = 0
        self._closing = False
        self._stop = fork_safe(threading.Event())  # cuts retry pauses short when closing
        self._sender = Worker(f"lclog-{name.split(':')[0]}", self._send_all, on_fork=self._after_fork)
        self._sender.start()

    # -- what a subclass says ----------------------------------------------------------------

    def encode(self, event: dict[str, Any], line: bytes) -> tuple[Any, int]:
        """What is buffered for an event, and its size in bytes."""
        raise NotImplementedError

    def send(self, values: list[Any]) -> None:
        """Delivers one batch; raises SendFailed when it could not."""
        raise NotImplementedError

    # -- the writer's side -------------------------------------------------------------------

    def _after_fork(self) -> None:
        """In a forked child (a new sender starts): the batches are the parent's to send."""
        self._batches.clear()
        self._values, self._size, self._unsent, self._in_flight = [], 0, 0, 0

    def write(self, items: Sequence[Item]) -> None:
        dropped = 0
        for event, line in items:
            value, size = self.encode(event, line)
            if self._size + self._unsent + size > self._max_buffer:
                dropped += 1
                continue
            self._values.append(value)
            self._size += size
            if self._size >= self._batch_bytes:
                self._hand_over()
        if dropped:
            reason = f"max_buffer_bytes={self._max_buffer}; is {self.name} down?"
            self._lose(dropped, f"{self.name} buffer full", reason)

    def tick(self) -> None:
        if self._values and time.monotonic() - self._last_push >= self._interval:
            self._hand_over()

    def flush(self) -> None:
        if self._values:
            self._hand_over()

    def _hand_over(self) -> None:
        values, size = self._values, self._size
        self._values, self._size = [], 0
        self._last_push = time.monotonic()
        with self._lock:
            self._batches.append((values, size))
            self._unsent += size
        self._sender.wake()

    def wait(self, deadline: float) -> bool:
        if not self._batches and not self._in_flight:
            return True
        return self._sender.flush(deadline)

    def take_losses(self) -> tuple[int, int]:
        with self._lock:
            losses = self._failures, self._lost
            self._failures = self._lost = 0
        return losses

    def close(self) -> None:
        """Sends what is buffered until `deadline`; what is still unsent then is lost (counted)."""
        self.flush()
        deadline = self.deadline if self.deadline is not None else time.monotonic() + self._timeout
        self.wait(deadline)
        with self._lock:
            self._closing = True
            left = sum(len(values) for values, _ in self._batches) + self._in_flight
            self._batches.clear()
            self._in_flight = 0  # a send still running is abandoned: its result no longer counts
        self._stop.set()
        self._sender.stop(time.monotonic())  # ends after a send still running, not waited for
        self.closed()
        if left:
            self._lose(left, f"output {self.name} failed", "not sent within flush_timeout_s")

    def closed(self) -> None:
        """Called once close() gave up waiting (a subclass releases its client here)."""

    # -- the sender's side -------------------------------------------------------------------

    def _send_all(self, flush: bool) -> None:
        """The sender's round: every batch waiting, one at a time, oldest first."""
        while True:
            with self._lock:
                if self._closing or not self._batches:
                    return
                values, size = self._batches.popleft()
                self._in_flight = len(values)
            try:
                self.send(values)
            except SendFailed as exc:
                with self._lock:
                    closing = self._closing  # close() counted this batch already
                if not closing:
                    self._lose(len(values), f"output {self.name} failed", str(exc), failed=True)
            except Exception as exc:  # a sender that raised: the batch is lost, counted; the thread goes on
                self._lose(len(values), f"output {self.name} failed", type(exc).__name__, failed=True)
            finally:
                with self._lock:
                    self._unsent -= size
                    self._in_flight = 0

    def _lose(self, count: int, kind: str, reason: str, *, failed: bool = False) -> None:
        with self._lock:
            self._lost += count
            self._failures += failed
        self._report.report(kind, f"{reason}; {count} events dropped")
