"""`history: once` through real LangGraph graphs with a checkpointer: every message written once
per conversation, references only to what was written, the newest never cut."""

from __future__ import annotations

import threading
import warnings
from collections import Counter
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import structlog
from langchain_core.messages import HumanMessage

from lclog.cli.conversation import chat_loop, conversation_agent, question
from lclog.events.history import History
from lclog.events.serialize import to_jsonable
from lclog.testing import capture

pytest.importorskip("langgraph")


def turn(graph: Any, handler: Any, thread: str, n: int, size: int = 120) -> None:
    config = {"configurable": {"thread_id": thread}, "callbacks": [handler]}
    graph.invoke({"messages": [HumanMessage(question(n, size))]}, config=config)


def walk(value: Any) -> Iterator[dict[str, Any]]:
    """Every message and reference in an event's content, in order."""
    if isinstance(value, dict):
        if value.get("role") == "history" or ("role" in value and "content" in value):
            yield value
            return
        for v in value.values():
            yield from walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from walk(v)


def conversation(event: dict[str, Any]) -> str:
    return event.get("thread_id") or event["trace_id"]


FIELDS = ("inputs", "outputs", "data", "interrupts", "tool_input")


def check_references(events: list[dict[str, Any]]) -> Counter[tuple[str, str]]:
    """Fails on a reference to a number its writer had not given before, in the same
    conversation (to a message written in full, or to a list numbered whole with `as`); returns
    how often each (conversation, message) was written in full."""
    numbered: set[tuple[str, str, int]] = set()
    written: Counter[tuple[str, str]] = Counter()

    def check(value: Any, conv: str, writer: str | None, name: str) -> None:
        if isinstance(value, dict):
            if value.get("role") == "history":
                assert writer, f"{name} refers to messages without naming their writer"
                for seq in range(value["from"], value["from"] + value["messages"]):
                    assert (conv, writer, seq) in numbered, f"{name} refers to unwritten {seq}"
            elif isinstance(value.get("role"), str) and "content" in value:
                if value["role"] != "remove":
                    if "seq" in value:
                        numbered.add((conv, writer, value["seq"]))
                    said = {k: v for k, v in value.items() if k not in ("id", "seq")}
                    written[(conv, orjson.dumps(said, option=orjson.OPT_SORT_KEYS).decode())] += 1
            else:
                for v in value.values():
                    check(v, conv, writer, name)
        elif isinstance(value, list):
            for v in value:
                check(v, conv, writer, name)
            start = next((v["as"] for v in value if isinstance(v, dict) and "as" in v), None)
            if start is not None:
                size = sum(
                    v["messages"] if v.get("role") == "history" else 1
                    for v in value
                    if isinstance(v, dict) and (v.get("role") == "history" or "content" in v)
                )
                numbered.update((conv, writer, n) for n in range(start, start + size))

    for event in events:
        for field in FIELDS:
            check(event.get(field), conversation(event), event.get("history_writer"), event["event"])
    return written


def messages_of(graph: Any, thread: str) -> list[Any]:
    return graph.get_state({"configurable": {"thread_id": thread}}).values["messages"]


def test_each_message_is_written_once_and_turns_stay_flat():
    graph = conversation_agent(size=200)
    sizes = []
    with capture() as events:
        for n in range(1, 16):
            before = len(events.refresh().lines)
            turn(graph, events.handler, "t1", n, size=200)
            sizes.append(sum(len(line) for line in events.refresh().lines[before:]))
    written = check_references(events)
    state = messages_of(graph, "t1")
    assert len(state) == 60
    # Every message of the thread is in the log in full, once (a graph's input and a tool's
    # result are first seen before LangGraph gives them an id: the same objects, referenced).
    assert len(written) == 60 and set(written.values()) == {1}
    # What a turn writes does not grow with the conversation.
    assert max(sizes[1:]) <= 1.1 * min(sizes[1:])
    # Later model calls carry their history as a reference and say how much it stands for.
    last_start = events.named("chat_model.start")[-1]
    (ref,) = last_start["inputs"]
    assert ref == {"role": "history", "from": 0, "messages": 59} and last_start["history_messages"] == 59


