"""Direct push to Grafana Loki: batched by size and time, gzip, static labels, sent with retries
from a thread of its own."""

from __future__ import annotations

import datetime as dt
import gzip
import time
from typing import Any

import orjson

from lclog.events import fields
from lclog.outputs._batching import BatchingOutput, SendFailed
from lclog.outputs._http import PostFailed, post

__all__ = ["MAX_LINE_BYTES", "LokiOutput"]

# Loki's default max_line_size is 256 KB; longer lines are rejected.
MAX_LINE_BYTES = 256 * 1024
# Content fields dropped, in this order, from a line that is still too long.
# Dropped from an over-long line in this order: lclog's bulky fields, then the ecs and otel
# layouts' containers of content, then the error.
_BULKY = (*fields.BULKY[:-1], "gen_ai", "lclog", "attributes", fields.BULKY[-1])


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


class LokiOutput(BatchingOutput):
    """Pushes JSON lines to `/loki/api/v1/push` under one stream of static labels, in batches from
    a thread of its own (see BatchingOutput)."""

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
        self.url = url
        self.labels = dict(labels)
        self._headers = {"Content-Type": "application/json", "Content-Encoding": "gzip", **(headers or {})}
        if tenant:
            self._headers["X-Scope-OrgID"] = tenant
        self._retries = retries
        self._backoff = backoff_s
        super().__init__(
            "loki",
            batch_bytes=batch_bytes,
            flush_interval_s=flush_interval_s,
            timeout_s=timeout_s,
            max_buffer_bytes=max_buffer_bytes,
        )

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

    def encode(self, event: dict[str, Any], line: bytes) -> tuple[Any, int]:
        text = self._line(event)
        return (_timestamp_ns(event), text), len(text) + 40

    def send(self, values: list[Any]) -> None:
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
            raise SendFailed(str(exc)) from None
