"""Your own log lines carry the run they were written in: structlog's context variables and a
stdlib logging filter, under threads, asyncio tasks, `abatch`, LangGraph's parallel nodes and
tools in executor threads; given back when the run ends, never leaked to the next request."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypedDict

import pytest
import structlog
from langchain_core.runnables import RunnableConfig, RunnableLambda, RunnableParallel
from langchain_core.tools import tool

import lclog
from lclog.testing import capture


@pytest.fixture
def app_lines() -> Iterator[list[dict[str, Any]]]:
    """structlog configured as services do (merge_contextvars first), each line kept as a dict."""
    lines: list[dict[str, Any]] = []

    def keep(logger: Any, method: str, event: dict[str, Any]) -> dict[str, Any]:
        lines.append(json.loads(json.dumps(event)))  # rendered now, as a renderer would
        raise structlog.DropEvent

    structlog.configure(processors=[structlog.contextvars.merge_contextvars, keep])
    structlog.contextvars.clear_contextvars()
    yield lines
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


log = structlog.get_logger("app")


def logs(label: str) -> Any:
    def body(x: Any) -> Any:
        log.info(label, x=x)
        return x

    return RunnableLambda(body, name=label)


def runs_by_id(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["run_id"]: e for e in events if e["event"].endswith(".start")}


def test_each_line_carries_the_run_it_was_written_in(app_lines):
    chain = logs("outer") | RunnableParallel(a=logs("left"), b=logs("right"))
    with capture(verbosity="full") as events:
        log.info("before")
        chain.invoke(1, {"callbacks": [events.handler], "configurable": {"thread_id": "t-1"}})
        log.info("after")
    runs = runs_by_id(events)
    before, *inside, after = app_lines
    assert "lclog" not in before and "lclog" not in after and lclog.current_run() is None
    assert sorted(line["event"] for line in inside) == ["left", "outer", "right"]
    for line in inside:
        ids = line["lclog"]
        run = runs[ids["run_id"]]  # the run the line was written in, as lclog logged it
        assert run["name"] == line["event"] and run["trace_id"] == ids["trace_id"]
        assert ids["thread_id"] == "t-1" == run["thread_id"]


def test_asyncio_tasks_and_abatch_never_see_each_others_runs(app_lines):
    chain = logs("step") | logs("next")

    async def request(k: int, handler: Any) -> None:
        structlog.contextvars.bind_contextvars(request_id=f"r-{k}")  # this task's own
        await asyncio.sleep(0)
        await chain.ainvoke(k, {"callbacks": [handler]})
        log.info("done", k=k)

    async def serve(handler: Any) -> None:
        await asyncio.gather(*(request(k, handler) for k in range(50)))
        await chain.abatch(list(range(100, 110)), {"callbacks": [handler]})

    with capture(verbosity="full") as events:
        asyncio.run(serve(events.handler))
    runs = runs_by_id(events)
    traces = {e["trace_id"]: e["inputs"] for e in events if e["event"] == "chain.start" and e["depth"] == 0}
    inside = [line for line in app_lines if line["event"] in ("step", "next")]
    assert len(inside) == 2 * 60
    for line in inside:
        ids = line["lclog"]
        assert runs[ids["run_id"]]["name"] == line["event"]
        assert traces[ids["trace_id"]] == line["x"]  # the request whose input this is
        if "request_id" in line:
            assert line["request_id"] == f"r-{line['x']}"
    done = [line for line in app_lines if line["event"] == "done"]
    # after its run: asyncio ends a run in a task of its own, so the value is emptied, not unset
    assert len(done) == 50 and not any(line.get("lclog") for line in done)


def test_a_tool_body_in_an_executor_thread_carries_its_run(app_lines):
    @tool
    def lookup(order: str) -> str:
        """Looks an order up (sync: LangChain runs it in an executor thread under asyncio)."""
        log.warning("order lookup slow", order=order)
        return "shipped"

    with capture(verbosity="full") as events:
        asyncio.run(lookup.ainvoke({"order": "A-1"}, {"callbacks": [events.handler]}))
    (line,) = app_lines
    (start,) = events.named("tool.start")
    assert line["lclog"]["run_id"] == start["run_id"] and line["lclog"]["trace_id"] == start["trace_id"]


def test_langgraph_parallel_nodes_carry_their_node(app_lines):
    pytest.importorskip("langgraph")
    from langgraph.graph import END, START, StateGraph

    def node(name: str) -> Any:
        def run(state: dict[str, Any]) -> dict[str, Any]:
            log.info("in node", node_name=name)
            return {name: True}

        return run

    class State(TypedDict, total=False):
        fetch: bool
        rank: bool
        summarize: bool

    builder = StateGraph(State)
    for name in ("fetch", "rank", "summarize"):
        builder.add_node(name, node(name))
    builder.add_edge(START, "fetch")
    builder.add_edge(START, "rank")  # fetch and rank run in parallel
    builder.add_edge("fetch", "summarize")
    builder.add_edge("rank", "summarize")
    builder.add_edge("summarize", END)
    graph = builder.compile()
    with capture(verbosity="full") as events:
        graph.invoke({}, {"callbacks": [events.handler]})
    runs = runs_by_id(events)
    assert len(app_lines) == 3
    for line in app_lines:
        ids = line["lclog"]
        assert ids["node"] == line["node_name"] == runs[ids["run_id"]]["node"]


def test_a_failed_or_abandoned_run_leaves_nothing_behind(app_lines):
    def fails(x: int) -> int:
        raise ValueError("no")

    def tokens(x: int) -> Iterator[int]:
        yield from range(10)

    with capture(verbosity="full") as events:
        config: RunnableConfig = {"callbacks": [events.handler]}
        with pytest.raises(ValueError):
            (logs("first") | RunnableLambda(fails)).invoke(1, config)
        assert lclog.current_run() is None
        for chunk in (logs("streamed") | RunnableLambda(tokens)).stream(1, config):
            assert lclog.current_run() is not None  # the stream's run is active meanwhile
            if chunk == 2:
                break  # the consumer walks away
        assert lclog.current_run() is None
        log.info("next request")
    assert "lclog" not in app_lines[-1]


def test_a_worker_thread_serving_one_request_after_another_starts_each_clean(app_lines):
    chain = logs("work")

    def request(k: int, handler: Any) -> Any:
        log.info("request begins", k=k)
        chain.invoke(k, {"callbacks": [handler]})
        return lclog.current_run()

    with capture() as events, ThreadPoolExecutor(max_workers=1) as pool:  # one thread, reused
        after = [pool.submit(request, k, events.handler).result() for k in range(5)]
    assert after == [None] * 5
    begins = [line for line in app_lines if line["event"] == "request begins"]
    assert len(begins) == 5 and not any("lclog" in line for line in begins)


def test_two_handlers_attached_give_the_context_back_once(app_lines):
    chain = logs("inner")
    with capture() as first, capture(content="none") as second:
        chain.invoke(1, {"callbacks": [first.handler, second.handler]})
        assert lclog.current_run() is None
    (line,) = app_lines
    assert line["lclog"]["run_id"] in runs_by_id(first)


def test_the_stdlib_filter_puts_the_ids_on_records():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    from pythonjsonlogger.json import JsonFormatter

    handler.setFormatter(JsonFormatter("{levelname}{message}", style="{"))
    handler.addFilter(lclog.RunContextFilter())
    app = logging.getLogger("tests.app")
    app.addHandler(handler)
    app.setLevel(logging.INFO)
    try:
        with capture(verbosity="full") as events:
            app.info("outside")
            RunnableLambda(lambda x: app.info("inside") or x, name="body").invoke(
                1, {"callbacks": [events.handler]}
            )
    finally:
        app.removeHandler(handler)
    outside, inside = (json.loads(line) for line in stream.getvalue().splitlines())
    assert "lclog" not in outside
    (start,) = events.named("chain.start")
    assert inside["lclog"] == {"trace_id": start["trace_id"], "run_id": start["run_id"]}


def test_run_context_off_sets_nothing(app_lines):
    with capture(run_context=False) as events:
        logs("quiet").invoke(1, {"callbacks": [events.handler]})
    (line,) = app_lines
    assert "lclog" not in line


def test_auto_sets_the_ids_once_the_app_reads_them(monkeypatch: pytest.MonkeyPatch):
    from lclog.capture import context

    monkeypatch.setattr(context, "_READERS", {"filters": 0, "processors": None, "merged": False})
    seen: list[Any] = []
    body = RunnableLambda(lambda x: seen.append(lclog.current_run()) or x, name="body")
    structlog.reset_defaults()  # structlog not configured, no filter: nothing reads them
    with capture() as events:
        body.invoke(1, {"callbacks": [events.handler]})
        lclog.RunContextFilter()
        body.invoke(2, {"callbacks": [events.handler]})
    assert seen[0] is None and seen[1]["run_id"] == events.named("chain.start")[1]["run_id"]
    monkeypatch.setattr(context, "_READERS", {"filters": 0, "processors": None, "merged": False})
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, structlog.processors.KeyValueRenderer()]
    )
    try:
        with capture() as events:
            body.invoke(3, {"callbacks": [events.handler]})
    finally:
        structlog.reset_defaults()
    assert seen[2]["run_id"] == events.named("chain.start")[0]["run_id"]
