"""`lclog report`: what a log holds, as the data of one HTML page (`report_page` renders it).

Two passes over the logs, each in bounded memory whatever their size:

1. Every event is read into a row per request (its `trace.end`, or its outermost run when the
   log has none, or a model call made on its own) holding its model calls, and into exact
   totals. Past `max_requests` rows the page keeps a uniform sample of them, and says so.
2. The events of the requests the page shows in full (the slowest, the most expensive and the
   latest failed, `top` of each) and of their conversations are read again, up to a byte budget
   each, into a run tree and a conversation.
"""

from __future__ import annotations

import heapq
import random
import re
import sys
import tempfile
from collections import OrderedDict, deque
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import IO, Any

from lclog.cli.lines import open_inputs, parse
from lclog.cli.summary import Histogram
from lclog.cli.thread import conversation_of

__all__ = ["Limits", "build_report"]

_MODEL_RUNS = ("llm.", "chat_model.")


@dataclass(frozen=True)
class Limits:
    """What the page holds at most; each limit reached is said on the page."""

    top: int = 50  # requests in full per list (slowest, most expensive, failed)
    max_requests: int = 200_000  # request rows for charts and filters; past it, a uniform sample
    request_bytes: int = 1_000_000  # a request's events in full, in log bytes
    thread_bytes: int = 2_000_000  # a conversation's events, in log bytes
    threads: int = 20  # conversations rebuilt
    detail_bytes: int = 24_000_000  # the events of all of them, in log bytes


def _epoch_ms(value: Any) -> float | None:
    """Milliseconds since the epoch of an event's timestamp (ISO 8601, or a number of s/ms/ns)."""
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return moment.timestamp() * 1000
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        for scale in (1e18, 1e15, 1e12):  # ns, µs, ms
            if value > scale / 1000:
                return float(value) / (scale / 1e12)
        return float(value) * 1000
    return None


# Times the page can draw: from 1970 to the year 3000, in ms.
_LATEST_MS = 32_503_680_000_000.0


def _moment(ms: float | None) -> float | None:
    return ms if ms is not None and 0.0 <= ms <= _LATEST_MS else None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _tokens(usage: Any, key: str) -> int:
    value = _dict(usage).get(key)
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def _label(value: Any, missing: str) -> str:
    return sys.intern(str(value)) if value else missing


@dataclass(slots=True)
class _Request:
    trace_id: str
    start_ms: float | None
    duration_ms: float | None
    name: str
    service: str
    thread: str
    user: str
    tenant: str
    outcome: str
    errors: int
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float | None = None
    calls: list[tuple[Any, ...]] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.outcome != "ok" or self.errors > 0


def _request(e: dict[str, Any], *, lone: bool) -> _Request:
    """A request from its trace.end, its outermost run's end, or a lone model call's end."""
    name = e.get("event") or ""
    duration = _number(e.get("duration_ms"))
    end = _epoch_ms(e.get("timestamp"))
    failed_run = name.endswith(".error")
    outcome = str(e.get("outcome") or ("error" if failed_run else "ok"))
    errors = _dict(e.get("errors")).get("count")
    request = _Request(
        trace_id=str(e.get("trace_id") or e.get("run_id") or "?"),
        start_ms=None if end is None else _moment(end - (duration or 0.0)),
        duration_ms=duration,
        # the same few names, services, users ... on every row: one string object each
        name=_label(e.get("name"), "?"),
        service=_label(e.get("service"), "?"),
        thread=_label(e.get("thread_id"), ""),
        user=_label(e.get("user_id"), ""),
        tenant=_label(e.get("tenant_id"), ""),
        outcome=_label(outcome, "ok"),
        errors=int(errors) if isinstance(errors, int) else int(failed_run),
    )
    if name == "trace.end" or lone:
        request.input_tokens = _tokens(e.get("usage"), "input_tokens")
        request.output_tokens = _tokens(e.get("usage"), "output_tokens")
        request.cost = _number(_dict(e.get("cost")).get("total"))
    return request