def test_history_full_writes_the_whole_history_every_time():
    graph = conversation_agent(size=100)
    with capture(history="full") as events:
        for n in range(1, 4):
            turn(graph, events.handler, "t1", n)
    assert not any(e.get("history_messages") for e in events)
    last_start = events.named("chat_model.start")[-1]
    assert [m["role"] for m in last_start["inputs"]] == ["human", "ai", "tool", "ai", "human", "ai", "tool",
                                                         "ai", "human", "ai", "tool"]  # fmt: skip


def test_threads_interleaved_in_one_process_and_from_threads():
    graph = conversation_agent(size=80)
    with capture() as events:
        for n in range(1, 4):
            for thread in ("a", "b"):
                turn(graph, events.handler, thread, n)

        def talk(thread: str) -> None:
            for n in range(4, 8):
                turn(graph, events.handler, thread, n)

        workers = [threading.Thread(target=talk, args=(t,)) for t in ("a", "b", "c")]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    written = check_references(events)
    for thread in ("a", "b", "c"):
        # (the threads share one scripted model, so how many tool calls each got varies)
        state = messages_of(graph, thread)
        mine = {said: count for (conv, said), count in written.items() if conv == thread}
        # Each message of the thread in full once, and nothing of another thread's.
        assert len(mine) == len(state) >= 8 and all(count == 1 for count in mine.values())


def test_a_second_handler_writes_the_history_it_has_not_written_again():
    graph = conversation_agent(size=80)
    with capture(verbosity="full") as first:
        for n in range(1, 4):
            turn(graph, first.handler, "t1", n)
    with capture(verbosity="full") as second:  # a restart, or another worker taking the thread over
        turn(graph, second.handler, "t1", 4)
    check_references(first)
    written = check_references(second)  # its own output is whole: no reference to the first's
    assert len(written) == 16
    # The first event that holds the thread's state writes it in full; the model's start,
    # right after, refers to it.
    node = next(e for e in second if e["event"] == "chain.start" and e["name"] == "agent")
    assert [m["role"] for m in node["inputs"]["messages"]][:4] == ["human", "ai", "tool", "ai"]
    assert second.named("chat_model.start")[0]["history_messages"] == 13


@pytest.mark.parametrize(
    "config",
    [
        {"sample_rate": 0.5},
        {"level": "warning"},
        {"verbosity": "minimal"},
        {"verbosity": "standard"},
        {"events": {"chat_model.start": "drop", "chain.start": "debug"}},
        {"processors": ["tests.events.test_history:drop_model_starts"]},
        {"sampling": {"rate": 0.5}},
        {"sampling": {"rate": 0.5}, "processors": ["tests.events.test_history:drop_model_starts"]},
    ],
    ids=["sampled", "level", "minimal", "standard", "events", "processor", "by-outcome", "by-outcome-inline"],
)
def test_no_reference_to_an_event_that_was_not_written(config: dict[str, Any]):
    graph = conversation_agent(size=80)
    with capture(**config) as events:
        for n in range(1, 13):
            # a thread per trace, so sampling keeps some turns and drops others
            turn(graph, events.handler, "t1", n)
    written = check_references(events)
    if "sampling" in config:  # some turns kept whole, the others dropped whole
        kept = [e["sampled"]["kept"] for e in events if e["event"] == "trace.end"]
        assert len(kept) == 12 and 0 < sum(kept) < 12
    if config.get("level") == "warning":
        assert not events
    elif "sample_rate" not in config and "sampling" not in config:
        # What was written covers the whole conversation: the root's end holds every message.
        assert len(written) == 48


def drop_model_starts(logger: Any, method: str, event: dict[str, Any]) -> dict[str, Any]:
    """A processor that drops every chat model start (used by the test above)."""
    if event.get("event") == "chat_model.start":
        raise structlog.DropEvent
    return event


