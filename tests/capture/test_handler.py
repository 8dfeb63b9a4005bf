"""End to end: real LangChain runnables through LoggingCallbackHandler, checked against LangChain's tree."""

from __future__ import annotations

import asyncio
import itertools
import threading
from datetime import datetime
from typing import Any

import orjson
import pytest
from langchain_core.callbacks import CallbackManagerForLLMRun, dispatch_custom_event
from langchain_core.documents import Document
from langchain_core.language_models import LLM, FakeListChatModel, GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableLambda
from langchain_core.tools import tool
from tenacity import RetryCallState, Retrying, stop_after_attempt, wait_none

from lclog import LoggingCallbackHandler
from lclog.cli.demo import FakeToolChatModel, agent_messages, build_agent
from lclog.outputs import MemoryOutput
from tests.conftest import assert_matches_tree

EMAIL = "jane.doe@example.com"
KEY = "sk-proj-" + "Xq7vR2mT9wK4pL8nB3cF6hJ1"


def _chain(replies: list[str] | None = None) -> Any:
    usage = {"input_tokens": 11, "output_tokens": 3, "total_tokens": 14}
    messages = itertools.cycle([AIMessage(content=r, usage_metadata=usage) for r in replies or ["fine"]])
    prompt = ChatPromptTemplate.from_messages([("system", "Be brief."), ("human", "{q}")])
    return prompt | GenericFakeChatModel(messages=messages) | StrOutputParser()


def test_invoke_logs_one_start_and_end_per_run_matching_langchains_tree(captured, tracer):
    result = _chain().invoke({"q": "hi"}, config={"callbacks": [captured.handler, tracer]})
    assert result == "fine"
    assert_matches_tree(captured.refresh(), tracer.ended)
    assert [e["event"] for e in captured.refresh()] == [
        "chain.start", "chain.start", "chain.end", "chat_model.start", "chat_model.end",
        "chain.start", "chain.end", "chain.end", "trace.end",
    ]  # fmt: skip


def test_every_line_is_json_with_the_documented_fields(captured):
    _chain().invoke({"q": "hi"}, config={"callbacks": [captured.handler]})
    captured.handler.flush()
    for line in captured.refresh().lines:
        assert line.endswith(b"\n") and line.count(b"\n") == 1
        event = orjson.loads(line)
        for key in ("timestamp", "level", "event", "service", "run_id", "parent_run_id", "trace_id", "name"):
            assert key in event
        assert event["timestamp"].endswith("Z") and len(event["timestamp"]) == 27
    ends = [e for e in captured.refresh() if e["event"].endswith(".end")]
    assert all(e["duration_ms"] >= 0 and e["outcome"] == "ok" for e in ends)


def test_metrics_aggregate_model_runs_per_model(captured):
    model = GenericFakeChatModel(messages=itertools.cycle([AIMessage(content="ok")]))
    model.invoke("a", config={"callbacks": [captured.handler], "metadata": {"ls_model_name": "gpt-x"}})
    model.invoke("b", config={"callbacks": [captured.handler]})
    snapshot = captured.handler.metrics.snapshot()["chat_model"]
    assert snapshot["gpt-x"]["completions"] == 1 and snapshot["GenericFakeChatModel"]["completions"] == 1
    assert captured.named("chat_model.start")[0]["model"] == "gpt-x"


def test_chat_model_end_has_usage_model_and_output(captured):
    model = GenericFakeChatModel(
        messages=iter(
            [
                AIMessage(
                    content="ok",
                    usage_metadata={"input_tokens": 7, "output_tokens": 2, "total_tokens": 9},
                    response_metadata={"model_name": "gpt-test", "finish_reason": "stop"},
                )
            ]
        )
    )
    model.invoke("hello", config={"callbacks": [captured.handler]})
    (end,) = captured.named("chat_model.end")
    assert end["usage"] == {"input_tokens": 7, "output_tokens": 2, "total_tokens": 9}
    assert end["model"] == "gpt-test"
    assert end["finish_reason"] == "stop"
    assert end["outputs"] == {"role": "ai", "content": "ok", "id": f"lc_run--{end['run_id']}-0"}
    (start,) = captured.named("chat_model.start")
    assert start["inputs"] == [{"role": "human", "content": "hello"}]
    assert start["provider"] == "genericfakechatmodel"


