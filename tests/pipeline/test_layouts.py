"""ECS and OpenTelemetry layouts, checked against their rules on events from real runs."""

from __future__ import annotations

import re
from typing import Any

import pytest
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda

from lclog import LoggingCallbackHandler
from lclog.outputs import MemoryOutput
from lclog.pipeline.layouts import MAX_LABELS

USAGE = {"input_tokens": 12, "output_tokens": 4, "total_tokens": 16}


def run_workload(schema: str, **config: Any) -> list[dict[str, Any]]:
    memory = MemoryOutput()
    handler = LoggingCallbackHandler({"schema": schema, **config}, outputs=[memory])
    model = GenericFakeChatModel(
        messages=iter(
            [AIMessage(content="hi", usage_metadata=USAGE, response_metadata={"model_name": "gpt-t"})]
        )
    )
    chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | model
    metadata = {"team": "u1"} | {f"key.{i}*x": {"nested": i} for i in range(200)}
    chain.invoke(
        {"q": "mail bob@corp.io"}, config={"callbacks": [handler], "metadata": metadata, "tags": ["t1"]}
    )

    def boom(x: Any) -> Any:
        raise ValueError("bad input password=hunter2hunter2")

    with pytest.raises(ValueError):
        RunnableLambda(boom).invoke(1, config={"callbacks": [handler]})
    handler.close()
    return memory.events


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(value, dict):
        for k, v in value.items():
            out.update(flatten(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: value}


def test_ecs_events_follow_the_ecs_logging_rules():
    events = run_workload("ecs")
    assert events
    for e in events:
        assert list(e)[:4] == ["@timestamp", "log.level", "message", "ecs.version"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", e["@timestamp"])
        assert e["service"]["name"] == "langchain"
        assert re.fullmatch(r"[0-9a-f]{32}", e["trace"]["id"]) and re.fullmatch(
            r"[0-9a-f]{16}", e["span"]["id"]
        )
        flat = flatten(e)
        keys = set(flat)
        # No key is both a value and a parent (`error` and `error.type`).
        assert not any(k.startswith(other + ".") for k in keys for other in keys)
        assert len(keys) < 120  # 200 metadata keys do not become 200 fields
        for key, value in e.get("labels", {}).items():
            assert not re.search(r"[.*\\\\]", key) and isinstance(value, str)
        assert len(e.get("labels", {})) <= MAX_LABELS + 1
    end = next(e for e in events if e["event"]["action"] == "chat_model.end")
    assert isinstance(end["event"]["duration"], int) and end["event"]["duration"] > 0
    assert end["event"]["outcome"] == "success"
    assert end["gen_ai"]["usage"] == {"input_tokens": 12, "output_tokens": 4}
    assert end["gen_ai"]["response"]["model"] == "gpt-t"
    assert end["gen_ai"]["operation"]["name"] == "chat"
    # messages are objects (ECS types them `flattened`), in the GenAI conventions' shape
    assert end["gen_ai"]["output"]["messages"] == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "hi"}],
            "id": f"lc_run--{end['lclog']['run_id']}-0",
        }
    ]
    start = next(e for e in events if e["event"]["action"] == "chat_model.start")
    assert start["gen_ai"]["input"]["messages"] == [
        {"role": "user", "parts": [{"type": "text", "content": "mail [REDACTED:email]"}]}
    ]
    # a fake model's provider is none the conventions name: lclog keeps it
    assert "provider" not in start["gen_ai"] and start["lclog"]["provider"] == "genericfakechatmodel"
    assert start["tags"] == ["seq:step:2", "t1"] and start["labels"]["team"] == "u1"
    err = next(e for e in events if e["event"]["action"] == "chain.error")
    assert err["log.level"] == "error" and err["event"]["outcome"] == "failure"
    assert err["error"]["type"] == "ValueError" and "hunter2hunter2" not in err["error"]["message"]


