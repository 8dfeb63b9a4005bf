"""LangGraph: interrupts and resumes reach lclog, however the application orders its imports."""

from __future__ import annotations

import json
import operator
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest

pytest.importorskip("langgraph")

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, Send, interrupt

from lclog import LoggingCallbackHandler
from lclog.outputs import MemoryOutput


def handler(**config: Any) -> tuple[LoggingCallbackHandler, MemoryOutput]:
    memory = MemoryOutput()
    return LoggingCallbackHandler(config, outputs=[memory]), memory


class State(TypedDict):
    request: str
    approved: str


def approval_graph() -> Any:
    def ask(state: State) -> dict[str, str]:
        answer = interrupt({"question": f"approve {state['request']}?"})
        return {"approved": answer}

    graph = StateGraph(State)
    graph.add_node("ask", ask)
    graph.add_edge(START, "ask")
    graph.add_edge("ask", END)
    return graph.compile(checkpointer=InMemorySaver(), name="approval")


def test_interrupt_and_resume_are_not_errors(tracer):
    h, memory = handler()
    graph = approval_graph()
    cfg = {"callbacks": [h, tracer], "configurable": {"thread_id": str(uuid.uuid4())}}
    first = graph.invoke({"request": "refund", "approved": ""}, config=cfg)
    assert "__interrupt__" in first
    done = graph.invoke(Command(resume="yes"), config=cfg)
    assert done["approved"] == "yes"
    h.close()
    names = [e["event"] for e in memory.events]
    assert not any(n.endswith(".error") for n in names)
    interrupted = [
        e for e in memory.events if e.get("outcome") == "interrupted" and e["event"] != "trace.end"
    ]
    # each request's line says how its graph run ended
    assert [e["outcome"] for e in memory.events if e["event"] == "trace.end"] == ["interrupted", "ok"]
    assert interrupted and all(
        e["event"].endswith(".end") and e["reason"] == "GraphInterrupt" for e in interrupted
    )
    assert "chain.interrupt" in names and "chain.resume" in names
    # The graph returned normally when it paused, but its run did not finish: the root says so.
    roots = [e for e in memory.events if e["event"] == "chain.end" and e["depth"] == 0]
    assert [e["outcome"] for e in roots] == ["interrupted", "ok"]
    (pause,) = [e for e in memory.events if e["event"] == "chain.interrupt"]
    assert pause["interrupts"] == [{"question": "approve refund?"}] and pause["checkpoint_id"]
    ask = [e for e in memory.events if e.get("node") == "ask"]
    assert ask and all(e["step"] is not None for e in ask)


def test_a_handler_built_before_langgraph_is_imported_still_sees_interrupts(tmp_path):
    # The handler built at startup, the graph's modules imported afterwards: a fresh process, as
    # in production, so that LangGraph is really not imported yet when the handler is built.
    log = tmp_path / "events.jsonl"
    script = textwrap.dedent(
        """
        import sys, uuid
        from lclog import LoggingCallbackHandler

        handler = LoggingCallbackHandler({"outputs": [{"type": "file", "path": sys.argv[1]}]})
        assert "langgraph" not in sys.modules
        from langgraph.types import Command
        from tests.integrations.test_langgraph import approval_graph

        graph = approval_graph()
        config = {"callbacks": [handler], "configurable": {"thread_id": str(uuid.uuid4())}}
        graph.invoke({"request": "refund", "approved": ""}, config=config)
        graph.invoke(Command(resume="yes"), config=config)
        handler.close()
        """
    )
    root = Path(__file__).parents[2]  # the script imports the graph from this test module
    done = subprocess.run(
        [sys.executable, "-c", script, str(log)], capture_output=True, text=True, timeout=120, cwd=root
    )
    assert done.returncode == 0, done.stderr[-2000:]
    events = [json.loads(line) for line in log.read_text().splitlines()]
    names = [e["event"] for e in events]
    assert "chain.interrupt" in names and "chain.resume" in names
    assert [e["outcome"] for e in events if e["event"] == "trace.end"] == ["interrupted", "ok"]


def test_an_instrumented_process_says_the_graph_paused(tmp_path):
    # LangGraph sends on_interrupt only to handlers in config["callbacks"]; instrument()'s handler
    # still learns it from the interrupted node, and every run above it ends `interrupted`.
    import lclog

    lclog.instrument(
        {"verbosity": "full", "outputs": [{"type": "file", "path": str(tmp_path / "events.jsonl")}]}
    )
    try:
        graph = approval_graph()
        config: Any = {"configurable": {"thread_id": str(uuid.uuid4())}}
        graph.invoke({"request": "refund", "approved": ""}, config=config)
        graph.invoke(Command(resume="yes"), config=config)
    finally:
        lclog.uninstrument()
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    ends = [(e["name"], e["outcome"]) for e in events if e["event"] == "chain.end"]
    assert ends == [("ask", "interrupted"), ("approval", "interrupted"), ("ask", "ok"), ("approval", "ok")]
    assert [e["outcome"] for e in events if e["event"] == "trace.end"] == ["interrupted", "ok"]
    paused = [e for e in events if e["event"] == "chain.end" and e["outcome"] == "interrupted"]
    assert all(e["reason"] == "GraphInterrupt" for e in paused)


class FanState(TypedDict):
    messages: Annotated[list[Any], operator.add]


def test_send_objects_a_router_returns_are_logged_by_their_fields_and_redacted_before_any_cut():
    # A router fans out with Send: its output used to be the objects' repr(), every message of the
    # state in one string, cut at max_field_chars before redaction.
    key = "sk-proj-Xq7vR2mT9wK4pL8nB3cF6hJ1aZ0yQ5"
    filler = "lorem ipsum " * 16  # the key straddles the 200-character cut of the old repr

    def route(state: FanState) -> list[Send]:
        return [Send("worker", {"messages": state["messages"]})]

    def worker(state: FanState) -> dict[str, list[Any]]:
        return {"messages": [AIMessage("done")]}

    graph = StateGraph(FanState)
    graph.add_node("worker", worker)
    graph.add_conditional_edges(START, route, ["worker"])
    graph.add_edge("worker", END)
    h, memory = handler(verbosity="full", max_field_chars=200)
    graph.compile().invoke({"messages": [HumanMessage(filler + key)]}, {"callbacks": [h]})
    h.close()
    routed = [e for e in memory.events if e["event"] == "chain.end" and e["name"] == "route"]
    (sent,) = routed[0]["outputs"]
    assert sent["_type"] == "Send" and sent["node"] == "worker"
    (message,) = sent["arg"]["messages"]
    assert message["role"] == "human" and "[REDACTED:openai_key]" in message["content"]
    written = b"\n".join(memory.lines).decode()
    assert "Send(node=" not in written and "Xq7vR2mT" not in written
