"""Operator tools: `lclog pretty`, `lclog stats`, the Grafana dashboard and Kibana objects."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from lclog.cli.summary import Histogram, LogSummary
from lclog.pipeline.layouts import to_ecs

ROOT = Path(__file__).resolve().parents[2]


def lclog(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "lclog", *args], input=stdin, capture_output=True, timeout=120
    )


@pytest.fixture(scope="module")
def demo_lines() -> bytes:
    proc = lclog("demo", "--format", "json")
    assert proc.returncode == 0
    return proc.stdout


def test_pretty_renders_trees_and_passes_other_lines_through(demo_lines):
    out = lclog("pretty", "--no-color", stdin=b"not json\n" + demo_lines + b"{broken\n").stdout.decode()
    lines = out.splitlines()
    assert lines[0] == "not json" and lines[-1] == "{broken"
    assert sum(line.startswith("── trace ") for line in lines) >= 4
    (tool_error,) = [line for line in lines if "tool.error" in line]
    assert "lookup_order" in tool_error and "ConnectionError" in tool_error
    assert tool_error.index("tool.error") > 16  # indented under the agent and its tools node
    model_end = next(line for line in lines if "chat_model.end" in line)
    assert "tokens=31→9" in model_end and re.search(r"\d+\.\dms", model_end)


def test_pretty_reads_the_ecs_layout_too(demo_lines, tmp_path):
    ecs = b"".join(orjson.dumps(to_ecs(orjson.loads(line))) + b"\n" for line in demo_lines.splitlines())
    path = tmp_path / "ecs.jsonl"
    path.write_bytes(ecs)
    out = lclog("pretty", "--no-color", str(path)).stdout.decode()
    assert "tool.error" in out and "lookup_order" in out and "tokens=31→9" in out


def test_stats_table_and_json(demo_lines, tmp_path):
    path = tmp_path / "demo.jsonl"
    path.write_bytes(demo_lines * 3)
    rows = json.loads(lclog("stats", "--json", str(path)).stdout)
    assert rows["tool lookup_order"]["calls"] == 3 and rows["tool lookup_order"]["error_rate"] == 1.0
    ends = [orjson.loads(line) for line in demo_lines.splitlines()]
    fake = [e for e in ends if e["event"] == "chat_model.end" and e["name"] == "FakeToolChatModel"]
    # the agent's three calls (42 + 60 + 85) and the conversation's six (100 each)
    assert sum(e["usage"]["input_tokens"] for e in fake) == 187 + 600
    assert rows["chat_model FakeToolChatModel"]["input_tokens"] == 3 * 787
    assert rows["chat_model GenericFakeChatModel"]["ttft_p50_ms"] is not None
    table = lclog("stats", str(path)).stdout.decode()
    assert table.splitlines()[0].split()[:4] == ["group", "calls", "errors", "err%"]
    by_type = json.loads(lclog("stats", "--json", "--by", "type", str(path)).stdout)
    assert set(by_type) == {"chain", "chat_model", "retriever", "tool"}


def test_percentiles_are_within_two_percent():
    h = Histogram()
    for v in range(1, 10_001):
        h.add(float(v))
    for q, exact in ((0.5, 5000), (0.95, 9500), (0.99, 9900)):
        assert abs(h.quantile(q) - exact) / exact < 0.02
    stats = LogSummary()
    for i in range(100_000):  # memory grows with groups, not events
        stats.add({"event": "tool.end", "name": f"t{i % 3}", "duration_ms": i % 50})
    assert len(stats.groups) == 3 and all(len(g.latency.counts) < 300 for g in stats.groups.values())


DASHBOARD = ROOT / "config" / "grafana" / "lclog-dashboard.json"


def logql_fields(expr: str) -> set[str]:
    """Fields a LogQL query reads after `| json`: label filters, unwrap, by/without groupings."""
    after = expr.split("| json", 1)[1] if "| json" in expr else ""
    fields = set(re.findall(r"\|\s*([a-z_][a-z0-9_]*)\s*(?:=~|!=|!~|=|>|<)", after))
    fields |= set(re.findall(r"unwrap\s+([a-z_][a-z0-9_]*)", expr))
    for group in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", expr):
        fields |= {g.strip() for g in group.split(",") if g.strip()}
    return fields


def logql_flatten(value: Any, prefix: str = "") -> set[str]:
    """The field names LogQL's json parser gives an event: nested keys joined with `_`."""
    if isinstance(value, dict):
        out: set[str] = set()
        for k, v in value.items():
            out |= logql_flatten(v, f"{prefix}{k}_")
        return out | ({prefix[:-1]} if prefix else set())
    return {prefix[:-1]}


def priced_call(**config: Any) -> list[dict[str, Any]]:
    """The events of a request for a user and a tenant making a model call that names its model
    and reports usage, as real ones do (its trace.end too)."""
    from langchain_core.language_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage
    from langchain_core.runnables import RunnableLambda

    from lclog.testing import capture

    usage = {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}
    reply = AIMessage(content="x", usage_metadata=usage, response_metadata={"model_name": "gpt-4o-mini"})
    model = GenericFakeChatModel(messages=iter([reply]))
    request = RunnableLambda(lambda x, config: model.invoke(x, config=config).content, name="request")
    with capture(**config) as events:
        metadata = {"user_id": "u-1", "tenant_id": "acme"}
        request.invoke("hi", config={"callbacks": [events.handler], "metadata": metadata})
    return list(events)


