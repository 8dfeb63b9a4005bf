"""`lclog stats`: calls, errors, latency percentiles, tokens and cost per model, tool or chain."""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["GROUPINGS", "Coverage", "Histogram", "LogSummary", "TraceSummary"]

# Log-scale buckets 2% wide: percentiles within 2%, in bounded memory, whatever the log size.
_RATIO = math.log(1.02)


class Histogram:
    """Counts of values in 2%-wide log buckets; quantiles are read from the bucket edges."""

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.total = 0

    def add(self, value: float) -> None:
        bucket = -10_000 if value <= 0 else math.floor(math.log(value) / _RATIO)  # below 1 ms too
        self.counts[bucket] = self.counts.get(bucket, 0) + 1
        self.total += 1

    def quantile(self, q: float) -> float | None:
        if not self.total:
            return None
        rank = max(math.ceil(q * self.total) - 1, 0)  # nearest-rank percentile
        seen = 0
        for bucket in sorted(self.counts):
            seen += self.counts[bucket]
            if seen > rank:
                return 0.0 if bucket == -10_000 else math.exp((bucket + 0.5) * _RATIO)
        return None

    def ms(self, q: float) -> float | None:
        """The quantile as the tables print it: in ms, to 0.01."""
        v = self.quantile(q)
        return None if v is None else round(v, 2)

    def percentiles(self) -> dict[str, float | None]:
        return {"p50_ms": self.ms(0.50), "p95_ms": self.ms(0.95), "p99_ms": self.ms(0.99)}


@dataclass
class Group:
    calls: int = 0
    errors: int = 0
    input_tokens: int = 0
    cached_tokens: int = 0  # of the input, read from the provider's cache
    output_tokens: int = 0
    reasoning_tokens: int = 0  # of the output, spent reasoning
    with_usage: int = 0  # calls whose model reported usage: tokens are unknown, not 0, without
    cost: float = 0.0
    priced: int = 0  # calls with a cost: the cost is unknown, not 0, without
    latency: Histogram = field(default_factory=Histogram)
    ttft: Histogram = field(default_factory=Histogram)

    def add_usage(self, usage: Any, cost: Any) -> None:
        """Adds what a model call (or a whole request, from its trace.end) used and cost."""
        if isinstance(usage, dict):
            self.with_usage += 1
            self.input_tokens += int(usage.get("input_tokens") or 0)
            self.cached_tokens += int(usage.get("input_cache_read_tokens") or 0)
            self.output_tokens += int(usage.get("output_tokens") or 0)
            self.reasoning_tokens += int(usage.get("output_reasoning_tokens") or 0)
        if isinstance(cost, dict) and isinstance(cost.get("total"), (int, float)):
            self.priced += 1
            self.cost += cost["total"]

    def row(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "errors": self.errors,
            "error_rate": round(self.errors / self.calls, 4) if self.calls else 0.0,
            **self.latency.percentiles(),
            "ttft_p50_ms": self.ttft.ms(0.50),
            # null when no call reported usage (chains, tools, models that report none)
            "input_tokens": self.input_tokens if self.with_usage else None,
            "cached_tokens": self.cached_tokens if self.with_usage else None,
            "output_tokens": self.output_tokens if self.with_usage else None,
            "reasoning_tokens": self.reasoning_tokens if self.with_usage else None,
            "calls_with_usage": self.with_usage,
            # USD; null when no call was priced (see docs/events.md, "What each request cost")
            "cost_usd": round(self.cost, 10) if self.priced else None,
            "cost_per_call_usd": round(self.cost / self.priced, 10) if self.priced else None,
            "priced_calls": self.priced,
        }


def _key_model(e: dict[str, Any]) -> str:
    run_type = e["event"].split(".", 1)[0]
    if run_type in ("llm", "chat_model"):
        return f"{run_type} {e.get('model') or e.get('name') or '?'}"
    return f"{run_type} {e.get('name') or '?'}"


GROUPINGS = {
    "model": _key_model,  # models for LLM runs, names for tools, chains, retrievers
    "name": lambda e: f"{e['event'].split('.', 1)[0]} {e.get('name') or '?'}",
    "type": lambda e: e["event"].split(".", 1)[0],
    "service": lambda e: str(e.get("service") or "?"),
    "node": lambda e: str(e.get("node") or "-"),
    # who a request is for: every event of its trace carries them
    "user": lambda e: str(e.get("user_id") or "-"),
    "tenant": lambda e: str(e.get("tenant_id") or "-"),
    "thread": lambda e: str(e.get("thread_id") or "-"),
}
# Groupings of whole requests: alone (or together), they count requests, not runs.
REQUEST_GROUPINGS = frozenset({"user", "tenant", "thread"})
_MODEL_RUNS = ("llm.", "chat_model.")