class _Totals:
    """Every request read, exactly, sampled rows or not."""

    def __init__(self) -> None:
        self.requests = 0
        self.failed = 0
        self.input_tokens = 0
        self.output_tokens = 0
        self.cost = 0.0
        self.priced = 0
        self.latency = Histogram()
        self.first_ms: float | None = None
        self.last_ms: float | None = None

    def add(self, r: _Request) -> None:
        self.requests += 1
        self.failed += r.failed
        self.input_tokens += r.input_tokens
        self.output_tokens += r.output_tokens
        if r.cost is not None:
            self.cost += r.cost
            self.priced += 1
        if r.duration_ms is not None:
            self.latency.add(r.duration_ms)
        if r.start_ms is not None:
            self.first_ms = r.start_ms if self.first_ms is None else min(self.first_ms, r.start_ms)
            self.last_ms = r.start_ms if self.last_ms is None else max(self.last_ms, r.start_ms)

    def row(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "failed": self.failed,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost_usd": round(self.cost, 10) if self.priced else None,
            **self.latency.percentiles(),
            "first_ms": self.first_ms,
            "last_ms": self.last_ms,
        }


class _Top:
    """The `n` requests with the largest key, and the latest `n` failed ones."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.slowest: list[tuple[float, int, str, str]] = []
        self.costliest: list[tuple[float, int, str, str]] = []
        self.failed: deque[tuple[str, str]] = deque(maxlen=n)
        self.seen = 0

    def add(self, r: _Request) -> None:
        self.seen += 1
        for heap, value in ((self.slowest, r.duration_ms), (self.costliest, r.cost)):
            if value is not None:
                item = (value, -self.seen, r.trace_id, r.thread)
                if len(heap) < self.n:
                    heapq.heappush(heap, item)
                else:
                    heapq.heappushpop(heap, item)
        if r.failed:
            self.failed.append((r.trace_id, r.thread))

    def chosen(self) -> list[tuple[str, str]]:
        """(trace id, thread id) of every request shown in full, without repeats."""
        seen: dict[str, str] = {}
        for _, _, trace, thread in sorted(self.slowest, reverse=True) + sorted(self.costliest, reverse=True):
            seen.setdefault(trace, thread)
        for trace, thread in reversed(self.failed):
            seen.setdefault(trace, thread)
        return list(seen.items())


class _Scan:
    """Pass 1: request rows (with their model calls), exact totals and the top requests."""

    _PENDING = 10_000  # requests waiting for their trace.end, and requests open, at most

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.rows: list[_Request] = []
        self.totals = _Totals()
        self.top = _Top(limits.top)
        self.events = 0
        self.calls: dict[str, list[tuple[Any, ...]]] = {}  # model calls of requests still open
        self.pending: OrderedDict[str, _Request] = OrderedDict()  # ended, trace.end not read yet
        self._random = random.Random(0)  # the sample is the same for the same log

    def add(self, e: dict[str, Any]) -> None:
        self.events += 1
        name = e.get("event") or ""
        trace = str(e.get("trace_id") or e.get("run_id") or "?")
        if name == "trace.end":
            request = _request(e, lone=False)
            self.pending.pop(trace, None)
            self._final(request)
            return
        if not name.endswith((".end", ".error")):
            return
        is_model = name.startswith(_MODEL_RUNS)
        if is_model:
            self.calls.setdefault(trace, []).append(_call(e))
            if len(self.calls) > self._PENDING:  # a log whose requests' ends are left out
                del self.calls[next(iter(self.calls))]
        if e.get("depth") == 0 and not e.get("parent_run_id"):
            self.pending[trace] = _request(e, lone=is_model)
            if len(self.pending) > self._PENDING:
                self._final(self.pending.popitem(last=False)[1])

    def _final(self, r: _Request) -> None:
        r.calls = self.calls.pop(r.trace_id, [])
        self.totals.add(r)
        self.top.add(r)
        cap = self.limits.max_requests
        if len(self.rows) < cap:
            self.rows.append(r)
        else:  # a uniform sample of every request (Vitter's algorithm R)
            j = self._random.randrange(self.totals.requests)
            if j < cap:
                self.rows[j] = r

    def finish(self) -> None:
        while self.pending:
            self._final(self.pending.popitem(last=False)[1])
        self.calls.clear()  # model calls of requests whose end is not in the logs


def _call(e: dict[str, Any]) -> tuple[Any, ...]:
    """(model, duration ms, ttft ms, input tokens, output tokens, cost, failed) of a model call."""
    usage = e.get("usage")
    return (
        _label(e.get("model") or e.get("name"), "?"),
        _number(e.get("duration_ms")),
        _number(e.get("ttft_ms")),
        _tokens(usage, "input_tokens") if isinstance(usage, dict) else None,
        _tokens(usage, "output_tokens") if isinstance(usage, dict) else None,
        _number(_dict(e.get("cost")).get("total")),
        int(str(e.get("event")).endswith(".error")),
    )


class _Strings:
    """Each distinct string once; rows hold their numbers."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}

    def __call__(self, value: str) -> int:
        return self.index.setdefault(value, len(self.index))

    def values(self) -> list[str]:
        return list(self.index)