def test_otel_layout_uses_genai_semantic_convention_names():
    events = run_workload("otel")
    end = next(e for e in events if e["event_name"] == "chat_model.end")
    attrs = end["attributes"]
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.response.model"] == "gpt-t"
    assert attrs["gen_ai.usage.input_tokens"] == 12 and attrs["gen_ai.usage.output_tokens"] == 4
    assert "gen_ai.provider.name" not in attrs and attrs["lclog.provider"] == "genericfakechatmodel"
    assert attrs["gen_ai.output.messages"][0]["parts"] == [{"type": "text", "content": "hi"}]
    assert end["severity_text"] == "INFO" and end["severity_number"] == 9
    assert re.fullmatch(r"[0-9a-f]{32}", end["trace_id"]) and re.fullmatch(r"[0-9a-f]{16}", end["span_id"])
    assert end["resource"] == {"service.name": "langchain"}
    err = next(e for e in events if e["event_name"] == "chain.error")
    assert "gen_ai.operation.name" not in err["attributes"]  # a chain is no GenAI operation
    assert err["severity_number"] == 17 and err["attributes"]["error.type"] == "ValueError"


@pytest.mark.parametrize("schema", ["ecs", "otel"])
def test_lclog_fields_are_read_from_each_event_not_from_an_earlier_one_of_its_shape(schema):
    # A root's and a child's chain.start have the same fields; only the child has a parent.
    memory = MemoryOutput()
    handler = LoggingCallbackHandler({"verbosity": "full", "schema": schema}, outputs=[memory])
    model = GenericFakeChatModel(messages=iter([AIMessage(content="a"), AIMessage(content="b")]))
    for temperature in (0.5, 0.25):
        chain = RunnableLambda(lambda x: x) | model.bind(temperature=temperature)
        chain.invoke("hi", config={"callbacks": [handler]})
    handler.close()

    def lclog(event: dict[str, Any]) -> dict[str, Any]:
        if schema == "ecs":
            return event["lclog"]
        return {k[len("lclog.") :]: v for k, v in event["attributes"].items() if k.startswith("lclog.")}

    def action(event: dict[str, Any]) -> str:
        return event["event_name"] if schema == "otel" else event["event"]["action"]

    starts = [lclog(e) for e in memory.events if action(e) == "chain.start"]
    assert len(starts) == 4
    roots = [s for s in starts if "parent_run_id" not in s]
    children = [s for s in starts if "parent_run_id" in s]
    assert len(roots) == 2 and len(children) == 2
    assert {c["parent_run_id"] for c in children} == {r["run_id"] for r in roots}
    # Structured content of lclog's own is JSON text in both layouts, each event its own.
    params = [lclog(e)["params"] for e in memory.events if "params" in lclog(e)]
    assert params == ['{"temperature":0.5}', '{"temperature":0.25}']


@pytest.mark.parametrize("schema", ["ecs", "otel"])
def test_each_layout_reads_back_what_it_wrote(schema: str):
    """The slots of events/slots.py are the one definition of each layout, both ways: lclog's
    envelope fields, its own fields and the content come back from a laid-out event."""
    from lclog.cli.demo import run_demo
    from lclog.pipeline.layouts import normalize, to_ecs, to_otel
    from lclog.testing import capture

    with capture(verbosity="full") as events:
        run_demo([events.handler], say=lambda text: None)
    layout = to_ecs if schema == "ecs" else to_otel
    assert len(events) > 100
    for event in events:
        back = normalize(layout(event))
        assert back is not None
        for key in ("level", "event", "service", "run_id", "depth", "name", "outcome", "error", "thread_id"):
            assert back.get(key) == event.get(key), (key, event["event"])
        assert back["trace_id"] == event["trace_id"].replace("-", "")
        if event.get("duration_ms") is not None:
            assert back["duration_ms"] == pytest.approx(event["duration_ms"], abs=1e-6)
        stamp = back["timestamp"]
        assert stamp == (event["timestamp"][:23] + "Z" if schema == "ecs" else event["timestamp"])
        if event["event"].startswith("chat_model.") and "outputs" in event:
            assert back["outputs"]["content"] == event["outputs"]["content"]


def test_ecs_durations_in_nanoseconds_are_exact_for_every_microsecond():
    from lclog.events.slots import _nanoseconds

    # every duration lclog writes is whole microseconds, in ms (events/build.py): each must come
    # out as that many microseconds in ns, not one ns short
    for micros in range(0, 20_000_000, 997):
        ms = micros / 1000
        assert _nanoseconds({"duration_ms": ms}) == micros * 1000, ms
