"""Conversations, exactly: on every shape LangGraph and LangChain make, `lclog thread` rebuilds
the thread as its checkpointer holds it, and each model call's input as the model got it — from
the log alone. Each test drives a real graph, records what every model call received with a
callback handler of its own next to lclog, and compares."""

from __future__ import annotations

import io
import operator
import threading
import time
import warnings
from collections.abc import Callable
from typing import Annotated, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, RemoveMessage, SystemMessage

from lclog.cli.thread import Conversation, conversation_of, read_events
from lclog.testing import CapturedEvents, capture

pytest.importorskip("langgraph")

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.graph.message import REMOVE_ALL_MESSAGES
from langgraph.types import Send

Said = tuple[str, Any]  # (role, content)


class Inputs(BaseCallbackHandler):
    """What each chat model call received, recorded next to lclog."""

    def __init__(self) -> None:
        self.calls: list[list[Said]] = []
        self._lock = threading.Lock()

    def on_chat_model_start(self, serialized: Any, messages: list[list[BaseMessage]], **kwargs: Any) -> None:
        with self._lock:
            self.calls.append([(m.type, m.content) for m in messages[0]])


def answers(*texts: str) -> GenericFakeChatModel:
    return GenericFakeChatModel(messages=iter([AIMessage(t) for t in texts]))


def said(messages: list[Any]) -> list[Said]:
    return [(m["role"], m["content"]) if isinstance(m, dict) else (m.type, m.content) for m in messages]


def rebuilt(events: CapturedEvents, thread: str) -> Conversation:
    """The conversation `lclog thread` reads from the JSON lines lclog wrote."""
    events.refresh()
    return conversation_of(thread, read_events([io.BytesIO(b"".join(events.lines))]))


def model_inputs(conversation: Conversation) -> list[list[Said]]:
    assert all(entry is not None for call in conversation.inputs for entry in call.messages)
    return [said([entry[0] for entry in call.messages if entry is not None]) for call in conversation.inputs]


def state_of(graph: Any, thread: str) -> list[Said]:
    return said(graph.get_state({"configurable": {"thread_id": thread}}).values["messages"])


def run(graph: Any, turns: list[str], thread: str = "t1", **settings: Any) -> tuple[CapturedEvents, Inputs]:
    seen = Inputs()
    with capture(**settings) as events:
        for text in turns:
            config = {"configurable": {"thread_id": thread}, "callbacks": [events.handler, seen]}
            graph.invoke({"messages": [HumanMessage(text)]}, config=config)
    return events, seen


def chatbot(
    model: Any, prepare: Callable[[list[BaseMessage]], list[BaseMessage]] = list, after: Any = None
) -> Any:
    """START -> model (on `prepare(state)`) [-> after] -> END, with a checkpointer."""

    def call(state: MessagesState) -> dict[str, Any]:
        return {"messages": [model.invoke(prepare(state["messages"]))]}

    graph = StateGraph(MessagesState)
    graph.add_node("model", call)
    graph.add_edge(START, "model")
    if after is None:
        graph.add_edge("model", END)
    else:
        graph.add_node("after", after)
        graph.add_edge("model", "after")
        graph.add_edge("after", END)
    return graph.compile(checkpointer=InMemorySaver())


def assert_exact(events: CapturedEvents, seen: Inputs, graph: Any, thread: str = "t1") -> Conversation:
    conversation = rebuilt(events, thread)
    assert said(conversation.messages) == state_of(graph, thread)
    assert model_inputs(conversation) == seen.calls
    assert conversation.unresolved == 0
    return conversation


def test_repeated_content_is_two_messages():
    graph = chatbot(answers("Shall I book it?", "Ok, thanks.", "Shall I book it?", "Ok, thanks."))
    events, seen = run(graph, ["Find me a flight.", "yes", "And a hotel?", "yes"])
    conversation = assert_exact(events, seen, graph)
    assert [m for m in said(conversation.messages) if m == ("human", "yes")] == [("human", "yes")] * 2
    assert len(conversation.messages) == 8


def test_same_ids_in_two_threads_stay_apart():
    graph = chatbot(answers("one", "two", "three", "four"))
    seen = Inputs()
    with capture() as events:
        for turn, thread in ((1, "a"), (1, "b"), (2, "a"), (2, "b")):
            message = HumanMessage(f"turn {turn} in {thread}", id=f"user-{turn}")  # the same ids in both
            config = {"configurable": {"thread_id": thread}, "callbacks": [events.handler, seen]}
            graph.invoke({"messages": [message]}, config=config)
    for thread in ("a", "b"):
        conversation = rebuilt(events, thread)
        assert said(conversation.messages) == state_of(graph, thread)
    a, b = rebuilt(events, "a"), rebuilt(events, "b")
    assert model_inputs(a) + model_inputs(b) == [seen.calls[0], seen.calls[2], seen.calls[1], seen.calls[3]]