def _columns(rows: list[_Request]) -> tuple[dict[str, list[Any]], dict[str, list[Any]], list[str]]:
    """Requests and model calls as columns (what the page filters and charts), and their strings."""
    s = _Strings()
    rows = sorted(rows, key=lambda r: (r.start_ms is None, r.start_ms or 0.0))
    req: dict[str, list[Any]] = {
        k: []
        for k in (
            *("trace", "start", "dur", "name", "service", "thread", "user", "tenant", "outcome"),
            *("errors", "in", "out", "cost"),
        )
    }
    calls: dict[str, list[Any]] = {k: [] for k in ("req", "model", "dur", "ttft", "in", "out", "cost", "err")}
    for i, r in enumerate(rows):
        for key, value in (
            ("trace", r.trace_id),
            ("start", None if r.start_ms is None else round(r.start_ms, 3)),
            ("dur", r.duration_ms),
            ("name", s(r.name)),
            ("service", s(r.service)),
            ("thread", s(r.thread)),
            ("user", s(r.user)),
            ("tenant", s(r.tenant)),
            ("outcome", s(r.outcome)),
            ("errors", r.errors),
            ("in", r.input_tokens),
            ("out", r.output_tokens),
            ("cost", r.cost),
        ):
            req[key].append(value)
        for model, dur, ttft, tokens_in, tokens_out, cost, err in r.calls:
            for key, value in (
                ("req", i),
                ("model", s(model)),
                ("dur", dur),
                ("ttft", ttft),
                ("in", tokens_in),
                ("out", tokens_out),
                ("cost", cost),
                ("err", err),
            ):
                calls[key].append(value)
    return req, calls, s.values()


