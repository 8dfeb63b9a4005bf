"""Direct push to Grafana Loki: batched by size and time, gzip, static labels, retries."""

from __future__ import annotations

import datetime as dt
import gzip
import time
from collections.abc import Sequence
from typing import Any

import orjson

from lclog._http import PostFailed, post
from lclog.outputs import Item, Output
from lclog.stats import Stats

__all__ = ["MAX_LINE_BYTES", "LokiOutput"]

# Loki's default max_line_size is 256 KB; longer lines are rejected.
MAX_LINE_BYTES = 256 * 1024
# Content fields dropped, in this order, from a line that is still too long.
_BULKY = ("inputs", "outputs", "data", "metadata", "gen_ai", "attributes", "error")


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
    """Pushes JSON lines to `/loki/api/v1/push` under one stream of static labels."""

    needs_events = True  # lines are re-rendered without the stream labels

    def __init__(
        self,
        url: str,
        labels: dict[str, str],
        stats: Stats,
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
        self._stats = stats
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
        self._size = 0
        self._last_push = time.monotonic()

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
        for event, _ in items:
            line = self._line(event)
            if self._size + len(line) > self._max_buffer:
                self._stats.add("dropped")
                self._stats.report("loki buffer full", f"event dropped (max_buffer_bytes={self._max_buffer})")
                continue
            self._values.append((_timestamp_ns(event), line))
            self._size += len(line) + 40
            if self._size >= self._batch_bytes:
                self._push()

    def tick(self) -> None:
        if self._values and time.monotonic() - self._last_push >= self._interval:
            self._push()

    def flush(self) -> None:
        if self._values:
            self._push()

    def _push(self) -> None:
        values, self._values, self._size = self._values, [], 0
        self._last_push = time.monotonic()
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
            )
        except PostFailed as exc:
            self._fail(len(values), str(exc))

    def _fail(self, count: int, reason: str) -> None:
        self._stats.add("output_errors")
        self._stats.add("dropped", count)
        self._stats.report("output loki failed", f"{reason}; {count} events dropped")