def test_streaming_counts_and_times_tokens_without_a_line_per_token(captured, tracer):
    model = GenericFakeChatModel(messages=iter([AIMessage(content="one two three four")]))
    chunks = list(model.stream("go", config={"callbacks": [captured.handler, tracer]}))
    assert len(chunks) == 7
    assert_matches_tree(captured.refresh(), tracer.ended)
    (end,) = captured.named("chat_model.end")
    assert end["chunks"] == 7
    assert 0 <= end["ttft_ms"] <= end["duration_ms"]
    assert end["outputs"]["content"] == "one two three four"
    assert len(captured.refresh()) == 2


def test_stream_tokens_true_logs_each_token(make_captured):
    cap = make_captured(stream_tokens=True)
    model = GenericFakeChatModel(messages=iter([AIMessage(content="a b")]))
    list(model.stream("go", config={"callbacks": [cap.handler]}))
    tokens = cap.named("chat_model.token")
    assert [t["token"] for t in tokens] == ["a", " ", "b"]
    assert [t["index"] for t in tokens] == [0, 1, 2]


def test_batch_and_async_paths_match_the_tree(captured, tracer):
    chain = _chain()
    cfg = {"callbacks": [captured.handler, tracer]}
    assert chain.batch([{"q": "a"}, {"q": "b"}], config=cfg) == ["fine", "fine"]
    list(chain.stream({"q": "c"}, config=cfg))

    async def go() -> None:
        await chain.ainvoke({"q": "d"}, config=cfg)
        await chain.abatch([{"q": "e"}, {"q": "f"}], config=cfg)
        async for _ in chain.astream({"q": "g"}, config=cfg):
            pass

    asyncio.run(go())
    assert_matches_tree(captured.refresh(), tracer.ended)
    roots = [e for e in captured.refresh() if e["event"] == "chain.end" and e["parent_run_id"] is None]
    assert len(roots) == 7
    assert captured.handler.stats.internal_errors == 0


def test_streamed_chain_logs_the_deferred_input_at_the_end(captured):
    list(_chain().stream({"q": "late"}, config={"callbacks": [captured.handler]}))
    root_end = next(e for e in captured.named("chain.end") if e["parent_run_id"] is None)
    assert root_end["inputs"] == {"q": "late"}


def test_secrets_in_prompts_never_reach_the_output(captured):
    _chain().invoke({"q": f"I am {EMAIL}, key {KEY}"}, config={"callbacks": [captured.handler]})
    captured.handler.flush()
    blob = b"".join(captured.refresh().lines)
    assert EMAIL.encode() not in blob and KEY.encode() not in blob
    assert b"[REDACTED:email]" in blob and b"[REDACTED:openai_key]" in blob


def test_secrets_in_tool_call_arguments_and_names_are_redacted(captured):
    reply = AIMessage(
        content="",
        name=f"bot {EMAIL}",
        tool_calls=[{"name": "send", "args": {"to": EMAIL, "api_key": "k-123456789"}, "id": "c1"}],
    )
    GenericFakeChatModel(messages=iter([reply])).invoke("go", config={"callbacks": [captured.handler]})
    (end,) = captured.named("chat_model.end")
    assert end["outputs"]["tool_calls"] == [
        {"id": "c1", "name": "send", "args": {"to": "[REDACTED:email]", "api_key": "[REDACTED:api_key]"}}
    ]
    assert end["outputs"]["name"] == "bot [REDACTED:email]"


@pytest.mark.parametrize("content", ["redacted", "none"])
def test_secrets_in_names_tags_metadata_and_model_names_are_redacted(make_captured, content):
    cap = make_captured(content=content)
    model = GenericFakeChatModel(
        messages=iter([AIMessage(content="ok", response_metadata={"model_name": f"gpt {KEY}"})])
    )
    chain = RunnableLambda(lambda x: x).with_config(run_name=f"step for {EMAIL}") | model
    chain.invoke(
        "go",
        config={
            "callbacks": [cap.handler],
            "tags": [f"user:{EMAIL}"],
            "metadata": {"owner": EMAIL, "token": KEY},
        },
    )
    cap.handler.flush()
    blob = b"".join(cap.refresh().lines)
    assert EMAIL.encode() not in blob and KEY.encode() not in blob
    (end,) = cap.named("chat_model.end")
    assert end["model"] == "gpt [REDACTED:openai_key]"
    assert any(e["name"] == "step for [REDACTED:email]" for e in cap.refresh())
    assert all(e["tags"] == ["user:[REDACTED:email]"] for e in cap.named("chain.start") if e["depth"] == 0)