def groupings(by: str) -> list[str]:
    """The groupings `--by` names, comma-separated (`user,model`); ValueError for an unknown one."""
    names = [name.strip() for name in by.split(",") if name.strip()]
    unknown = [name for name in names if name not in GROUPINGS]
    if unknown or not names:
        raise ValueError(f"--by {by}: choose from {', '.join(GROUPINGS)}, or several joined by commas")
    return names


_TOKENS = ("input_tokens", "cached_tokens", "output_tokens", "reasoning_tokens")


class LogSummary:
    """Aggregates end and error events; memory grows with the number of groups only.

    Grouped by run (model, name, type, service, node, or any of them with user, tenant or
    thread), a row counts runs. Grouped only by user, tenant or thread, a row counts requests:
    each request's outermost run (its end: latency, errors) and its model calls (tokens, cost),
    and a request whole-trace sampling dropped by its `trace.end`."""

    def __init__(self, by: str = "model") -> None:
        names = groupings(by)
        keys = [GROUPINGS[name] for name in names]
        self._key = keys[0] if len(keys) == 1 else lambda e: " / ".join(k(e) for k in keys)
        self.requests = set(names) <= REQUEST_GROUPINGS
        self.groups: dict[str, Group] = {}
        self.events = 0

    def add(self, e: dict[str, Any]) -> None:
        name = e.get("event") or ""
        if name == "trace.end":
            if self.requests and _dict(e.get("sampled")).get("kept") is False:
                self._request(e, _dict(e.get("errors")).get("count", 0) > 0, True)
            return  # a request's total: its runs are counted themselves
        if not (name.endswith(".end") or name.endswith(".error")):
            return
        if self.requests:
            if e.get("depth") == 0 and not e.get("parent_run_id"):
                self._request(e, name.endswith(".error"), name.startswith(_MODEL_RUNS))
            elif name.startswith(_MODEL_RUNS):
                self.groups.setdefault(self._key(e), Group()).add_usage(e.get("usage"), e.get("cost"))
            return
        self.events += 1
        group = self.groups.setdefault(self._key(e), Group())
        group.calls += 1
        if name.endswith(".error"):
            group.errors += 1
        self._timing(group, e)
        group.add_usage(e.get("usage"), e.get("cost"))

    def _request(self, e: dict[str, Any], failed: bool, usage: bool) -> None:
        """A request: its outermost run's end, or the trace.end of one sampled out; `usage`:
        the event holds the request's usage and cost too (a lone model call, a trace.end)."""
        self.events += 1
        group = self.groups.setdefault(self._key(e), Group())
        group.calls += 1
        group.errors += failed
        self._timing(group, e)
        if usage:
            group.add_usage(e.get("usage"), e.get("cost"))

    @staticmethod
    def _timing(group: Group, e: dict[str, Any]) -> None:
        if isinstance(e.get("duration_ms"), (int, float)):
            group.latency.add(e["duration_ms"])
        if isinstance(e.get("ttft_ms"), (int, float)):
            group.ttft.add(e["ttft_ms"])

    def add_all(self, events: Iterable[dict[str, Any]]) -> LogSummary:
        for e in events:
            self.add(e)
        return self

    def rows(self) -> dict[str, dict[str, Any]]:
        return {key: self.groups[key].row() for key in sorted(self.groups)}

    def table(self) -> str:
        rows = self.rows()
        header = [
            "group",
            "requests" if self.requests else "calls",
            "errors",
            "err%",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "ttft p50",
            "in tok",
            "cached",
            "out tok",
            "reasoning",
            "cost $",
            "$/call",
        ]
        lines = [header]
        for key, r in rows.items():
            lines.append(
                [key, str(r["calls"]), str(r["errors"]), f"{100 * r['error_rate']:.1f}"]
                + [_num(r[k]) for k in ("p50_ms", "p95_ms", "p99_ms", "ttft_p50_ms")]
                + [_count(r[k]) for k in _TOKENS]
                + [_money(r["cost_usd"]), _money(r["cost_per_call_usd"])]
            )
        widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
        return "\n".join(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(line, widths, strict=True))
            )
            for line in lines
        )


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _money(value: float | None) -> str:
    return "-" if value is None else f"{value:.6f}"


def _count(value: int | None) -> str:
    return "-" if value is None else str(value)


