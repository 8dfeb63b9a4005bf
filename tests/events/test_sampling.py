"""Whole-trace sampling by outcome (`sampling:`), through real LangChain runs: failed, slow and
expensive traces written whole, the rest at a rate, every `trace.end` written, memory bounded."""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import orjson
import pytest
from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableConfig, RunnableLambda

from lclog import LoggingCallbackHandler
from lclog.config import load_config
from lclog.errors import ConfigError
from lclog.testing import capture
from tests.events.test_cost import Provider

ROOT = Path(__file__).resolve().parents[2]
# A model of yours, priced in the config: USD per million tokens.
PRICES = {"house-model": {"input": 1.0, "output": 2.0}}


def usage(tokens_in: int, tokens_out: int) -> dict[str, int]:
    return {"input_tokens": tokens_in, "output_tokens": tokens_out, "total_tokens": tokens_in + tokens_out}


def requests(n: int, *, failing: int, slow: int, costly: int, slow_s: float = 0.03) -> RunnableLambda:
    """A request per number: a root run calling a priced model. Every `failing`-th fails after the
    call, every `slow`-th sleeps `slow_s`, every `costly`-th uses a million input tokens."""
    answers = iter(
        AIMessage("ok", usage_metadata=usage(1_000_000 if i % costly == 0 else 20, 5)) for i in range(n)
    )
    model = Provider(messages=answers, provider="acme", model_name="house-model")

    def request(i: int, config: RunnableConfig) -> str:
        text = model.invoke(f"question {i}", config=config).content
        if i % slow == 0:
            time.sleep(slow_s)
        if i % failing == 0:
            raise LookupError(f"request {i} failed")
        return str(text)

    return RunnableLambda(request, name="request")


