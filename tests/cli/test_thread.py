"""`lclog thread`: a conversation rebuilt from the logs, every message once, as the events hold it."""

from __future__ import annotations

import io
import random
import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from langchain_core.messages import HumanMessage

from lclog.cli.conversation import conversation_agent, question
from lclog.cli.main import main
from lclog.cli.thread import conversation_of, read_events
from lclog.outputs.pretty import render_pretty
from lclog.testing import CapturedEvents, capture

pytest.importorskip("langgraph")

SECRET = "jane.doe@example.com"


def talk(graph: Any, events: CapturedEvents, turns: range, thread: str = "t1") -> None:
    for n in turns:
        text = question(n, 100) + (f" mail {SECRET}" if n == 2 else "")
        config = {"configurable": {"thread_id": thread}, "callbacks": [events.handler]}
        graph.invoke({"messages": [HumanMessage(text)]}, config=config)


def full_messages(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every message an event holds in full, in the order the events hold them."""
    found: list[dict[str, Any]] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if isinstance(value.get("role"), str) and "content" in value:
                found.append(value)
                return
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    for event in events:
        walk([event.get("inputs"), event.get("outputs")])
    return found


def expected(graph: Any, thread: str = "t1") -> list[tuple[str, Any]]:
    state = graph.get_state({"configurable": {"thread_id": thread}}).values["messages"]
    return [(m.type, m.content.replace(SECRET, "[REDACTED:email]")) for m in state]


def test_rebuilds_the_conversation_as_the_events_hold_it():
    graph = conversation_agent(size=100)
    with capture() as events:
        talk(graph, events, range(1, 6))
    conversation = conversation_of("t1", read_events([io.BytesIO(b"".join(events.lines))]))
    assert [(m["role"], m["content"]) for m in conversation.messages] == expected(graph)
    assert conversation.unresolved == 0 and conversation.left_out == 0
    # Each message exactly as an event wrote it, and where it was first written.
    written = full_messages(events)
    for message, origin in zip(conversation.messages, conversation.origins, strict=True):
        assert message in written
        assert origin["event"] in ("chain.start", "chat_model.end", "tool.end") and origin["run_id"]
    assert SECRET not in orjson.dumps(conversation.as_json()).decode()


def test_rotated_files_and_two_processes(tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]):
    graph = conversation_agent(size=100)
    with capture() as first:
        talk(graph, first, range(1, 4))
    with capture() as second:  # another worker continues the thread
        talk(graph, second, range(4, 6))
    lines = first.lines + second.lines
    # rotated into three files, read in any order
    parts = [
        lines[: len(lines) // 3],
        lines[len(lines) // 3 : 2 * len(lines) // 3],
        lines[2 * len(lines) // 3 :],
    ]
    paths = []
    for i, part in enumerate(parts):
        path = tmp_path / f"lclog.jsonl.{i}"
        path.write_bytes(b"".join(part))
        paths.append(str(path))
    random.Random(7).shuffle(paths)
    assert main(["thread", "t1", *paths, "--json"]) == 0
    out = orjson.loads(capsysbinary.readouterr().out)
    assert [(m["message"]["role"], m["message"]["content"]) for m in out["messages"]] == expected(graph)
    assert out["unresolved"] == 0


@pytest.mark.parametrize("schema", ["ecs", "otel"])
def test_reads_the_ecs_and_otel_layouts(schema: str):
    graph = conversation_agent(size=100)
    with capture(schema=schema) as events:
        talk(graph, events, range(1, 4))
    conversation = conversation_of("t1", read_events([io.BytesIO(b"".join(events.lines))]))
    assert [(m["role"], m["content"]) for m in conversation.messages] == expected(graph)


def test_text_output_and_a_trace_id(capsys: pytest.CaptureFixture[str], tmp_path: Path):
    graph = conversation_agent(size=100)
    with capture() as events:
        talk(graph, events, range(1, 3))
    path = tmp_path / "log.jsonl"
    path.write_bytes(b"".join(events.lines))
    assert main(["thread", "t1", str(path)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("thread t1: 8 messages from ")
    assert "[1] " in text and "human: question 1:" in text and "→ lookup(" in text
    # A trace id: the conversation up to the end of that request, its thread's history included.
    first_turn = events[0]["trace_id"]
    assert main(["thread", first_turn.replace("-", ""), str(path), "--json"]) == 0
    out = orjson.loads(capsys.readouterr().out)
    assert [m["message"]["role"] for m in out["messages"]] == ["human", "ai", "tool", "ai"]
    assert out["unresolved"] == 0
    assert main(["thread", "no-such-thread", str(path)]) == 1


def test_pretty_shows_references_compactly():
    graph = conversation_agent(size=100)
    with capture() as events:
        talk(graph, events, range(1, 3))
    start = events.named("chat_model.start")[-1]
    line = render_pretty(start)
    assert f"…{start['history_messages']} earlier messages" in line and '"role":"history"' not in line


def test_references_to_logs_not_read_are_counted(capsys: pytest.CaptureFixture[str], tmp_path: Path):
    graph = conversation_agent(size=100)
    with capture() as events:
        talk(graph, events, range(1, 4))
    later = [
        line
        for event, line in zip(events, events.lines, strict=True)
        if event["trace_id"] != events[0]["trace_id"]
    ]
    path = tmp_path / "later.jsonl"
    path.write_bytes(b"".join(later))  # the first turn's file is gone
    assert main(["thread", "t1", str(path)]) == 0
    head = capsys.readouterr().out.splitlines()[0]
    assert head == "thread t1: 8 messages from 18 events, 4 referenced but not in these logs"


def test_a_chain_without_a_thread_is_its_trace():
    from langchain_core.language_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage
    from langchain_core.prompts import ChatPromptTemplate

    model = GenericFakeChatModel(messages=iter([AIMessage("It ships today.")]))
    chain = ChatPromptTemplate.from_messages([("system", "Be brief."), ("human", "{q}")]) | model
    with capture() as events:
        chain.invoke({"q": "When does it ship?"}, config={"callbacks": [events.handler]})
    conversation = conversation_of(events[0]["trace_id"], iter(events))
    assert [(m["role"], m["content"]) for m in conversation.messages] == [
        ("system", "Be brief."),
        ("human", "When does it ship?"),
        ("ai", "It ships today."),
    ]


def readme_conversation(tmp_path: Path) -> Path:
    """The support conversation the docs' `lclog thread` samples come from."""
    from langchain_core.messages import AIMessage
    from langchain_core.tools import tool
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, MessagesState, StateGraph
    from langgraph.prebuilt import ToolNode, tools_condition

    from lclog.cli.conversation import FakeToolChatModel

    @tool
    def track(order_id: str) -> str:
        """Where an order is."""
        return {"A-1001": "shipped Tuesday, in transit", "B-2002": "delivered Friday"}[order_id]

    def calls(order: str, n: int) -> AIMessage:
        return AIMessage("", tool_calls=[{"name": "track", "args": {"order_id": order}, "id": f"call_{n}"}])

    model = FakeToolChatModel(
        messages=iter(
            [
                calls("A-1001", 1),
                AIMessage("It shipped on Tuesday and is on its way."),
                calls("B-2002", 2),
                AIMessage("B-2002 was delivered on Friday."),
            ]
        )
    )
    graph = StateGraph(MessagesState)
    graph.add_node("agent", lambda state: {"messages": [model.invoke(state["messages"])]})
    graph.add_node("tools", ToolNode([track]))
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", tools_condition, {"tools": "tools", END: END})
    graph.add_edge("tools", "agent")
    agent = graph.compile(name="support", checkpointer=InMemorySaver())
    with capture() as events:
        for text in ("Where is my order A-1001? It was due on Monday.", "And B-2002?"):
            config = {"configurable": {"thread_id": "t-42"}, "callbacks": [events.handler]}
            agent.invoke({"messages": [HumanMessage(text)]}, config=config)
    path = tmp_path / "lclog.jsonl"
    path.write_bytes(b"".join(events.lines))
    return path


_VARYING = re.compile(
    r"\d{4}-\d\d-\d\dT[\d:.]+Z|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
)


def test_the_docs_samples_are_real_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    """Each line of docs/events.md's `lclog thread` samples is a line of the real output, in order
    (times and run ids vary from run to run)."""
    readme = (Path(__file__).resolve().parents[2] / "docs" / "events.md").read_text()
    samples = re.findall(r"```\n\$ (lclog thread [^\n]*)\n(.*?)```", readme, re.S)
    assert len(samples) == 2
    path = readme_conversation(tmp_path)
    for command, sample in samples:
        args = command.split()[1:]
        assert main([*args[:-1], str(path)]) == 0
        real = [_VARYING.sub("…", line) for line in capsys.readouterr().out.splitlines()]
        at = 0
        for line in sample.splitlines():
            if line == "…":
                continue
            wanted = _VARYING.sub("…", line)
            assert wanted in real[at:], f"{line!r} is not in the output of {command!r}"
            at = real.index(wanted, at) + 1
