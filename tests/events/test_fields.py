"""The event vocabulary: every field lclog writes is declared once, and every layout carries it."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from langchain_core.callbacks.manager import dispatch_custom_event
from langchain_core.runnables import RunnableLambda
from langgraph.types import Command

from lclog import LoggingCallbackHandler
from lclog.cli.demo import run_demo
from lclog.events import fields
from lclog.outputs import MemoryOutput
from lclog.testing import capture
from tests.capture.test_handler import FlakyLLM
from tests.integrations.test_langgraph import approval_graph


def _workloads(handler: Any) -> None:
    """Every kind of run and point event: the demo's chain, stream, retriever and agent (with a
    failing tool), a retry, a custom event, a LangGraph interrupt and resume."""
    run_demo([handler], say=lambda _: None)
    config = {"callbacks": [handler]}
    FlakyLLM().invoke("ping", config=config)  # fails once, reports the retry through LangChain

    def announce(x: int) -> int:
        dispatch_custom_event("progress", {"done": x})
        return x

    RunnableLambda(announce).invoke(3, config)
    graph = approval_graph()
    thread = {**config, "configurable": {"thread_id": str(uuid.uuid4())}}
    graph.invoke({"request": "refund", "approved": ""}, config=thread)
    graph.invoke(Command(resume="yes"), config=thread)


def _events(**config: Any) -> list[dict[str, Any]]:
    with capture(config, stream_tokens=True, include_stacktrace=True, verbosity="full") as events:
        _workloads(events.handler)
    assert events, "no events"
    return list(events)


def test_every_field_lclog_writes_is_declared():
    events = _events()
    written = {key for event in events for key in event}
    assert written - set(fields.BY_NAME) == set(), "declare these in lclog/events/fields.py"
    # The workloads reach the fields that layouts used to lose.
    assert {"node", "step", "usage_source", "interrupts", "custom_event", "attempt"} <= written


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, inner in value.items():
            out.update(_flatten(inner, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: value}


def _unpack(schema: str, event: dict[str, Any]) -> dict[str, Any]:
    """A laid-out event as flat `a.b` keys, with lclog's event name and run id."""
    if schema == "ecs":
        return {**_flatten(event), "_key": (event["event"]["action"], event["lclog"].get("run_id"))}
    attributes = event["attributes"]
    return {**_flatten(attributes), "_key": (event["event_name"], attributes.get("lclog.run_id"))}


@pytest.mark.parametrize("schema", ["ecs", "otel"])
def test_every_lclog_field_reaches_the_ecs_and_otel_layouts(schema):
    plain: dict[tuple[str, str], list[dict[str, Any]]] = {}

    def before_layout(logger: Any, method: str, event: dict[str, Any]) -> dict[str, Any]:
        # Your processors run before the layout: this one sees the event as lclog built it.
        plain.setdefault((event["event"], event["run_id"]), []).append(dict(event))
        return event

    memory = MemoryOutput()
    handler = LoggingCallbackHandler(
        {"verbosity": "full", "schema": schema}, outputs=[memory], processors=[before_layout]
    )
    _workloads(handler)
    handler.close()
    shaped: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for event in memory.events:
        flat = _unpack(schema, event)
        shaped.setdefault(flat["_key"], []).append(flat)
    assert shaped.keys() == plain.keys()
    carried = 0
    for key, events in plain.items():
        for before, after in zip(events, shaped[key], strict=True):  # one run's events keep their order
            for name in (*fields.LCLOG, *fields.LCLOG_JSON):
                if before.get(name) is not None:
                    nested = any(k.startswith(f"lclog.{name}.") for k in after)  # an object, flattened
                    assert f"lclog.{name}" in after or nested, f"{schema} lost {name} of {key[0]}"
                    carried += 1
    assert carried > 100
    for name in ("node", "step", "usage_source", "attempt", "interrupts"):
        assert any(f"lclog.{name}" in flat for runs in shaped.values() for flat in runs), name


def test_derived_lists_follow_the_declarations():
    assert {"inputs", "outputs", "metadata", "interrupts"} <= fields.CONTENT
    assert not fields.CONTENT & fields.TRUSTED
    assert "error" not in fields.TRUSTED | fields.CONTENT  # error text is redacted by the pipeline pass
    assert set(fields.MINIMAL) <= fields.TRUSTED  # the fallback event never carries content
    assert fields.BULKY[0] == "inputs" and "service" not in fields.PER_EVENT
