"""Production semantics through real LangGraph graphs: interrupts, cancellation, volume, twins."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import uuid
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.outputs import ChatGenerationChunk
from langchain_core.runnables import RunnableLambda, RunnableSequence

import lclog
from lclog import LoggingCallbackHandler
from lclog.outputs import MemoryOutput
from tests.conftest import assert_matches_tree


def handler(**config: Any) -> tuple[LoggingCallbackHandler, MemoryOutput]:
    memory = MemoryOutput()
    return LoggingCallbackHandler(config, outputs=[memory]), memory


def test_a_stream_abandoned_half_way_ends_as_cancelled():
    h, memory = handler()
    model = GenericFakeChatModel(messages=iter([AIMessage(content="one two three four five")]))
    stream = model.stream("go", config={"callbacks": [h]})
    next(stream)
    stream.close()
    h.close()
    (end,) = [e for e in memory.events if e["event"] == "chat_model.end"]
    assert (end["outcome"], end["reason"], end["level"]) == ("cancelled", "GeneratorExit", "warning")
    assert h.stats.notifier_failures == 0 and not any(e["event"].endswith(".error") for e in memory.events)


def test_a_cancelled_task_ends_as_cancelled():
    h, memory = handler()

    async def slow(x: int) -> int:
        await asyncio.sleep(5)
        return x

    async def main() -> None:
        task = asyncio.create_task(RunnableLambda(slow).ainvoke(1, config={"callbacks": [h]}))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    h.close()
    assert [(e["event"], e.get("outcome")) for e in memory.events] == [
        ("chain.start", None),
        ("chain.end", "cancelled"),
    ]


def deep_chain(n: int = 200) -> Any:
    steps = [RunnableLambda(lambda x: x, name=f"step{i}") for i in range(n)]
    model = GenericFakeChatModel(messages=itertools.cycle([AIMessage(content="done")]))
    return RunnableSequence(*steps, RunnableLambda(lambda x: "q"), model)


@pytest.mark.parametrize(
    ("verbosity", "expected"),
    [
        ("minimal", ["chain.start", "chat_model.end", "chain.end", "trace.end"]),
        ("standard", ["chain.start", "chat_model.start", "chat_model.end", "chain.end", "trace.end"]),
        ("full", None),
    ],
)
def test_verbosity_presets_on_a_200_runnable_chain(verbosity, expected, tracer):
    h, memory = handler(verbosity=verbosity)
    deep_chain().invoke("x", config={"callbacks": [h, tracer]})
    h.close()
    names = [e["event"] for e in memory.events]
    if expected is None:
        assert len(names) == 2 * 203 + 1  # and the trace.end
        assert_matches_tree(memory.events, tracer.ended)
    else:
        assert names == expected
    assert h.metrics.snapshot()["chain"]["step199"]["completions"] == 1  # metrics see everything


def test_per_event_overrides():
    h, memory = handler(events={"chain.start": "drop", "chain.end": "warning"})
    RunnableLambda(lambda x: x).invoke(1, config={"callbacks": [h]})
    h.close()
    assert [(e["event"], e["level"]) for e in memory.events] == [("chain.end", "warning")]


def test_sampling_keeps_or_drops_whole_traces_and_always_keeps_errors():
    h, memory = handler(verbosity="full", sample_rate=0.1)

    def maybe_fail(x: int) -> int:
        if x % 10 == 0:
            raise ValueError(f"bad {x}")
        return x

    chain = RunnableLambda(lambda x: x, name="a") | RunnableLambda(maybe_fail, name="b")
    for i in range(300):
        with contextlib.suppress(ValueError):
            chain.invoke(i, config={"callbacks": [h]})
    h.close()
    by_trace: dict[str, list[str]] = {}
    for e in memory.events:
        by_trace.setdefault(e["trace_id"], []).append(e["event"])
    complete = [t for t, names in by_trace.items() if "chain.start" in names]
    assert all(len(by_trace[t]) == 7 for t in complete)  # kept traces are whole, trace.end included
    assert 3 <= len(complete) <= 90  # about 10% of 300
    errors = [e for e in memory.events if e["event"] == "chain.error"]
    assert len(errors) >= 60  # 30 failing traces x 2 failing runs, all kept


def test_instrument_plus_a_per_call_handler_logs_each_run_once():
    config = {"service": "twins", "outputs": []}
    global_handler = lclog.instrument(config)
    memory_global, memory_local = MemoryOutput(), MemoryOutput()
    global_handler.outputs.append(memory_global)
    local = LoggingCallbackHandler(config)
    local.outputs.append(memory_local)
    try:
        RunnableLambda(lambda x: x).invoke(1, config={"callbacks": [local]})
        RunnableLambda(lambda x: x).invoke(2)
    finally:
        lclog.uninstrument()
        local.close()
    assert len(memory_global.events) + len(memory_local.events) == 4


def test_twin_handlers_log_a_chat_model_run_once_without_failing():
    config = {"service": "twin-models", "outputs": []}
    handlers = [LoggingCallbackHandler(config), LoggingCallbackHandler(config)]
    memories = [MemoryOutput(), MemoryOutput()]
    for h, memory in zip(handlers, memories, strict=True):
        h.outputs.append(memory)
    model = GenericFakeChatModel(messages=iter([AIMessage(content="ok")]))
    try:
        assert model.invoke("hi", config={"callbacks": handlers}).content == "ok"
    finally:
        for h in handlers:
            h.close()
    assert sorted(e["event"] for m in memories for e in m.events) == ["chat_model.end", "chat_model.start"]
    assert [h.stats.internal_errors for h in handlers] == [0, 0]


class KeyedModel(GenericFakeChatModel):
    """A chat model whose invocation parameters carry credentials, as real clients' can."""

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model": "secret-model",
            "api_key": "sk-live-" + "Q" * 24,
            "default_headers": {"Authorization": "Bearer abc.def.ghi-123456"},
            "temperature": 0.2,
        }