def test_a_chat_loop_with_a_session_id_in_metadata():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # RunnableWithMessageHistory is deprecated upstream
        chain = chat_loop(size=100)
    with capture(verbosity="full") as events:
        for n in range(1, 6):
            chain.invoke(
                {"question": question(n, 100)},
                config={
                    "configurable": {"session_id": "s1"},
                    "metadata": {"session_id": "s1"},
                    "callbacks": [events.handler],
                },
            )
    written = check_references(events)
    assert {e["thread_id"] for e in events} == {"s1"}
    assert all("session_id" not in e.get("metadata", {}) for e in events)
    # The system prompt and the answers once each; each question twice: as the prompt's message,
    # and as the copy the history stores (another object, without an id: another message)
    questions = [count for (_, text), count in written.items() if '"role":"human"' in text]
    # (the last question's stored copy is read at a next turn, which never comes)
    assert len(written) == 11 and questions == [2, 2, 2, 2, 1]


def test_forgotten_conversations_are_written_in_full_again():
    """Memory is bounded: a conversation that fell out is numbered anew and written in full."""
    history = History(max_known=6)  # entries: one a message here (by its id)
    first = [HumanMessage(f"message {i}", id=f"m{i}") for i in range(4)]
    second = [HumanMessage(f"other {i}", id=f"o{i}") for i in range(4)]

    def written_in_full(messages: list[HumanMessage], conversation: str) -> list[str]:
        event = {"inputs": to_jsonable(messages)}
        pending = history.condense(event, conversation)
        if pending is not None:
            history.commit(pending)
        return [m["id"] for m in event["inputs"] if m["role"] != "history"]

    assert written_in_full(first, "a") == ["m0", "m1", "m2", "m3"]
    assert written_in_full(first, "a") == []  # known: referenced
    assert written_in_full(second, "b") == ["o0", "o1", "o2", "o3"]
    assert len(history) <= 6  # the least recently used conversation is forgotten
    assert written_in_full(second, "b") == []
    assert written_in_full(first, "a") == ["m0", "m1", "m2", "m3"]  # forgotten: in full again
    # One conversation past the bound starts over rather than grow.
    long = [HumanMessage(f"long {i}", id=f"l{i}") for i in range(10)]
    assert len(written_in_full(long, "c")) == 10
    assert len(history) <= 6


def test_ecs_and_otel_layouts_carry_references():
    graph = conversation_agent(size=80)
    for schema, content in (("ecs", lambda e: e["gen_ai"]), ("otel", lambda e: e["attributes"])):
        with capture(schema=schema) as events:
            for n in range(1, 3):
                turn(graph, events.handler, f"t-{schema}", n)
        text = orjson.dumps(events).decode()
        assert '\\"role\\":\\"history\\"' in text
        field = "lclog" if schema == "ecs" else "attributes"
        with_refs = [
            e for e in events if (e[field].get("history_messages") or e[field].get("lclog.history_messages"))
        ]
        assert with_refs and all(content(e) for e in with_refs)


def test_without_a_thread_an_agent_loop_is_a_conversation_from_its_second_model_call():
    from lclog.cli.conversation import FakeToolChatModel
    from lclog.cli.demo import agent_messages, build_agent

    agent = build_agent(FakeToolChatModel(messages=agent_messages()))
    with capture() as events:
        agent.invoke(
            {"messages": [HumanMessage("Weather in Paris?")]}, config={"callbacks": [events.handler]}
        )
    # (whether the first call's events are built before the second call starts decides whether
    # they are referenced too; either way nothing refers to what was not written)
    written = check_references(events)
    third = events.named("chat_model.start")[2]
    assert third["history_messages"] >= 3 and third["inputs"][0]["role"] == "history"
    # each message of the loop in full once, or twice if written before the loop was seen
    assert written and all(count <= 2 for count in written.values())


def test_a_single_model_call_without_a_thread_is_written_as_it_is():
    from langchain_core.language_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage
    from langchain_core.prompts import ChatPromptTemplate

    chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | GenericFakeChatModel(
        messages=iter([AIMessage("fine")])
    )
    with capture() as events:
        chain.invoke({"q": "how are you?"}, config={"callbacks": [events.handler]})
    assert not any("history_messages" in e for e in events)
    (start,) = events.named("chat_model.start")
    assert start["inputs"] == [{"role": "human", "content": "how are you?"}]
