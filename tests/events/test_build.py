"""EventBuilder: what a capture becomes, as LangChain's own result objects describe the run."""

from __future__ import annotations

import asyncio
import time
import uuid

from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, Generation, LLMResult

from lclog.events.build import EventBuilder, control_flow
from lclog.events.captures import Failure, ModelEnd
from lclog.events.metrics import Metrics
from lclog.events.routing import Router
from lclog.events.runs import Run
from lclog.events.serialize import Limits
from lclog.events.usage import reported_by, usage_of


def builder() -> EventBuilder:
    return EventBuilder(
        service="svc",
        limits=Limits(8, 100, 4000),
        scrub=None,
        content=True,
        include_stacktrace=False,
        router=Router("full", {}, "debug"),
        metrics=Metrics(),
        alerts=None,
    )


def chat_result(**usage_metadata: object) -> LLMResult:
    message = AIMessage(
        content="hi", usage_metadata=usage_metadata or None, response_metadata={"model_name": "m-2"}
    )
    return LLMResult(
        generations=[[ChatGeneration(message=message, generation_info={"finish_reason": "stop"})]]
    )


def test_usage_comes_from_usage_metadata_with_token_details():
    result = chat_result(
        input_tokens=10, output_tokens=4, total_tokens=14, input_token_details={"cache_read": 6}
    )
    usage, source = usage_of(result)
    assert source == "usage_metadata"
    assert usage == {"input_tokens": 10, "output_tokens": 4, "total_tokens": 14, "input_cache_read_tokens": 6}


def test_usage_from_llm_output_and_unknown_usage_is_none_not_zero():
    legacy = LLMResult(generations=[[Generation(text="x")]], llm_output={"token_usage": {"prompt_tokens": 3}})
    assert usage_of(legacy) == ({"input_tokens": 3, "output_tokens": 0, "total_tokens": 3}, "llm_output")
    assert usage_of(LLMResult(generations=[[Generation(text="x")]])) == (None, None)


def test_a_model_end_carries_the_served_model_usage_and_finish_reason():
    run = Run(uuid.uuid4(), "chat_model", "FakeChat")
    run.model = "m-requested"
    result = chat_result(input_tokens=1, output_tokens=2, total_tokens=3)
    event = builder().build(
        ModelEnd(run, "info", time.time(), time.monotonic_ns(), "hi", reported_by(result))
    )
    assert event is not None
    assert (event["model"], event["finish_reason"], event["usage_source"]) == (
        "m-2",
        "stop",
        "usage_metadata",
    )
    assert event["usage"]["total_tokens"] == 3 and event["outcome"] == "ok"


def test_a_cancellation_ends_the_run_without_an_error():
    run = Run(uuid.uuid4(), "chain", "task")
    assert control_flow(asyncio.CancelledError()) == "CancelledError"
    b = builder()
    event = b.build(
        Failure(run, time.time(), time.monotonic_ns(), b.failure_of(asyncio.CancelledError()), None)
    )
    assert event is not None
    assert (event["event"], event["outcome"], event["level"]) == ("chain.end", "cancelled", "warning")
    assert "error" not in event