def by_trace(
    events: list[dict[str, Any]],
) -> tuple[dict[str, dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """Each trace's `trace.end`, and its other events in order."""
    ends = {e["trace_id"]: e for e in events if e["event"] == "trace.end"}
    lines: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        if e["event"] != "trace.end":
            lines[e["trace_id"]].append(e)
    return ends, lines


def whole(end: dict[str, Any], lines: list[dict[str, Any]]) -> bool:
    """Every run the trace.end counts has its start and its end or error (verbosity: full)."""
    runs = sum(end["runs"].values())
    starts = [e for e in lines if e["event"].endswith(".start")]
    ends = [e for e in lines if e["event"].endswith((".end", ".error"))]
    return len(starts) == len(ends) == runs and {e["run_id"] for e in starts} == {e["run_id"] for e in ends}


def test_at_one_percent_every_failed_slow_and_expensive_trace_of_10000_is_written_whole():
    n, slow_ms, cost_usd = 10_000, 25.0, 0.5
    chain = requests(n, failing=97, slow=211, costly=307)
    sampling = {"rate": 0.01, "slower_than_ms": slow_ms, "cost_over_usd": cost_usd}
    with capture(verbosity="full", sampling=sampling, prices=PRICES) as events:
        for i in range(n):
            with contextlib.suppress(LookupError):
                chain.invoke(i, config={"callbacks": [events.handler]})
    ends, lines = by_trace(events)
    assert len(ends) == n  # every trace's line, whatever the decision
    reasons: Counter[str] = Counter()
    for trace, end in ends.items():
        verdict = end["sampled"]
        assert verdict["rate"] == 0.01 and "early" not in verdict
        failed = end["outcome"] == "error"
        slow = end["duration_ms"] > slow_ms
        costly = end["cost"]["total"] > cost_usd
        if failed or slow or costly:
            assert verdict["kept"], end
        expected = "failed" if failed else "slow" if slow else "cost" if costly else "rate"
        assert verdict["because"] == expected
        if verdict["kept"]:
            assert whole(end, lines[trace]), trace
        else:
            assert not lines[trace], trace  # nothing of a dropped trace, not one line
        reasons[f"{verdict['kept']}:{verdict['because']}"] += 1
    assert reasons["True:failed"] == len(range(0, n, 97))
    assert reasons["True:slow"] >= len([i for i in range(0, n, 211) if i % 97])
    assert reasons["True:cost"] >= len([i for i in range(0, n, 307) if i % 97 and i % 211])
    # the rest at about 1%: the trace id decides
    ordinary = reasons["True:rate"] + reasons["False:rate"]
    assert 0.004 * ordinary < reasons["True:rate"] < 0.02 * ordinary
    stats = events.handler.stats
    assert stats.sampled_out == 4 * reasons["False:rate"] and stats.dropped == 0
    assert stats.emitted == len(events)
    # the handler's metrics count every call, kept or not
    assert events.handler.metrics.snapshot()["chat_model"]["house-model"]["completions"] == n


def test_a_paused_graph_and_a_cancelled_run_are_kept_whole():
    pytest.importorskip("langgraph")
    import asyncio

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph
    from langgraph.types import interrupt

    def ask(state: dict[str, Any]) -> dict[str, Any]:
        return {"answer": interrupt("approve?")}

    builder = StateGraph(dict)
    builder.add_node("ask", ask)
    builder.add_edge(START, "ask")
    builder.add_edge("ask", END)
    graph = builder.compile(checkpointer=InMemorySaver())

    async def slow(x: int) -> int:
        await asyncio.sleep(10)
        return x

    async def cancelled(handler: LoggingCallbackHandler) -> None:
        task = asyncio.create_task(RunnableLambda(slow).ainvoke(1, config={"callbacks": [handler]}))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    with capture(verbosity="full", sampling={"rate": 0.0}) as events:
        config: RunnableConfig = {"configurable": {"thread_id": "t-1"}, "callbacks": [events.handler]}
        graph.invoke({"question": "ship it?"}, config=config)
        asyncio.run(cancelled(events.handler))
        RunnableLambda(lambda x: x, name="boring").invoke(1, config={"callbacks": [events.handler]})
    ends, lines = by_trace(events)
    verdicts = sorted((e["sampled"]["kept"], e["sampled"]["because"]) for e in ends.values())
    assert verdicts == [(False, "rate"), (True, "cancelled"), (True, "interrupted")]
    for trace, end in ends.items():
        assert bool(lines[trace]) == end["sampled"]["kept"]
    paused = next(t for t, e in ends.items() if e["sampled"]["because"] == "interrupted")
    assert any(e["event"] == "chain.interrupt" for e in lines[paused])


def test_kept_traces_reach_a_file_as_whole_ordered_runs_of_lines(tmp_path: Path):
    path = tmp_path / "app.jsonl"
    chain = requests(200, failing=7, slow=10**9, costly=10**9)
    config = {
        "verbosity": "full",
        "sampling": {"rate": 0.3},
        "outputs": [{"type": "file", "path": str(path)}],
    }
    handler = LoggingCallbackHandler(config)

    def worker(first: int) -> None:
        for i in range(first, 200, 8):
            with contextlib.suppress(LookupError):
                chain.invoke(i, config={"callbacks": [handler]})

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    handler.close()
    events = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    ends, lines = by_trace(events)
    assert len(ends) == 200
    kept = [t for t, e in ends.items() if e["sampled"]["kept"]]
    assert 40 < len(kept) < 160
    order = [e["trace_id"] for e in events]
    for trace in ends:
        at = [i for i, t in enumerate(order) if t == trace]
        assert at == list(range(at[0], at[0] + len(at))), "a trace's lines are one run in the file"
        assert events[at[-1]]["event"] == "trace.end"
        if trace in kept:
            assert whole(ends[trace], lines[trace]) and events[at[0]]["event"] == "chain.start"
        else:
            assert len(at) == 1


def test_memory_is_bounded_per_trace():
    big = "x" * 3000  # each event of these traces holds about 3 KB of content

    def fan_out(x: str, config: RunnableConfig) -> str:
        for k in range(12):  # 24 events of 3 KB and more: past max_trace_bytes
            RunnableLambda(lambda y: y, name=f"step-{k}").invoke(x, config=config)
        return x

    with capture(verbosity="full", sampling={"rate": 0.0, "max_trace_bytes": 16_384}) as events:
        sampler = events.handler._recorder.source.sampler
        RunnableLambda(fan_out, name="big").invoke(big, config={"callbacks": [events.handler]})
        events.refresh()
        assert sampler.held_bytes == 0 and len(sampler) == 0
    (end,) = events.named("trace.end")
    assert end["sampled"] == {"kept": False, "because": "rate", "rate": 0.0, "early": True}
    assert events.handler.stats.sampling_early == 1
    assert events.handler.stats.sampled_out == 2 + 24  # the root's start and end, 12 runs'


def test_memory_is_bounded_over_all_open_traces():
    big = "x" * 3000
    limit = 65_536
    with capture(
        verbosity="full", sampling={"rate": 0.0, "max_trace_bytes": 60_000, "max_bytes": limit}
    ) as events:
        sampler = events.handler._recorder.source.sampler
        barrier = threading.Barrier(10)
        peak = []

        def one(x: str, config: RunnableConfig) -> str:
            RunnableLambda(lambda y: y, name="inner").invoke(x, config=config)
            barrier.wait()  # ten traces open at once, each under its bound, together past max_bytes
            events.handler._recorder.build_queued()
            peak.append(sampler.held_bytes)
            barrier.wait()
            return x

        threads = [
            threading.Thread(
                target=RunnableLambda(one, name="open").invoke, args=(big, {"callbacks": [events.handler]})
            )
            for _ in range(10)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    ends, lines = by_trace(events)
    early = [e for e in ends.values() if e["sampled"].get("early")]
    assert len(ends) == 10 and 5 <= len(early) < 10  # the oldest waiting, until all fit
    assert events.handler.stats.sampling_early == len(early)
    assert 0 < max(peak) <= limit
    for trace, end in ends.items():
        assert not lines[trace] or end["sampled"]["kept"]  # a dropped trace writes nothing


def test_a_trace_open_at_close_is_kept_as_where_the_process_stopped():
    handler_box: list[LoggingCallbackHandler] = []
    started = threading.Event()
    release = threading.Event()

    def stuck(x: int) -> int:
        started.set()
        release.wait(5)
        return x

    with capture(verbosity="full", sampling={"rate": 0.0}) as events:
        handler_box.append(events.handler)
        thread = threading.Thread(
            target=RunnableLambda(stuck, name="stuck").invoke, args=(1, {"callbacks": [events.handler]})
        )
        thread.start()
        started.wait(5)
    release.set()
    thread.join()
    (start,) = [e for e in events if e["event"] == "chain.start"]
    assert start["name"] == "stuck" and events.handler.stats.sampling_early == 1


def test_sampling_without_trace_end_is_refused_at_load():
    with pytest.raises(ConfigError, match=r"sampling\.rate below 1 writes every trace's `trace.end`"):
        load_config({"sampling": {"rate": 0.1}, "events": {"trace.end": "drop"}})
    with pytest.raises(ConfigError, match="level: warning"):
        load_config({"sampling": {"rate": 0.1}, "level": "warning"})
    load_config({"sampling": {"rate": 0.1}, "level": "warning", "events": {"trace.end": "warning"}})
    with pytest.raises(ConfigError, match=r"sampling\.rate"):
        load_config({"sampling": {"rate": 2}})


def masked(text: str) -> str:
    return re.sub(r"\d+(\.\d+)?", "N", text)


def test_stats_over_a_sampled_log_says_what_its_numbers_cover(tmp_path: Path):
    import json
    import subprocess
    import sys

    path = tmp_path / "app.jsonl"
    n = 400
    chain = requests(n, failing=20, slow=10**9, costly=10**9)
    config = {
        "sampling": {"rate": 0.1},
        "prices": PRICES,
        "outputs": [{"type": "file", "path": str(path)}],
    }
    handler = LoggingCallbackHandler(config)
    for i in range(n):
        with contextlib.suppress(LookupError):
            chain.invoke(i, config={"callbacks": [handler]})
    handler.close()
    events = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    ends = [e for e in events if e["event"] == "trace.end"]
    kept = [e for e in ends if e["sampled"]["kept"]]

    def stats(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "lclog", "stats", *args, str(path)], capture_output=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.decode()

    rows = json.loads(stats("--json"))
    coverage = rows.pop("coverage")
    assert coverage["requests"] == n and coverage["failed"] == n // 20
    assert coverage["kept_whole"] == len(kept) and coverage["kept_because"]["failed"] == n // 20
    assert coverage["kept_because"]["rate"] == len(kept) - n // 20
    # the totals are every request's: 20 + 5 tokens each (the first: a million in), at $1 and $2
    # per million
    tokens_in = (n - 1) * 20 + 1_000_000
    assert coverage["input_tokens"] == tokens_in and coverage["output_tokens"] == n * 5
    assert coverage["cost_usd"] == pytest.approx((tokens_in * 1.0 + n * 5 * 2.0) / 1e6)
    # the per-model row counts the kept requests' calls only, and says so above the table
    assert rows["chat_model house-model"]["calls"] == len(kept)
    text = stats()
    # docs/cli.md shows such a note, from a run of this test: the same words, other numbers
    sample = re.search(r"^(sampled log: .*?)\n```", (ROOT / "docs" / "cli.md").read_text(), re.S | re.M)
    assert sample is not None and masked(sample[1]) == masked(text.split("\n\n")[0])
    assert text.startswith(f"sampled log: {len(kept)} of {n} requests kept whole (failed {n // 20}, rate ")
    assert f"every request, from its trace.end: {n} requests, {n // 20} failed" in text
    # an unsampled log is summarized as it always was
    path.write_bytes(
        b"".join(line + b"\n" for line in path.read_bytes().splitlines() if b'"sampled"' not in line)
    )
    assert "coverage" not in json.loads(stats("--json")) and not stats().startswith("sampled log")


def test_a_trace_whose_conversation_has_another_waiting_is_not_dropped():
    """Two requests of one conversation at once: what the first wrote may be referenced by the
    second (`history: once`), so the first is kept while the second waits."""
    first_open, second_open, first_done = threading.Event(), threading.Event(), threading.Event()

    def first(x: str) -> str:
        first_open.set()
        second_open.wait(5)
        return x

    def second(x: str) -> str:
        second_open.set()
        first_done.wait(5)
        return x

    with capture(sampling={"rate": 0.0}) as events:
        config: RunnableConfig = {"callbacks": [events.handler], "metadata": {"thread_id": "t-1"}}
        other = threading.Thread(target=RunnableLambda(second, name="second").invoke, args=("b", config))
        first_open.clear()
        runner = threading.Thread(target=RunnableLambda(first, name="first").invoke, args=("a", config))
        runner.start()
        first_open.wait(5)
        other.start()
        runner.join()
        events.handler._recorder.build_queued()  # the first is decided while the second waits
        first_done.set()
        other.join()
    verdicts = {e["name"]: e["sampled"] for e in events if e["event"] == "trace.end"}
    assert verdicts["first"] == {"kept": True, "because": "conversation", "rate": 0.0}
    assert verdicts["second"] == {"kept": False, "because": "rate", "rate": 0.0}