class TraceSummary:
    """`lclog stats --by trace`: the most expensive and the slowest requests (`trace.end` lines,
    and model calls made on their own), in bounded memory (the top `top` of each)."""

    def __init__(self, top: int = 20) -> None:
        self._top = top
        self._costly: list[tuple[float, int, dict[str, Any]]] = []
        self._slow: list[tuple[float, int, dict[str, Any]]] = []
        self._seen = 0
        self.events = 0

    def add(self, e: dict[str, Any]) -> None:
        name = e.get("event") or ""
        # A request is its trace.end, or a model call made on its own (a run without children,
        # which gets no trace.end): its end is the whole request.
        lone = name.startswith(_MODEL_RUNS) and e.get("depth") == 0 and not e.get("parent_run_id")
        if name != "trace.end" and not (lone and name.endswith((".end", ".error"))):
            return
        self.events += 1
        cost, usage, errors = (_dict(e.get(k)) for k in ("cost", "usage", "errors"))
        if lone:
            errors = {"count": int(name.endswith(".error"))}
        row = {
            "trace_id": e.get("trace_id"),
            "name": e.get("name"),
            "outcome": e.get("outcome"),
            "duration_ms": e.get("duration_ms"),
            "cost_usd": cost.get("total"),
            "input_tokens": usage.get("input_tokens"),
            "output_tokens": usage.get("output_tokens"),
            "errors": errors.get("count", 0),
        }
        self._seen += 1
        for heap, value in ((self._costly, row["cost_usd"]), (self._slow, row["duration_ms"])):
            if isinstance(value, (int, float)):
                item = (float(value), self._seen, row)
                if len(heap) < self._top:
                    heapq.heappush(heap, item)
                else:
                    heapq.heappushpop(heap, item)

    def rows(self) -> dict[str, list[dict[str, Any]]]:
        return {
            "most_expensive": [r for _, _, r in sorted(self._costly, key=lambda i: (-i[0], i[1]))],
            "slowest": [r for _, _, r in sorted(self._slow, key=lambda i: (-i[0], i[1]))],
        }

    def table(self) -> str:
        out = []
        for title, rows in self.rows().items():
            out.append(f"{title.replace('_', ' ')} ({len(rows)} of {self.events} requests)")
            out.append(
                f"  {'trace_id':<36}  {'name':<24} {'outcome':<11} {'ms':>10} {'cost $':>12} "
                f"{'in tok':>8} {'out tok':>8} {'err':>4}"
            )
            for r in rows:
                out.append(
                    f"  {r['trace_id']!s:<36}  {str(r['name'])[:24]:<24} {r['outcome']!s:<11} "
                    f"{_num(r['duration_ms']):>10} {_money(r['cost_usd']):>12} "
                    f"{_count(r['input_tokens']):>8} {_count(r['output_tokens']):>8} {r['errors']:>4}"
                )
        return "\n".join(out)


class Coverage:
    """What a log's `trace.end` lines say of every request, and how many a whole-trace `sampling`
    kept: the runs of the others are not in the log, so per-run rows cover the kept ones only."""

    def __init__(self) -> None:
        self.requests = 0
        self.kept = 0
        self.sampled = False  # some trace.end says its trace was dropped
        self.because: dict[str, int] = {}  # why the kept ones were kept
        self.failed = 0
        self.cost = 0.0
        self.priced = 0
        self.input_tokens = 0
        self.output_tokens = 0
        self.latency = Histogram()

    def add(self, e: dict[str, Any]) -> None:
        if e.get("event") != "trace.end":
            return
        self.requests += 1
        verdict = _dict(e.get("sampled"))
        if verdict.get("kept") is False:
            self.sampled = True
        else:
            self.kept += 1
            why = str(verdict.get("because") or "unsampled")
            self.because[why] = self.because.get(why, 0) + 1
        if e.get("outcome") == "error" or _dict(e.get("errors")).get("count"):
            self.failed += 1
        if isinstance(e.get("duration_ms"), (int, float)):
            self.latency.add(e["duration_ms"])
        cost, usage = _dict(e.get("cost")), _dict(e.get("usage"))
        if isinstance(cost.get("total"), (int, float)):
            self.priced += 1
            self.cost += cost["total"]
        self.input_tokens += int(usage.get("input_tokens") or 0)
        self.output_tokens += int(usage.get("output_tokens") or 0)

    def row(self) -> dict[str, Any]:
        """Every request, from its trace.end (exact, sampled or not), and the share kept."""
        return {
            "requests": self.requests,
            "kept_whole": self.kept,
            "kept_because": dict(sorted(self.because.items())),
            "failed": self.failed,
            **self.latency.percentiles(),
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost_usd": round(self.cost, 10) if self.priced else None,
        }

    def note(self) -> str:
        """What a sampled log's numbers cover, in words."""
        r = self.row()
        why = ", ".join(f"{k} {v}" for k, v in r["kept_because"].items())
        return (
            f"sampled log: {r['kept_whole']} of {r['requests']} requests kept whole ({why}); "
            "the rows count the kept requests' runs only\n"
            f"every request, from its trace.end: {r['requests']} requests, {r['failed']} failed, "
            f"p50 {_num(r['p50_ms'])} ms, p95 {_num(r['p95_ms'])} ms, p99 {_num(r['p99_ms'])} ms, "
            f"{r['input_tokens']} in tok, {r['output_tokens']} out tok, cost $ {_money(r['cost_usd'])}"
        )
