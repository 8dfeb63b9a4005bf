"""Every field the `ecs` and `otel` layouts write, held to the specifications themselves: Elastic's
ECS field definitions and OpenTelemetry's GenAI semantic conventions (tests/data/specs)."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
import yaml
from langchain_core.language_models import FakeListLLM, GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.types import Command

from lclog.cli.conversation import conversation_agent, question
from lclog.cli.demo import run_demo
from lclog.pipeline.layouts import ECS_VERSION
from lclog.testing import capture
from tests.capture.test_handler import FlakyLLM
from tests.integrations.test_langgraph import approval_graph

SPECS = Path(__file__).resolve().parent.parent / "data" / "specs"
ECS = yaml.safe_load((SPECS / "ecs_fields.yml").read_text())
OTEL = yaml.safe_load((SPECS / "otel_attributes.yml").read_text())["attributes"]
ECS_FIELDS: dict[str, dict[str, Any]] = ECS["fields"]
# Namespaces that are lclog's own (ECS: custom fields go in a namespace of their own).
OWN = ("lclog", "parent")
ROLES = {"system", "user", "assistant", "tool"}
PARTS = {"text", "tool_call", "tool_call_response"}

pytest.importorskip("langgraph")


class OpenAIShaped(GenericFakeChatModel):
    """A fake chat model LangChain reports as OpenAI's (`ls_provider`), as ChatOpenAI does."""

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> Any:
        return {**super()._get_ls_params(stop=stop, **kwargs), "ls_provider": "openai"}


def workload(handler: Any) -> None:
    """Chains, a stream, a retriever, an agent with a failing tool (the demo), a conversation on a
    thread, a text-completion model, and a chat model from a named provider with cache and
    reasoning tokens."""
    run_demo([handler], say=lambda text: None)
    graph = conversation_agent(size=60)
    for turn in (1, 2):
        graph.invoke(
            {"messages": [HumanMessage(question(turn, 60))]},
            config={"configurable": {"thread_id": "t-1"}, "callbacks": [handler]},
        )
    FakeListLLM(responses=["a completion"]).invoke("complete this", config={"callbacks": [handler]})
    usage = {
        "input_tokens": 120,
        "output_tokens": 40,
        "total_tokens": 160,
        "input_token_details": {"cache_read": 100, "cache_creation": 10},
        "output_token_details": {"reasoning": 25},
    }
    model = OpenAIShaped(
        messages=itertools.cycle(
            [
                AIMessage(
                    "done",
                    usage_metadata=usage,
                    response_metadata={"model_name": "gpt-x", "finish_reason": "stop"},
                )
            ]
        )
    )
    model.invoke("hi", config={"callbacks": [handler]})
    # an LLM call retried once, and a graph paused for approval then resumed
    FlakyLLM().invoke("ping", config={"callbacks": [handler]})
    approval = approval_graph()
    config = {"callbacks": [handler], "configurable": {"thread_id": "t-2"}}
    approval.invoke({"request": "refund", "approved": ""}, config=config)
    approval.invoke(Command(resume="yes"), config=config)


def events_of(schema: str) -> list[dict[str, Any]]:
    """The workload's events in a layout, checked to hold every kind the issue lists."""
    with capture(schema=schema, include_stacktrace=True, verbosity="full") as events:
        workload(events.handler)
    assert len(events) > 100
    key = "event_name" if schema == "otel" else None
    names = {e[key] if key else e["event"]["action"] for e in events}
    assert {"retry", "chain.interrupt", "chain.resume", "tool.error", "retriever.end", "llm.end"} <= names
    return list(events)


def ecs_type_holds(kind: str, value: Any, field: dict[str, Any]) -> bool:
    if "array" in field.get("normalize", []) and isinstance(value, list):
        return all(ecs_type_holds(kind, v, {}) for v in value)
    if kind in ("keyword", "constant_keyword", "wildcard", "match_only_text", "text", "date", "ip"):
        return isinstance(value, str)
    if kind in ("long", "integer", "short", "byte", "unsigned_long"):
        return isinstance(value, int) and not isinstance(value, bool)
    if kind in ("double", "float", "half_float", "scaled_float"):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "flattened":
        return isinstance(value, dict) or (
            isinstance(value, list) and all(isinstance(v, dict) for v in value)
        )
    if kind == "object":
        return isinstance(value, dict)
    if kind == "nested":
        return isinstance(value, list) and all(isinstance(v, dict) for v in value)
    return False


def otel_type_holds(spec: dict[str, Any], value: Any) -> bool:
    kind = spec["type"]
    if kind in ("string", "enum"):
        return isinstance(value, str) and (kind == "string" or value in spec["members"])
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "double":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "string[]":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    return kind == "any"