def test_credentials_in_invocation_params_never_reach_the_output():
    h, memory = handler()
    KeyedModel(messages=iter([AIMessage(content="ok")])).invoke("hi", config={"callbacks": [h]})
    h.close()
    blob = b"".join(memory.lines).decode()
    assert "QQQQQQQQ" not in blob and "abc.def.ghi-123456" not in blob
    start = next(e for e in memory.events if e["event"] == "chat_model.start")
    assert start["params"] == {"temperature": 0.2} and start["model"] == "secret-model"


class BrokenStream(GenericFakeChatModel):
    def _stream(self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any) -> Iterator[Any]:
        usage = {"input_tokens": 9, "output_tokens": 1, "total_tokens": 10}
        yield ChatGenerationChunk(message=AIMessageChunk(content="par", usage_metadata=usage))
        raise TimeoutError("stream cut")


def test_usage_provenance():
    h, memory = handler()
    with pytest.raises(TimeoutError):
        list(BrokenStream(messages=iter([])).stream("hi", config={"callbacks": [h]}))
    GenericFakeChatModel(messages=iter([AIMessage(content="no usage")])).invoke(
        "x", config={"callbacks": [h]}
    )
    usage = {"input_tokens": 5, "output_tokens": 2, "total_tokens": 7,
             "input_token_details": {"cache_read": 3}, "output_token_details": {"reasoning": 1}}  # fmt: skip
    GenericFakeChatModel(messages=iter([AIMessage(content="u", usage_metadata=usage)])).invoke(
        "y", config={"callbacks": [h]}
    )
    h.close()
    err = next(e for e in memory.events if e["event"] == "chat_model.error")
    assert err["usage"]["input_tokens"] == 9 and err["usage_source"] == "usage_metadata"
    ends = [e for e in memory.events if e["event"] == "chat_model.end"]
    assert (ends[0]["usage"], ends[0]["usage_source"]) == (None, None)  # unknown, not zero
    assert ends[1]["usage"] == {"input_tokens": 5, "output_tokens": 2, "total_tokens": 7,
                                "input_cache_read_tokens": 3, "output_reasoning_tokens": 1}  # fmt: skip
    assert '"usage":null' in b"".join(memory.lines).decode()


def test_runs_that_never_end_are_closed_by_ttl_as_orphaned():
    h, memory = handler(run_ttl_s=0.001)
    for _ in range(300):  # starts that never end
        h.on_chain_start({}, {}, run_id=uuid.uuid4(), name="abandoned")
    time.sleep(0.01)
    h.close()  # close reports what is still open past its ttl
    orphaned = [e for e in memory.events if e["event"] == "chain.orphaned"]
    assert len(orphaned) == 300 and all(e["age_ms"] > 0 for e in orphaned)
    assert h.stats.evicted_runs == len(orphaned)
    assert orjson.loads(memory.lines[-1])  # still valid output


def test_a_quiet_service_reports_an_open_run_on_time_and_its_late_end_as_itself():
    h, memory = handler(run_ttl_s=0.2, flush_interval_s=0.05)
    model = GenericFakeChatModel(messages=iter([AIMessage(content="one two three")]))
    stream = (RunnableLambda(lambda x: x) | model).stream("go", config={"callbacks": [h]})
    next(stream)  # the runs are open, and then no callback arrives at all
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and len([e for e in memory.events if "orphaned" in e["event"]]) < 2:
        time.sleep(0.02)
    orphaned = sorted(e["event"] for e in memory.events if e["event"].endswith(".orphaned"))
    assert orphaned == ["chain.orphaned", "chat_model.orphaned"]  # without another run or a flush
    assert "".join(c.content for c in stream) == " two three"  # the stream finishes after all
    h.close()
    late = {e["event"]: e for e in memory.events if e.get("late")}
    assert set(late) == {"chain.end", "chat_model.end"}  # the orphaned events are not late
    model_end, root_end = late["chat_model.end"], late["chain.end"]
    assert (model_end["name"], model_end["depth"]) == ("GenericFakeChatModel", 1)
    assert model_end["parent_run_id"] == root_end["run_id"] and root_end["depth"] == 0
    assert model_end["duration_ms"] >= 200 and model_end["outcome"] == "ok"


def test_handlers_with_their_own_outputs_are_not_twins():
    first, second = MemoryOutput(), MemoryOutput()
    a = LoggingCallbackHandler(outputs=[first])
    b = LoggingCallbackHandler(outputs=[second])
    RunnableLambda(lambda x: x).invoke(1, config={"callbacks": [a, b]})
    a.close()
    b.close()
    assert len(first.events) == len(second.events) == 2