def test_content_none_drops_inputs_and_outputs(make_captured):
    cap = make_captured(content="none")
    _chain().invoke({"q": f"secret stuff {EMAIL}"}, config={"callbacks": [cap.handler]})
    assert cap.refresh() and all("inputs" not in e and "outputs" not in e for e in cap.refresh())
    assert next(e for e in cap.refresh() if e["event"] == "chat_model.end")["usage"]["input_tokens"] == 11


@tool
def add(a: int, b: int) -> int:
    """Adds two numbers."""
    return a + b


@tool
def explode(reason: str) -> str:
    """Always fails."""
    raise ValueError(f"boom: {reason} password=hunter2hunter2")


def test_tool_start_end_and_error(captured, tracer):
    cfg = {"callbacks": [captured.handler, tracer]}
    assert add.invoke({"a": 2, "b": 3}, config=cfg) == 5
    with pytest.raises(ValueError, match="boom"):
        explode.invoke({"reason": "test"}, config=cfg)
    assert_matches_tree(captured.refresh(), tracer.ended)
    (start,) = [e for e in captured.named("tool.start") if e["name"] == "add"]
    assert start["inputs"] == {"a": 2, "b": 3}
    assert captured.named("tool.end")[0]["outputs"] == 5
    (err,) = captured.named("tool.error")
    assert err["level"] == "error" and err["outcome"] == "error"
    assert err["error"]["type"] == "ValueError"
    assert "boom: test" in err["error"]["message"] and "hunter2hunter2" not in err["error"]["message"]
    assert captured.handler.metrics.snapshot()["tool"]["explode"]["errors"] == 1


class Docs(BaseRetriever):
    def _get_relevant_documents(self, query: str, *, run_manager: Any) -> list[Document]:
        return [Document(page_content=f"doc about {query}, mail {EMAIL}", metadata={"src": "a"})]


def test_retriever_events_carry_documents(captured, tracer):
    Docs().invoke("cats", config={"callbacks": [captured.handler, tracer]})
    assert_matches_tree(captured.refresh(), tracer.ended)
    (end,) = captured.named("retriever.end")
    assert end["documents"] == 1
    assert end["outputs"] == [{"content": "doc about cats, mail [REDACTED:email]", "metadata": {"src": "a"}}]
    assert captured.named("retriever.start")[0]["inputs"] == "cats"


def test_custom_events_are_logged_and_redacted(captured):
    def step(x: str) -> str:
        dispatch_custom_event("progress", {"pct": 50, "note": f"mail {EMAIL}"})
        return x

    RunnableLambda(step).invoke("x", config={"callbacks": [captured.handler]})
    (custom,) = captured.named("custom")
    assert custom["custom_event"] == "progress"
    assert custom["data"] == {"pct": 50, "note": "mail [REDACTED:email]"}
    assert custom["run_id"] == captured.named("chain.start")[0]["run_id"]


class FlakyLLM(LLM):
    """A text LLM that fails once and retries, reporting the retry through LangChain."""

    calls: int = 0

    @property
    def _llm_type(self) -> str:
        return "flaky"

    def _call(
        self, prompt: str, stop: Any = None, run_manager: CallbackManagerForLLMRun | None = None, **kw: Any
    ) -> str:
        def before_sleep(state: RetryCallState) -> None:
            if run_manager:
                run_manager.on_retry(state)

        for attempt in Retrying(
            stop=stop_after_attempt(3), wait=wait_none(), before_sleep=before_sleep, reraise=True
        ):
            with attempt:
                self.calls += 1
                if self.calls == 1:
                    raise TimeoutError("upstream timeout")
                return f"echo: {prompt}"
        raise AssertionError("unreachable")


