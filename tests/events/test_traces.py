"""`trace.end`: one line per request, written when its root ends, through real LangChain runs."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableConfig, RunnableLambda

from lclog.testing import capture
from tests.events.test_cost import Provider, answer, by_hand

pytest.importorskip("langgraph")


class ToolCalling(Provider):
    def bind_tools(self, tools: Any, **kwargs: Any) -> ToolCalling:
        return self


def test_an_agents_request_in_one_line():
    from lclog.cli.demo import agent_messages, build_agent

    agent = build_agent(ToolCalling(messages=agent_messages()))  # three priced calls, a failing tool
    config: RunnableConfig = {
        "callbacks": [],
        "metadata": {"user": "u-7"},
        "configurable": {"thread_id": "t-9"},
    }
    with capture(verbosity="full") as events:
        config["callbacks"] = [events.handler]
        agent.invoke({"messages": [HumanMessage("Weather in Paris, and order A-1001?")]}, config=config)
    (line,) = events.named("trace.end")
    root = next(e for e in events if e["event"] == "chain.end" and e["depth"] == 0)
    assert line["run_id"] == root["run_id"] == line["trace_id"] and line["name"] == root["name"]
    assert line["outcome"] == "ok" and line["duration_ms"] == root["duration_ms"]
    assert events.index(line) == len(events) - 1  # after every run of the request
    # counts of each kind of run, from the events themselves
    ends = [e for e in events if e["event"].endswith((".end", ".error")) and e["event"] != "trace.end"]
    kinds: dict[str, int] = {}
    for e in ends:
        kind = e["event"].split(".")[0]  # the run type, chat_model for a chat model
        kinds[kind] = kinds.get(kind, 0) + 1
    assert line["runs"] == kinds and kinds["chat_model"] == 3 and kinds["tool"] == 2
    assert line["usage"]["input_tokens"] == 42 + 60 + 85 and line["usage"]["output_tokens"] == 12 + 14 + 17
    expected = sum(by_hand("gpt-4o-mini", i, o) for i, o in ((42, 12), (60, 14), (85, 17)))
    assert line["cost"]["total"] == pytest.approx(expected) and line["cost"]["unpriced_calls"] == 0
    failed = next(e for e in events if e["event"] == "tool.error")
    assert line["errors"] == {"count": 1, "first_type": "ConnectionError", "first_run_id": failed["run_id"]}
    slowest = max(events.named("chat_model.end"), key=lambda e: e["duration_ms"])
    assert line["slowest_llm"]["run_id"] == slowest["run_id"]
    assert line["slowest_llm"]["model"] == "gpt-4o-mini"
    assert line["thread_id"] == "t-9" and line["user_id"] == "u-7" and "metadata" not in line


def test_sampled_out_requests_have_no_line_and_minimal_keeps_it():
    chain = RunnableLambda(lambda x: x, name="a") | RunnableLambda(lambda x: x, name="b")
    with capture(sample_rate=0.0) as events:
        chain.invoke(1, config={"callbacks": [events.handler]})
    assert not events
    with capture(verbosity="minimal") as events:
        chain.invoke(1, config={"callbacks": [events.handler]})
    assert [e["event"] for e in events] == ["chain.start", "chain.end", "trace.end"]
    assert events[-1]["runs"] == {"chain": 3}


def test_events_can_drop_the_line_or_lower_it_and_the_runs_stay():
    chain = RunnableLambda(lambda x: x, name="a") | RunnableLambda(lambda x: x, name="b")
    with capture(verbosity="full", events={"trace.end": "drop"}) as events:
        chain.invoke(1, config={"callbacks": [events.handler]})
    assert len(events) == 6 and not events.named("trace.end")
    with capture(events={"trace.end": "debug"}, level="debug") as events:
        chain.invoke(1, config={"callbacks": [events.handler]})
    (line,) = events.named("trace.end")
    assert line["level"] == "debug" and line["runs"] == {"chain": 3}


def test_a_run_ending_after_its_root_is_in_its_own_event_not_in_the_line():
    release = threading.Event()
    finished: list[Any] = []

    def background(x: int, config: RunnableConfig) -> int:
        def later() -> None:
            release.wait(5)
            finished.append(RunnableLambda(lambda y: y, name="late").invoke(x, config=config))

        threading.Thread(target=later).start()
        return x

    chain = RunnableLambda(background, name="starts_a_task") | RunnableLambda(lambda x: x, name="then")
    with capture() as events:
        chain.invoke(1, config={"callbacks": [events.handler]})
        events.handler.flush()  # the request's line is written
        release.set()
        while not finished:
            threading.Event().wait(0.01)
    (line,) = events.named("trace.end")
    late = [e for e in events if e.get("name") == "late"]
    assert [e["event"] for e in late] == ["chain.start", "chain.end"]  # in its own events
    assert line["runs"] == {"chain": 3}  # the line was written when the root ended: the late run is not in it


def test_names_and_error_types_in_the_line_are_redacted_and_its_ids_are_not():
    secret = "sk-proj-Xq7vR2mT9wK4pL8nB3cF6hJ1"
    usage = {"input_tokens": 3, "output_tokens": 1, "total_tokens": 4}
    model = Provider(model_name=secret, messages=iter([answer(usage, secret)]))

    class Leaky(Exception):
        pass

    def fail(x: Any) -> Any:
        raise Leaky(secret)

    failing = RunnableLambda(fail, name="tool").with_fallbacks([RunnableLambda(lambda x: x)])
    chain = RunnableLambda(lambda x: x, name=f"step {secret}") | model | failing
    chain = chain.with_config(run_name=f"request {secret}")
    with capture() as events:
        chain.invoke("hi", config={"callbacks": [events.handler]})
    (line,) = events.named("trace.end")
    assert secret not in str(line) and line["name"] == "request [REDACTED:openai_key]"
    (start,) = events.named("chat_model.start")
    assert line["slowest_llm"]["run_id"] == start["run_id"]
    assert line["slowest_llm"]["model"] == start["model"] == "[REDACTED:openai_key]"
    assert line["slowest_llm"]["name"] == start["name"] == "Provider"
    (error,) = events.named("chain.error")
    first = {"first_type": error["error"]["type"], "first_run_id": error["run_id"]}
    assert line["errors"] == {"count": 1, **first}
    assert error["error"]["type"].endswith(".Leaky")


def test_one_run_is_its_own_line():
    with capture() as events:
        RunnableLambda(lambda x: x).invoke(1, config={"callbacks": [events.handler]})
    assert [e["event"] for e in events] == ["chain.start", "chain.end"]


def test_lclog_stats_by_trace_lists_the_most_expensive_and_slowest_requests(tmp_path: Any, capsys: Any):
    import json

    from lclog.cli.main import main
    from tests.events.test_cost import answer

    def request(tokens: int) -> Any:
        model = Provider(
            messages=iter(
                [
                    answer(
                        {"input_tokens": tokens, "output_tokens": 10, "total_tokens": tokens + 10},
                        "gpt-4o-mini",
                    )
                ]
            )
        )
        return RunnableLambda(lambda x: x, name=f"ask-{tokens}") | model

    with capture() as events:
        for tokens in (1_000, 50_000, 5_000):
            request(tokens).invoke("hi", config={"callbacks": [events.handler]})
    path = tmp_path / "log.jsonl"
    path.write_bytes(b"".join(events.lines))
    assert main(["stats", "--by", "trace", "--json", str(path)]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows["most_expensive"]] == ["RunnableSequence"] * 3
    assert [r["input_tokens"] for r in rows["most_expensive"]] == [50_000, 5_000, 1_000]
    assert rows["most_expensive"][0]["cost_usd"] == pytest.approx(by_hand("gpt-4o-mini", 50_000, 10))
    durations = [r["duration_ms"] for r in rows["slowest"]]
    assert durations == sorted(durations, reverse=True) and len(durations) == 3
    assert main(["stats", "--by", "trace", str(path)]) == 0
    assert capsys.readouterr().out.startswith("most expensive (3 of 3 requests)")