def _id_pattern(ids: Iterable[str]) -> re.Pattern[bytes] | None:
    """Any of the ids, as written in any layout (with or without dashes, either case)."""
    forms = set()
    for value in ids:
        if value:
            forms.add(value.encode())
            forms.add(value.replace("-", "").encode())
    if not forms:
        return None
    return re.compile(b"|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True)), re.I)


@dataclass
class _Kept:
    """Events kept in full for one request or conversation, up to its byte budget and what is
    left of the budget all of them share (`left`, one list for all)."""

    budget: int
    left: list[int]
    events: list[dict[str, Any]] = field(default_factory=list)
    size: int = 0
    cut: int = 0  # events past a budget, not kept

    def add(self, e: dict[str, Any], size: int) -> None:
        if self.size + size > self.budget or size > self.left[0]:
            self.cut += 1
        else:
            self.size += size
            self.left[0] -= size
            self.events.append(e)


def _same(value: Any, wanted: dict[str, str]) -> str | None:
    """The wanted id (as pass 1 wrote it) that `value` is, in any spelling."""
    if not isinstance(value, str) or not value:
        return None
    return wanted.get(value.replace("-", "").lower())


def _details(
    lines: Iterable[bytes], chosen: list[tuple[str, str]], limits: Limits
) -> tuple[dict[str, _Kept], dict[str, _Kept]]:
    """Pass 2: the events of the chosen requests and of their threads."""
    left = [limits.detail_bytes]
    traces = {t: _Kept(limits.request_bytes, left) for t, _ in chosen}
    threads: dict[str, _Kept] = {}
    for _, thread in chosen:
        if thread and thread not in threads and len(threads) < limits.threads:
            threads[thread] = _Kept(limits.thread_bytes, left)
    pattern = _id_pattern([*traces, *threads])
    if pattern is None:
        return traces, threads
    trace_ids = {t.replace("-", "").lower(): t for t in traces}
    for raw in lines:
        if pattern.search(raw) is None:
            continue
        e = parse(raw)
        if e is None:
            continue
        trace = _same(e.get("trace_id"), trace_ids)
        if trace is not None:
            traces[trace].add(e, len(raw))
        thread_id = e.get("thread_id")
        kept = threads.get(thread_id) if isinstance(thread_id, str) else None
        if kept is not None:  # a thread id is any string: matched as written
            kept.add(e, len(raw))
    return traces, threads


def _run_type(event: str) -> str:
    return event.rsplit(".", 1)[0]


def _runs(kept: _Kept) -> dict[str, Any]:
    """A request's run tree as the page draws it: each run's place in time, figures and events."""
    runs: dict[str, dict[str, Any]] = {}
    events = []
    for e in sorted(kept.events, key=lambda e: _epoch_ms(e.get("timestamp")) or 0.0):
        name = str(e.get("event") or "")
        at = _epoch_ms(e.get("timestamp"))
        events.append({k: v for k, v in e.items() if k not in ("service", "trace_id")})
        run_id = e.get("run_id")
        if name == "trace.end" or not isinstance(run_id, str):
            continue
        run = runs.setdefault(
            run_id,
            {
                "run_id": run_id,
                "parent": e.get("parent_run_id"),
                "depth": e.get("depth") if isinstance(e.get("depth"), int) else 0,
                "type": _run_type(name),
                "name": e.get("name"),
                "events": [],
            },
        )
        run["events"].append(len(events) - 1)
        for key in ("node", "step", "model"):
            if e.get(key) is not None:
                run[key] = e[key]
        if name.endswith(".start") and at is not None:
            run["start"] = at
        if name.endswith((".end", ".error")):
            run["outcome"] = e.get("outcome") or ("error" if name.endswith(".error") else "ok")
            duration = _number(e.get("duration_ms"))
            run["dur"] = duration
            if at is not None and duration is not None:
                run["start"] = at - duration  # the end's own clock: a start line may be left out
            run["ttft"] = _number(e.get("ttft_ms"))
            if isinstance(e.get("usage"), dict):
                run["in"] = _tokens(e["usage"], "input_tokens")
                run["out"] = _tokens(e["usage"], "output_tokens")
            run["cost"] = _number(_dict(e.get("cost")).get("total"))
            if isinstance(e.get("error"), dict):
                run["error"] = e["error"]
    ordered = _waterfall_order(list(runs.values()))
    starts = [r["start"] for r in ordered if isinstance(r.get("start"), float)]
    origin = min(starts) if starts else 0.0
    for r in ordered:
        if isinstance(r.get("start"), float):
            r["offset"] = round(r.pop("start") - origin, 3)
    return {"runs": ordered, "events": events, "cut": kept.cut}


def _waterfall_order(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Runs in the order they started, a parent before the children that started with it."""
    return sorted(runs, key=lambda r: (r.get("start") is None, r.get("start") or 0.0, r["depth"]))


def _conversation(thread: str, kept: _Kept) -> dict[str, Any]:
    conversation = conversation_of(thread, kept.events).as_json()
    return {**conversation, "cut": kept.cut}


def _read(streams: Iterable[tuple[str, IO[bytes]]], spool: IO[bytes] | None) -> Iterator[bytes]:
    """Lines of every stream; stdin's are copied to `spool` too, for the second pass."""
    for name, stream in streams:
        for raw in stream:
            if spool is not None and name == "<stdin>":
                spool.write(raw)
            yield raw


def build_report(paths: list[str], limits: Limits | None = None) -> dict[str, Any]:
    """The page's data for the logs at `paths` (`-` or none: stdin; gzip-rotated files too)."""
    limits = limits or Limits()
    scan = _Scan(limits)
    skipped = 0
    with tempfile.TemporaryFile() as spool:
        for raw in _read(open_inputs(paths), spool):
            e = parse(raw)
            if e is None:
                skipped += bool(raw.strip())
            else:
                scan.add(e)
        scan.finish()
        chosen = scan.top.chosen()
        spool.seek(0)
        traces, threads = _details(_again(paths, spool), chosen, limits)
    requests, calls, strings = _columns(scan.rows)
    return {
        "meta": {
            "events": scan.events,
            "skipped_lines": skipped,
            "requests": scan.totals.requests,
            "rows": len(scan.rows),
            "sampled": scan.totals.requests > len(scan.rows),
            "limits": asdict(limits),
        },
        "totals": scan.totals.row(),
        "strings": strings,
        "requests": requests,
        "calls": calls,
        "details": {trace: _runs(kept) for trace, kept in traces.items()},
        "threads": {thread: _conversation(thread, kept) for thread, kept in threads.items() if kept.events},
    }


def _again(paths: list[str], spool: IO[bytes]) -> Iterator[bytes]:
    """The same lines a second time: the files reopened, stdin's from its spool."""
    files = [p for p in paths if p != "-"]
    if files:
        for _, stream in open_inputs(files):
            yield from stream
    if len(files) < len(paths) or not paths:
        yield from spool