def test_a_subgraph_rebuilds_exactly():
    model = answers("inner one", "inner two")

    def inner_call(state: MessagesState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    inner = StateGraph(MessagesState)
    inner.add_node("inner_model", inner_call)
    inner.add_edge(START, "inner_model")
    inner.add_edge("inner_model", END)
    outer = StateGraph(MessagesState)
    outer.add_node("sub", inner.compile())
    outer.add_edge(START, "sub")
    outer.add_edge("sub", END)
    graph = outer.compile(checkpointer=InMemorySaver())
    events, seen = run(graph, ["first question", "second question"])
    assert_exact(events, seen, graph)


class Branches(MessagesState):
    done: Annotated[list[str], operator.add]


def test_parallel_branches_finishing_in_reverse_rebuild_in_the_states_order():
    """Three branches fan out; the last in the state's order finishes first."""
    models = {name: answers(*[f"{name} answer {i}" for i in range(3)]) for name in ("a", "b", "c")}
    delays = {"a": 0.06, "b": 0.03, "c": 0.0}
    finished: list[str] = []

    def branch(name: str) -> Callable[[Branches], dict[str, Any]]:
        def node(state: Branches) -> dict[str, Any]:
            time.sleep(delays[name])
            reply = models[name].invoke(state["messages"])
            finished.append(name)
            return {"messages": [reply], "done": [name]}

        return node

    summary = answers("summary 0", "summary 1", "summary 2")
    graph = StateGraph(Branches)
    for name in ("a", "b", "c"):
        graph.add_node(name, branch(name))
        graph.add_edge(START, name)
    graph.add_node("join", lambda s: {"messages": [summary.invoke(s["messages"])]})
    graph.add_edge(["a", "b", "c"], "join")
    graph.add_edge("join", END)
    compiled = graph.compile(checkpointer=InMemorySaver())
    events, seen = run(compiled, ["compare the three", "and again"])
    assert finished == ["c", "b", "a"] * 2  # they did finish in reverse
    assert [m[1].split()[0] for m in state_of(compiled, "t1")[1:4]] == ["a", "b", "c"]  # the state's order
    conversation = rebuilt(events, "t1")
    assert said(conversation.messages) == state_of(compiled, "t1")
    assert sorted(map(str, model_inputs(conversation))) == sorted(map(str, seen.calls))
    assert_each_message_in_one_line(events, compiled)


def assert_each_message_in_one_line(events: CapturedEvents, graph: Any, thread: str = "t1") -> None:
    """Each branch's messages once: every message of the state is in the log in one line."""
    import orjson

    for _, content in state_of(graph, thread):
        needle = orjson.dumps(content)[1:-1]
        assert sum(needle in line for line in events.lines) == 1, content


def test_send_workers_rebuild_exactly():
    worker_model = answers(*[f"worker answer {i}" for i in range(6)])
    lock = threading.Lock()

    class Task(MessagesState):
        topic: str

    def worker(state: Task) -> dict[str, Any]:
        with lock:  # one fake model, shared
            reply = worker_model.invoke([*state["messages"], HumanMessage(f"about {state['topic']}")])
        return {"messages": [reply]}

    def fan_out(state: MessagesState) -> list[Send]:
        return [Send("worker", {"messages": state["messages"], "topic": t}) for t in ("x", "y", "z")]

    graph = StateGraph(MessagesState)
    graph.add_node("worker", worker)
    graph.add_conditional_edges(START, fan_out, ["worker"])
    graph.add_edge("worker", END)
    compiled = graph.compile(checkpointer=InMemorySaver())
    events, seen = run(compiled, ["split this", "split that"])
    conversation = rebuilt(events, "t1")
    assert said(conversation.messages) == state_of(compiled, "t1")
    assert sorted(map(str, model_inputs(conversation))) == sorted(map(str, seen.calls))
    assert_each_message_in_one_line(events, compiled)
    # The router's Send objects carry their messages as references, not as text.
    assert not any("Send(" in line.decode() for line in events.lines)


def test_remove_message_leaves_the_rebuild_and_is_listed_as_removed():
    def forget_oldest(state: MessagesState) -> dict[str, Any]:
        if len(state["messages"]) <= 4:
            return {}
        return {"messages": [RemoveMessage(id=m.id) for m in state["messages"][:2]]}

    graph = chatbot(answers(*[f"answer {i}" for i in range(6)]), after=forget_oldest)
    events, seen = run(graph, [f"question {i}" for i in range(6)], verbosity="full")  # every node
    conversation = assert_exact(events, seen, graph)
    assert len(conversation.messages) == 4
    gone = [f"{kind} {i}" for i in range(4) for kind in ("question", "answer")]
    assert sorted(m["content"] for m, _, _ in conversation.removed) == sorted(gone)
    # Each RemoveMessage is in the log with the id it took out, none merged with another.
    removes = {
        m["id"] for e in events for m in e.get("outputs", {}).get("messages", []) if m.get("role") == "remove"
    }
    assert len(removes) == 8


def test_remove_all_and_a_summary_replace_the_history():
    def summarize(state: MessagesState) -> dict[str, Any]:
        if len(state["messages"]) < 6:
            return {}
        return {
            "messages": [
                RemoveMessage(id=REMOVE_ALL_MESSAGES),
                SystemMessage(f"Summary of {len(state['messages'])} messages."),
            ]
        }

    graph = chatbot(answers(*[f"answer {i}" for i in range(5)]), after=summarize)
    events, seen = run(graph, [f"question {i}" for i in range(5)])
    conversation = assert_exact(events, seen, graph)
    assert conversation.messages[0]["content"].startswith("Summary of 6")
    assert len(conversation.removed) >= 6


def test_an_edit_in_place_is_the_new_version_and_the_old_one_is_listed():
    def redact_first_answer(state: MessagesState) -> dict[str, Any]:
        first = next(m for m in state["messages"] if m.type == "ai")
        if first.content == "answer 0":
            return {"messages": [AIMessage("answer 0 (edited)", id=first.id)]}
        return {}

    graph = chatbot(answers("answer 0", "answer 1", "answer 2"), after=redact_first_answer)
    events, seen = run(graph, ["question 0", "question 1", "question 2"])
    conversation = assert_exact(events, seen, graph)
    assert ("ai", "answer 0 (edited)") in said(conversation.messages)
    assert [m["content"] for m, _, _ in conversation.removed] == ["answer 0"]


def test_trimmed_inputs_rebuild_as_the_model_got_them():
    from langchain_core.messages import trim_messages

    persona = SystemMessage("You are a travel agent.")

    def prepare(messages: list[BaseMessage]) -> list[BaseMessage]:
        window = trim_messages(messages, strategy="last", token_counter=len, max_tokens=3, start_on="human")
        return [persona, *window]

    graph = chatbot(answers(*[f"answer {i}" for i in range(8)]), prepare=prepare)
    events, seen = run(graph, [f"question {i}" for i in range(8)])
    conversation = assert_exact(events, seen, graph)
    assert all(call[0] == ("system", "You are a travel agent.") for call in model_inputs(conversation))
    assert len(conversation.messages) == 16


def test_a_chat_history_session_named_only_in_configurable():
    from lclog.cli.conversation import chat_loop, question

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # RunnableWithMessageHistory is deprecated upstream
        chain = chat_loop(size=100)
    seen = Inputs()
    sizes = []
    with capture() as events:
        for n in range(1, 21):
            before = len(events.refresh().lines)
            chain.invoke(
                {"question": question(n, 100)},
                config={"configurable": {"session_id": "s1"}, "callbacks": [events.handler, seen]},
            )
            sizes.append(sum(len(line) for line in events.refresh().lines[before:]))
    model_events = [e for e in events if e["event"].startswith("chat_model")]
    assert {e.get("thread_id") for e in model_events} == {"s1"}
    conversation = rebuilt(events, "s1")
    assert model_inputs(conversation) == seen.calls
    assert len(conversation.messages) == 41  # the system prompt, 20 questions, 20 answers
    assert max(sizes[4:]) <= 1.1 * sizes[4]  # bytes per turn flat


def test_configured_thread_keys_name_the_conversation():
    graph = chatbot(answers("fine"))
    seen = Inputs()
    with capture(thread_keys=["conversation"]) as events:
        config = {
            "configurable": {"thread_id": "checkpoint-1"},
            "metadata": {"conversation": "c-9"},
            "callbacks": [events.handler, seen],
        }
        graph.invoke({"messages": [HumanMessage("hi")]}, config=config)
    assert {e.get("thread_id") for e in events if e["event"].startswith("chat_model")} == {"c-9"}
    assert model_inputs(rebuilt(events, "c-9")) == seen.calls


@pytest.mark.parametrize("schema", ["ecs", "otel"])
def test_the_ecs_and_otel_layouts_rebuild_exactly(schema: str):
    from langchain_core.messages import trim_messages

    def prepare(messages: list[BaseMessage]) -> list[BaseMessage]:
        window = trim_messages(messages, strategy="last", token_counter=len, max_tokens=3, start_on="human")
        return [SystemMessage("You are a travel agent."), *window]

    graph = chatbot(answers(*["yes"] * 6), prepare=prepare)
    events, seen = run(graph, ["yes"] * 6, schema=schema)
    conversation = assert_exact(events, seen, graph)
    assert said(conversation.messages) == [("human", "yes"), ("ai", "yes")] * 6


@given(st.data())
@settings(max_examples=150, deadline=None)
def test_any_sequence_of_lists_reads_back_exactly(data: st.DataObject):
    """Lists of messages made of earlier ones in any order, repeated, trimmed, edited in place,
    copied, or new ones saying the same things: each reads back exactly, from the log alone."""
    import orjson

    from lclog.events.history import History
    from lclog.events.serialize import to_jsonable

    texts = st.sampled_from(["yes", "no", "Ok, thanks.", "Shall I book it?", "done"])
    history = History()
    pool: list[BaseMessage] = []
    written: list[dict[str, Any]] = []
    lists: list[list[Said]] = []
    for i in range(data.draw(st.integers(1, 8))):
        for _ in range(data.draw(st.integers(0, 3))):  # new messages, some with ids, some alike
            kind = data.draw(st.sampled_from([HumanMessage, AIMessage]))
            with_id = data.draw(st.booleans())
            pool.append(kind(data.draw(texts), id=f"m{len(pool)}" if with_id else None))
        if pool and data.draw(st.booleans()):  # an edit in place: same id, new content
            j = data.draw(st.integers(0, len(pool) - 1))
            if pool[j].id is not None:
                pool[j] = type(pool[j])(pool[j].content + " (edited)", id=pool[j].id)
        if not pool:
            continue
        picks = data.draw(st.lists(st.integers(0, len(pool) - 1), min_size=1, max_size=12))
        # some as fresh copies without an id, as a chat history rebuilt from a store gives them
        copies = data.draw(st.lists(st.booleans(), min_size=len(picks), max_size=len(picks)))
        messages = [
            type(pool[j])(pool[j].content) if c else pool[j] for j, c in zip(picks, copies, strict=True)
        ]
        lists.append(said(messages))
        event = {
            "timestamp": f"2026-01-01T00:00:{i:02d}.000000Z",
            "event": "chat_model.start",
            "thread_id": "t",
            "run_id": f"run-{i}",
            "name": data.draw(st.sampled_from(["a", "b"])),
            "inputs": to_jsonable(messages),
        }
        pending = history.condense(event, "t")
        if pending:
            history.commit(pending)
        written.append(orjson.loads(orjson.dumps(event)))
    conversation = conversation_of("t", written)
    assert [said([e[0] for e in call.messages if e]) for call in conversation.inputs] == lists
    assert conversation.unresolved == 0


def test_history_full_lists_cut_at_max_items_are_filled_from_earlier_lists():
    graph = chatbot(answers(*[f"answer {i}" for i in range(8)]))
    events, seen = run(graph, [f"question {i}" for i in range(8)], history="full", max_items=6)
    assert any(
        m.get("role") == "omitted" for e in events for m in e.get("inputs") or [] if isinstance(m, dict)
    )
    conversation = assert_exact(events, seen, graph)
    assert len(conversation.messages) == 16 and conversation.left_out == 0


def test_command_updates_carry_their_messages_structurally():
    from langgraph.types import Command

    model = answers("routed answer 0", "routed answer 1")

    def route(state: MessagesState) -> Command:
        return Command(update={"messages": [model.invoke(state["messages"])]}, goto=END)

    graph = StateGraph(MessagesState)
    graph.add_node("route", route)
    graph.add_edge(START, "route")
    compiled = graph.compile(checkpointer=InMemorySaver())
    events, seen = run(compiled, ["where to?", "and now?"], verbosity="full")  # every node
    assert_exact(events, seen, compiled)
    text = b"".join(events.lines).decode()
    assert "Command(" not in text
    ends = [e for e in events if e["event"] == "chain.end" and e.get("name") == "route"]
    assert ends and all(e["outputs"]["goto"] == END for e in ends)  # a dataclass: by its fields
    assert all(e["outputs"]["update"]["messages"][0]["role"] == "history" for e in ends)
    # the model's answer is written once, where the model returned it; the Command refers to it
    assert text.count("routed answer 1") == 1