def test_llm_runs_and_retries(captured, tracer):
    llm = FlakyLLM()
    assert llm.invoke("ping", config={"callbacks": [captured.handler, tracer]}) == "echo: ping"
    assert_matches_tree(captured.refresh(), tracer.ended)
    (retry,) = captured.named("retry")
    assert retry["attempt"] == 1 and retry["level"] == "warning"
    assert retry["error"]["type"] == "TimeoutError"
    assert captured.named("llm.start")[0]["inputs"] == "ping"
    assert captured.named("llm.end")[0]["outputs"] == "echo: ping"


def test_llm_error_is_logged_and_reraised_unchanged(captured, tracer):
    model = FakeListChatModel(responses=["x"])

    def broken(*a: Any, **k: Any) -> Any:
        raise RuntimeError("model down")

    object.__setattr__(model, "_generate", broken)
    with pytest.raises(RuntimeError, match="model down"):
        model.invoke("hi", config={"callbacks": [captured.handler, tracer]})
    (err,) = captured.named("chat_model.error")
    assert err["error"] == {"type": "RuntimeError", "message": "model down"}
    assert err["duration_ms"] >= 0


def test_langgraph_agent_tree_with_a_failing_tool(captured, tracer):
    agent = build_agent(FakeToolChatModel(messages=agent_messages()))
    cfg = {"callbacks": [captured.handler, tracer], "configurable": {"thread_id": "t-7"}}
    out = agent.invoke({"messages": [HumanMessage("go")]}, config=cfg)
    assert out["messages"][-1].content.startswith("It is sunny")
    assert_matches_tree(captured.refresh(), tracer.ended)
    (model_start, *_) = captured.named("chat_model.start")
    assert (model_start["node"], model_start["step"]) == ("agent", 1)
    # The thread is the event's own field; LangGraph's per-task checkpoint_ns is left out.
    assert model_start["thread_id"] == "t-7"
    assert "thread_id" not in model_start["metadata"] and "checkpoint_ns" not in model_start["metadata"]
    assert not [k for e in captured.refresh() for k in e.get("metadata", {}) if k.startswith("langgraph_")]
    (err,) = captured.named("tool.error")
    assert err["name"] == "lookup_order" and err["error"]["type"] == "ConnectionError"
    assert "abc123secret" not in orjson.dumps(captured.refresh()).decode()
    assert {e["depth"] for e in captured.refresh()} >= {0, 1, 2}
    usage = captured.handler.metrics.snapshot()["chat_model"]["FakeToolChatModel"]
    assert (usage["input_tokens"], usage["output_tokens"], usage["completions"]) == (187, 43, 3)


def test_results_and_exceptions_are_identical_with_and_without_the_handler(captured):
    chain = _chain(["a", "b"])
    plain = [chain.invoke({"q": str(i)}) for i in range(3)]
    chain = _chain(["a", "b"])
    logged = [chain.invoke({"q": str(i)}, config={"callbacks": [captured.handler]}) for i in range(3)]
    assert plain == logged
    for cfg in ({}, {"callbacks": [captured.handler]}):
        with pytest.raises(ValueError) as info:
            explode.invoke({"reason": "same"}, config=cfg)
        assert str(info.value) == "boom: same password=hunter2hunter2"


def test_a_raising_processor_neither_breaks_the_call_nor_loses_the_event(make_captured, capfd):
    def bad(logger: Any, method: str, event: dict[str, Any]) -> dict[str, Any]:
        if event["event"] == "chain.end":
            raise KeyError("nope")
        return event

    cap = make_captured(processors=[bad])
    assert RunnableLambda(lambda x: x + 1).invoke(1, config={"callbacks": [cap.handler]}) == 2
    (end,) = cap.named("chain.end")
    assert end["lclog_processor_error"].endswith("bad")
    assert cap.handler.stats.processor_errors == 1
    assert "processor failed" in capfd.readouterr().err


def test_hooks_called_with_junk_never_raise_and_count_the_failure(captured, capfd):
    h = captured.handler
    h.on_chain_start(None, {"x": 1})  # missing run_id
    h.on_llm_end(object(), run_id=None)
    h.on_tool_error("not an exception", run_id="also-not-a-uuid")
    h.flush()  # events are built in the writer: what fails there is counted there
    assert h.stats.internal_errors >= 1
    assert "lclog:" in capfd.readouterr().err