def ecs_leaves(value: Any, prefix: str = "") -> dict[str, Any]:
    """Field name -> value, stopping where a field takes a whole object (flattened, object,
    nested; OTel's `any`) or where lclog's own namespace starts."""
    name = prefix[:-1]
    if name.split(".")[0] in OWN:
        return {}
    whole = (
        ECS_FIELDS.get(name, {}).get("type") in ("flattened", "object", "nested")
        or OTEL.get(name, {}).get("type") == "any"
    )
    if isinstance(value, dict) and not whole:
        out: dict[str, Any] = {}
        for key, inner in value.items():
            out.update(ecs_leaves(inner, f"{prefix}{key}."))
        return out
    return {name: value}


def check_messages(messages: Any) -> None:
    assert isinstance(messages, list)
    for message in messages:
        assert message["role"] in ROLES, message
        for part in message["parts"]:
            assert part["type"] in PARTS or part["type"] not in ("", None), part


def test_the_ecs_layout_writes_only_fields_ecs_or_the_genai_conventions_define():
    assert ECS["version"] == ECS_VERSION
    borrowed: set[str] = set()
    for event in events_of("ecs"):
        assert event["ecs.version"] == ECS_VERSION
        for name, value in ecs_leaves(event).items():
            if (
                name == "ecs.version" or name == "log.level" or name in ECS_FIELDS
            ):  # dotted keys the ecs-logging spec asks for
                field = ECS_FIELDS[name]
            elif name.startswith("gen_ai.") and name in OTEL:
                # A GenAI convention ECS has not adopted yet: written under its OTel name.
                borrowed.add(name)
                assert otel_type_holds(OTEL[name], value), (name, value)
                continue
            else:
                raise AssertionError(f"{name} is not an ECS field ({event['event']['action']})")
            assert ecs_type_holds(field["type"], value, field), (name, field["type"], value)
            if "allowed" in field:
                assert value in field["allowed"], (name, value)
        gen_ai = event.get("gen_ai", {})
        for side in ("input", "output"):
            if side in gen_ai:
                check_messages(gen_ai[side]["messages"])
    # what ECS lacks: cache and reasoning token counts, the conversation, the retrieval query
    assert borrowed == {
        "gen_ai.usage.cache_read.input_tokens",
        "gen_ai.usage.cache_creation.input_tokens",
        "gen_ai.usage.reasoning.output_tokens",
        "gen_ai.conversation.id",
        "gen_ai.retrieval.query.text",
    }


def test_the_otel_layout_writes_only_attributes_the_conventions_define():
    seen: set[str] = set()
    for record in events_of("otel"):
        assert set(record) == {"timestamp", "event_name", "severity_text", "severity_number", "body",
                               "trace_id", "span_id", "resource", "attributes"}  # fmt: skip
        assert record["severity_number"] in (5, 9, 13, 17)
        assert set(record["resource"]) == {"service.name"}
        for name, value in record["attributes"].items():
            if name.startswith("lclog."):
                continue
            assert name in OTEL, f"{name} is not a semantic-convention attribute"
            assert otel_type_holds(OTEL[name], value), (name, value)
            seen.add(name)
        attributes = record["attributes"]
        for name in ("gen_ai.input.messages", "gen_ai.output.messages"):
            if name in attributes:
                check_messages(attributes[name])
    assert {
        "gen_ai.operation.name",
        "gen_ai.provider.name",
        "gen_ai.usage.cache_read.input_tokens",
        "gen_ai.usage.reasoning.output_tokens",
        "gen_ai.response.finish_reasons",
        "gen_ai.tool.name",
        "gen_ai.tool.call.arguments",
        "gen_ai.tool.call.result",
        "gen_ai.retrieval.query.text",
        "gen_ai.conversation.id",
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "exception.stacktrace",
    } <= seen


@pytest.mark.parametrize("schema", ["ecs", "otel"])
def test_operations_providers_and_token_details(schema: str):
    events = events_of(schema)

    def gen_ai(event: dict[str, Any]) -> dict[str, Any]:
        if schema == "otel":
            return {k[7:]: v for k, v in event["attributes"].items() if k.startswith("gen_ai.")}
        return {
            ".".join(k.split(".")[1:]): v for k, v in ecs_leaves(event).items() if k.startswith("gen_ai.")
        }

    def action(event: dict[str, Any]) -> str:
        return event["event_name"] if schema == "otel" else event["event"]["action"]

    for event in events:
        run_type = action(event).split(".")[0]
        operation = gen_ai(event).get("operation.name")
        expected = {
            "chat_model": "chat",
            "llm": "text_completion",
            "tool": "execute_tool",
            "retriever": "retrieval",
        }
        assert operation == expected.get(run_type), (action(event), operation)
    openai = [e for e in events if gen_ai(e).get("provider.name") == "openai"]
    assert openai and {action(e) for e in openai} == {"chat_model.start", "chat_model.end"}
    (end,) = [e for e in openai if action(e) == "chat_model.end"]
    details = gen_ai(end)
    assert details["usage.input_tokens"] == 120 and details["usage.output_tokens"] == 40
    assert details["usage.cache_read.input_tokens"] == 100
    assert details["usage.cache_creation.input_tokens"] == 10
    assert details["usage.reasoning.output_tokens"] == 25
    assert details["output.messages"][0]["finish_reason"] == "stop"
