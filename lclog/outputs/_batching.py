"""Outputs that send batches over the network (Loki, OTLP) from a thread of their own.

The writer only buffers; full or due batches go to the output's sender thread. What is buffered
and unsent stays under `max_buffer_bytes`: past it, new events are dropped and counted, and a
batch the backend refused after its retries is counted too (`take_losses`).
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import deque
from collections.abc import Sequence
from typing import Any

from lclog._threads import fork_safe, restarted_after_fork, start_daemon
from lclog.counters import Counters
from lclog.outputs.base import Item, Output

__all__ = ["BatchingOutput", "SendFailed"]


class SendFailed(Exception):
    """A batch the backend did not take, after the retries the sender allows itself."""


_senders: weakref.WeakSet[BatchingOutput] = restarted_after_fork()


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
        self._cond = fork_safe(threading.Condition())
        self._batches: deque[tuple[list[Any], int]] = deque()
        self._unsent = 0
        self._in_flight = 0  # events in the batch being sent
        self._lost = 0
        self._failures = 0
        self._closing = False
        self._stop = fork_safe(threading.Event())  # cuts retry pauses short when closing
        self._start_sender()
        _senders.add(self)

    # -- what a subclass says ----------------------------------------------------------------

    def encode(self, event: dict[str, Any], line: bytes) -> tuple[Any, int]:
        """What is buffered for an event, and its size in bytes."""
        raise NotImplementedError

    def send(self, values: list[Any]) -> None:
        """Delivers one batch; raises SendFailed when it could not."""
        raise NotImplementedError

    # -- the writer's side -------------------------------------------------------------------

    def _start_sender(self) -> None:
        start_daemon(self._send_loop, f"lclog-{self.name.split(':')[0]}")

    def _after_fork(self) -> None:
        """In a forked child: a new sender and lock; the batches are the parent's to send."""
        self._cond = fork_safe(threading.Condition())
        self._batches.clear()
        self._values, self._size, self._unsent, self._in_flight = [], 0, 0, 0
        if not self._closing:
            self._start_sender()

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
        with self._cond:
            self._batches.append((values, size))
            self._unsent += size
            self._cond.notify_all()

    def wait(self, deadline: float) -> bool:
        with self._cond:
            return self._cond.wait_for(
                lambda: not self._batches and not self._in_flight,
                timeout=max(0.0, deadline - time.monotonic()),
            )

    def take_losses(self) -> tuple[int, int]:
        with self._cond:
            losses = self._failures, self._lost
            self._failures = self._lost = 0
        return losses

    def close(self) -> None:
        """Sends what is buffered until `deadline`; what is still unsent then is lost (counted)."""
        self.flush()
        deadline = self.deadline if self.deadline is not None else time.monotonic() + self._timeout
        self.wait(deadline)
        with self._cond:
            self._closing = True
            left = sum(len(values) for values, _ in self._batches) + self._in_flight
            self._batches.clear()
            self._in_flight = 0  # a send still running is abandoned: its result no longer counts
            self._cond.notify_all()
        self._stop.set()
        self.closed()
        if left:
            self._lose(left, f"output {self.name} failed", "not sent within flush_timeout_s")

    def closed(self) -> None:
        """Called once close() gave up waiting (a subclass releases its client here)."""

    # -- the sender's side -------------------------------------------------------------------

    def _send_loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._batches or self._closing)
                if self._closing:
                    return
                values, size = self._batches.popleft()
                self._in_flight = len(values)
            try:
                self.send(values)
            except SendFailed as exc:
                with self._cond:
                    closing = self._closing  # close() counted this batch already
                if not closing:
                    self._lose(len(values), f"output {self.name} failed", str(exc), failed=True)
            except Exception as exc:  # a sender that raised: the batch is lost, counted; the thread goes on
                self._lose(len(values), f"output {self.name} failed", type(exc).__name__, failed=True)
            finally:
                with self._cond:
                    self._unsent -= size
                    self._in_flight = 0
                    self._cond.notify_all()

    def _lose(self, count: int, kind: str, reason: str, *, failed: bool = False) -> None:
        with self._cond:
            self._lost += count
            self._failures += failed
        self._report.report(kind, f"{reason}; {count} events dropped")