def test_many_threads_one_handler(captured, tracer):
    chain = _chain()

    def work() -> None:
        for i in range(20):
            chain.invoke({"q": str(i)}, config={"callbacks": [captured.handler, tracer]})

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(captured.refresh()) == 8 * 20 * (8 + 1)  # 8 events per call, and its trace.end
    assert_matches_tree(captured.refresh(), tracer.ended)
    assert captured.handler.metrics.snapshot()["chain"]["RunnableSequence"]["completions"] == 160


def test_open_runs_are_bounded_and_evictions_reported(make_captured):
    cap = make_captured(max_open_runs=16)
    h = cap.handler
    import uuid

    for _ in range(20):  # runs that start and never end
        h.on_chain_start({}, {}, run_id=uuid.uuid4(), name="stuck")
    assert len(h._recorder.runs) == 16
    assert h.stats.evicted_runs == 4
    orphaned = cap.named("chain.orphaned")
    assert len(orphaned) == 4 and all(e["age_ms"] >= 0 for e in orphaned)


def test_level_filter_drops_info_events(make_captured):
    cap = make_captured(level="error")
    with pytest.raises(ValueError):
        explode.invoke({"reason": "x"}, config={"callbacks": [cap.handler]})
    assert [e["event"] for e in cap.refresh()] == ["tool.error"]


def test_close_flushes_and_later_events_are_counted_as_dropped():
    memory = MemoryOutput()
    with LoggingCallbackHandler(outputs=[memory]) as h:
        RunnableLambda(lambda x: x).invoke(1, config={"callbacks": [h]})
    assert len(memory.events) == 2
    RunnableLambda(lambda x: x).invoke(1, config={"callbacks": [h]})
    assert len(memory.events) == 2 and h.stats.dropped == 2


def test_the_agent_without_langgraph_behaves_the_same(captured, tracer, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_langgraph(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("langgraph"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_langgraph)
    agent = build_agent(FakeToolChatModel(messages=agent_messages()))
    out = agent.invoke({"messages": [HumanMessage("go")]}, config={"callbacks": [captured.handler, tracer]})
    assert out["messages"][-1].content.startswith("It is sunny")
    assert_matches_tree(captured.refresh(), tracer.ended)
    assert [e["name"] for e in captured.named("tool.error")] == ["lookup_order"]
    failing = build_agent(FakeToolChatModel(messages=agent_messages()), handle_tool_errors=False)
    with pytest.raises(ConnectionError):
        failing.invoke({"messages": [HumanMessage("go")]})


def test_a_hook_called_without_run_id_writes_nothing_and_is_counted(captured):
    handler = captured.handler
    handler.on_chain_start({}, {"q": 1})  # no run_id: not how LangChain calls it
    handler.on_chain_end({"a": 1})
    handler.on_tool_error(ValueError("x"), run_id=None)  # type: ignore[arg-type]
    assert captured.refresh() == []  # no event with "run_id": "None"
    assert handler.stats.internal_errors == 3


def test_timestamps_are_taken_when_the_run_starts_and_ends_not_after_lclog_serialized_it():
    # Inputs and outputs that take lclog milliseconds to serialize and redact: a start's
    # timestamp and an end's must not move by that much, or a run reads as starting after its
    # children, or as lasting less than its own timestamps say.
    text = " ".join(f"user{i}@example.com token=abc{i}def{i}ghi{i}jkl" for i in range(3_000))
    inner = RunnableLambda(lambda x: x, name="inner")
    outer = RunnableLambda(lambda x: inner.invoke(x) + " done", name="outer")
    out = MemoryOutput()
    handler = LoggingCallbackHandler(None, outputs=[out], verbosity="full")
    outer.invoke(text, {"callbacks": [handler]})
    handler.close()
    at = {
        (e["run_id"], e["event"].rsplit(".", 1)[1]): datetime.fromisoformat(
            e["timestamp"].replace("Z", "+00:00")
        ).timestamp()
        * 1000
        for e in out.events
    }
    for e in out.events:
        if e["event"].endswith(".end"):
            wall = at[(e["run_id"], "end")] - at[(e["run_id"], "start")]
            assert abs(wall - e["duration_ms"]) < 2.0, (e["name"], wall, e["duration_ms"])
    start = {e["name"]: at[(e["run_id"], "start")] for e in out.events if e["event"] == "chain.start"}
    assert start["outer"] <= start["inner"]
