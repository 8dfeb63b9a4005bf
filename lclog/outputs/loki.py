"""Direct push to Grafana Loki: batched by size and time, gzip, static labels, sent with retries
from a thread of its own."""

from __future__ import annotations

import datetime as dt
import gzip
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Sequence
from typing import Any

import orjson

from lclog._threads import start_daemon
from lclog.counters import Counters
from lclog.events import fields
from lclog.outputs._http import PostFailed, post
from lclog.outputs.base import Item, Output

__all__ = ["MAX_LINE_BYTES", "LokiOutput"]

# Loki's default max_line_size is 256 KB; longer lines are rejected.
MAX_LINE_BYTES = 256 * 1024
# Content fields dropped, in this order, from a line that is still too long.
# Dropped from an over-long line in this order: lclog's bulky fields, then the ecs and otel
# layouts' containers of content, then the error.
_BULKY = (*fields.BULKY[:-1], "gen_ai", "lclog", "attributes", fields.BULKY[-1])


_senders: weakref.WeakSet[LokiOutput] = weakref.WeakSet()
if hasattr(os, "register_at_fork"):

    def _restart_senders() -> None:
        for sender in list(_senders):
            sender._after_fork()

    os.register_at_fork(after_in_child=_restart_senders)


def _timestamp_ns(event: dict[str, Any]) -> str:
    """The event's own time as nanoseconds since the epoch, as Loki's push API wants: a string."""
    raw = event.get("timestamp") or event.get("@timestamp")
    if isinstance(raw, str):
        try:
            moment = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
            seconds = int(moment.timestamp())
            return str(seconds * 1_000_000_000 + moment.microsecond * 1000)
        except ValueError:
            pass
    return str(time.time_ns())


class LokiOutput(Output):
    """Pushes JSON lines to `/loki/api/v1/push` under one stream of static labels.

    The writer only buffers lines; full or due batches go to a sender thread of this output's
    own, which posts them with retries. Buffered and unsent lines together stay under
    `max_buffer_bytes`: past it, new events are dropped and counted (`take_lost`).
    """

    needs_events = True  # lines are re-rendered without the stream labels

    def __init__(
        self,
        url: str,
        labels: dict[str, str],
        *,
        tenant: str | None = None,
        headers: dict[str, str] | None = None,
        batch_bytes: int = 1 << 20,
        flush_interval_s: float = 1.0,
        timeout_s: float = 5.0,
        retries: int = 3,
        max_buffer_bytes: int = 8 << 20,
        backoff_s: float = 0.5,
    ) -> None:
        self.name = "loki"
        self.url = url
        self.labels = dict(labels)
        self._headers = {"Content-Type": "application/json", "Content-Encoding": "gzip", **(headers or {})}
        if tenant:
            self._headers["X-Scope-OrgID"] = tenant
        self._batch_bytes = batch_bytes
        self._interval = flush_interval_s
        self._timeout = timeout_s
        self._retries = retries
        self._max_buffer = max_buffer_bytes
        self._backoff = backoff_s
        self._values: list[tuple[str, str]] = []
        self._size = 0  # bytes buffered here
        self._last_push = time.monotonic()
        self._report = Counters()  # rate-limits this output's own fallback lines
        # The sender: batches waiting, the one in flight, and the bytes of both.
        self._cond = threading.Condition()
        self._batches: deque[tuple[list[tuple[str, str]], int]] = deque()
        self._unsent = 0
        self._in_flight = 0  # events in the batch being posted
        self._lost = 0
        self._failures = 0
        self._closing = False
        self._stop = threading.Event()  # cuts retry pauses short when closing
        self._start_sender()
        _senders.add(self)

    def _start_sender(self) -> None:
        start_daemon(self._send_loop, "lclog-loki")

    def _after_fork(self) -> None:
        """In a forked child: a new sender and lock; the batches are the parent's to send."""
        self._cond = threading.Condition()
        self._batches.clear()
        self._values, self._size, self._unsent, self._in_flight = [], 0, 0, 0
        if not self._closing:
            self._start_sender()

    def _line(self, event: dict[str, Any]) -> str:
        # Stream labels are not repeated in the line: LogQL's `| json` would rename them.
        body = {k: v for k, v in event.items() if k not in self.labels}
        line = orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS, default=str)
        for key in _BULKY:
            if len(line) <= MAX_LINE_BYTES:
                break
            if key in body:
                body[key] = f"[dropped: line over {MAX_LINE_BYTES // 1024} KB]"
                line = orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS, default=str)
        return line[:MAX_LINE_BYTES].decode("utf-8", "ignore")

    def write(self, items: Sequence[Item]) -> None:
        dropped = 0
        for event, _ in items:
            line = self._line(event)
            if self._size + self._unsent + len(line) > self._max_buffer:
                dropped += 1
                continue
            self._values.append((_timestamp_ns(event), line))
            self._size += len(line) + 40
            if self._size >= self._batch_bytes:
                self._hand_over()
        if dropped:
            self._lose(dropped, "loki buffer full", f"max_buffer_bytes={self._max_buffer}; is Loki down?")

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
            self._in_flight = 0  # a post still running is abandoned: its result no longer counts
            self._cond.notify_all()
        self._stop.set()
        if left:
            self._lose(left, "output loki failed", "not sent within flush_timeout_s", failed=False)

    def _send_loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._batches or self._closing)
                if self._closing:
                    return
                values, size = self._batches.popleft()
                self._in_flight = len(values)
            try:
                self._push(values)
            finally:
                with self._cond:
                    self._unsent -= size
                    self._in_flight = 0
                    self._cond.notify_all()

    def _push(self, values: list[tuple[str, str]]) -> None:
        values.sort(key=lambda v: int(v[0]))  # Loki wants each stream in time order
        body = gzip.compress(orjson.dumps({"streams": [{"stream": self.labels, "values": values}]}))
        try:
            post(
                self.url,
                body,
                self._headers,
                timeout=self._timeout,
                retries=self._retries,
                backoff=self._backoff,
                deadline=lambda: self.deadline,
                sleep=self._stop.wait,
            )
        except PostFailed as exc:
            with self._cond:
                if self._closing:  # close() counted this batch already
                    return
            self._lose(len(values), "output loki failed", str(exc), failed=True)

    def _lose(self, count: int, kind: str, reason: str, *, failed: bool = False) -> None:
        with self._cond:
            self._lost += count
            self._failures += failed
        self._report.report(kind, f"{reason}; {count} events dropped")