def test_grafana_dashboard_queries_read_only_fields_lclog_writes(demo_lines):
    dashboard = json.loads(DASHBOARD.read_text())
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    assert variables >= {"datasource", "service", "trace_id", "user_budget"}
    written = set().union(*(logql_flatten(orjson.loads(line)) for line in demo_lines.splitlines()))
    written |= set().union(*(logql_flatten(e) for e in priced_call()))  # the demo's fake models have no price
    labels = {"service"}  # the stream label config/loki.yaml and the Promtail/Alloy snippets set
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert len(exprs) >= 6
    for panel in dashboard["panels"]:
        assert panel["datasource"] == {"type": "loki", "uid": "${datasource}"}
    for expr in exprs:
        assert expr.count("(") == expr.count(")") and expr.count("{") == expr.count("}")
        assert re.search(r'\{service=~"\$service"\}', expr), expr
        selector_labels = set(re.findall(r"\{([a-z_]+)=", expr))
        assert selector_labels <= labels
        assert "| json" in expr
        assert logql_fields(expr) <= written, (expr, logql_fields(expr) - written)
    titles = " ".join(p["title"] for p in dashboard["panels"]).lower()
    for wanted in ("calls per minute", "latency", "tokens", "error rate", "failing tools", "trace", "cost"):
        assert wanted in titles
    assert "by tenant" in titles and "over budget" in titles


def test_kibana_saved_objects_use_ecs_fields(demo_lines):
    lines = (ROOT / "config" / "kibana" / "lclog-saved-objects.ndjson").read_text().splitlines()
    objects = [json.loads(line) for line in lines]
    assert [o["type"] for o in objects] == ["index-pattern", "search", "search"]
    assert objects[0]["attributes"]["timeFieldName"] == "@timestamp"
    ecs = [to_ecs(orjson.loads(line)) for line in demo_lines.splitlines()]

    ecs += priced_call(schema="ecs")

    def has(event: dict[str, Any], dotted: str) -> bool:
        if dotted in event:
            return True
        node: Any = event
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
        return True

    for search in objects[1:]:
        for column in search["attributes"]["columns"]:
            assert any(has(e, column) for e in ecs), column
    source = json.loads(objects[1]["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
    assert source["query"]["query"] == 'event.dataset : "lclog.langchain"'
    # spend per request: the trace.end lines, with whom they were for
    spend = json.loads(objects[2]["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
    assert spend["query"]["query"] == 'event.dataset : "lclog.langchain" and event.action : "trace.end"'
    (end,) = [
        e for e in ecs if e["event"]["action"] == "trace.end" and "lclog" in e and "tenant_id" in e["lclog"]
    ]
    assert all(has(end, column) for column in objects[2]["attributes"]["columns"])

    assert all(e["event"]["dataset"] == "lclog.langchain" for e in ecs)


def test_pretty_follow_shows_lines_appended_later(demo_lines, tmp_path):
    import os
    import select
    import time

    path = tmp_path / "live.jsonl"
    lines = demo_lines.splitlines(keepends=True)
    path.write_bytes(lines[0])
    proc = subprocess.Popen(
        [sys.executable, "-m", "lclog", "pretty", "--follow", "--no-color", str(path)],
        stdout=subprocess.PIPE,
    )
    try:
        time.sleep(1.0)
        with path.open("ab") as f:
            f.write(lines[1])
        first, second = (orjson.loads(line)["event"].encode() for line in lines[:2])
        deadline = time.time() + 20
        seen = b""
        fd = proc.stdout.fileno()
        while time.time() < deadline and second not in seen.split(first, 1)[-1]:
            if select.select([fd], [], [], 0.5)[0]:  # never blocks past the deadline
                seen += os.read(fd, 65536)
        assert first in seen and second in seen.split(first, 1)[-1]
    finally:
        proc.kill()
        proc.wait()


def test_unknown_usage_is_shown_as_unknown_not_zero():
    ends = [
        {"event": "chain.end", "name": "pipe", "duration_ms": 2.0},
        {"event": "chat_model.end", "name": "M", "model": "m", "duration_ms": 5.0, "usage": None},
        {"event": "chat_model.end", "name": "M", "model": "m", "duration_ms": 6.0,
         "usage": {"input_tokens": 7, "output_tokens": 2}},
    ]  # fmt: skip
    summary = LogSummary().add_all(ends)
    rows = summary.rows()
    assert rows["chain pipe"]["input_tokens"] is None and rows["chain pipe"]["calls_with_usage"] == 0
    assert rows["chat_model m"]["input_tokens"] == 7 and rows["chat_model m"]["calls_with_usage"] == 1
    chain_line = next(line for line in summary.table().splitlines() if line.startswith("chain pipe"))
    assert chain_line.split()[-2:] == ["-", "-"]


def test_stats_help_says_what_by_groups_and_its_default():
    from lclog.cli.main import _parser

    stats = _parser()._subparsers._group_actions[0].choices["stats"]  # type: ignore[union-attr]
    text = stats.format_help()
    assert "default: model" in text and "LangGraph node" in text
