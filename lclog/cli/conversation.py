"""Offline multi-turn conversations: a LangGraph agent on one thread, a chat loop with history,
and the fake tool-calling model they (and the demo's agent) run on."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.tools import tool

__all__ = ["FakeToolChatModel", "chat_loop", "conversation_agent", "question", "replies"]


class FakeToolChatModel(GenericFakeChatModel):
    """GenericFakeChatModel that accepts `bind_tools`, for agents on scripted replies."""

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> FakeToolChatModel:
        return self


# Filler that makes a message about `size` characters, different per turn.
_WORDS = [
    "the",
    "order",
    "shipped",
    "from",
    "the",
    "warehouse",
    "on",
    "tuesday",
    "and",
    "tracking",
    "shows",
    "it",
    "in",
    "transit",
    "now",
]


def _text(turn: int, kind: str, size: int) -> str:
    words = [f"{kind} {turn}:"]
    i = turn
    while sum(len(w) + 1 for w in words) < size:
        words.append(_WORDS[i % len(_WORDS)])
        i += 7
    return " ".join(words)


def question(turn: int, size: int = 400) -> str:
    """The user's message of a turn, about `size` characters."""
    return _text(turn, "question", size)


def replies(size: int = 400, tools: bool = True) -> Iterator[AIMessage]:
    """The model's scripted replies, forever: per turn a tool call then an answer (or an answer
    alone without tools), with usage."""
    usage = {"input_tokens": 100, "output_tokens": 20, "total_tokens": 120}
    turn = 0
    while True:
        turn += 1
        if tools:
            yield AIMessage(
                content="",
                tool_calls=[{"name": "lookup", "args": {"query": f"order {turn}"}, "id": f"call_{turn}"}],
                usage_metadata=usage,
            )
        yield AIMessage(content=_text(turn, "answer", size), usage_metadata=usage)


@tool
def lookup(query: str) -> str:
    """Looks up an order's status."""
    return _text(len(query), f"result for {query}", 400)


def conversation_agent(size: int = 400) -> Any:
    """A LangGraph agent (model -> tool -> model per turn) with an in-memory checkpointer: invoke
    it with `{"configurable": {"thread_id": ...}}` and only the new message; the graph keeps the
    history. Needs langgraph."""
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, MessagesState, StateGraph
    from langgraph.prebuilt import ToolNode, tools_condition

    model = FakeToolChatModel(messages=replies(size))

    def call_model(state: MessagesState) -> dict[str, list[BaseMessage]]:
        return {"messages": [model.invoke(state["messages"])]}

    graph = StateGraph(MessagesState)
    graph.add_node("agent", call_model)
    graph.add_node("tools", ToolNode([lookup]))
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", tools_condition, {"tools": "tools", END: END})
    graph.add_edge("tools", "agent")
    return graph.compile(name="conversation", checkpointer=InMemorySaver())


def chat_loop(size: int = 400) -> Any:
    """A prompt | chat model chain wrapped in RunnableWithMessageHistory (in-memory history per
    `session_id`): invoke it with `{"question": ...}` and `{"configurable": {"session_id": ...}}`
    (and `"metadata": {"session_id": ...}`, which names the conversation in lclog's events)."""
    from langchain_core.chat_history import BaseChatMessageHistory
    from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
    from langchain_core.runnables.history import RunnableWithMessageHistory

    class History(BaseChatMessageHistory):  # langchain-core's InMemoryChatMessageHistory, deprecated
        def __init__(self) -> None:
            self.messages: list[Any] = []

        def add_messages(self, messages: Any) -> None:
            self.messages.extend(messages)

        def clear(self) -> None:
            self.messages = []

    histories: dict[str, History] = {}
    model = FakeToolChatModel(messages=replies(size, tools=False))
    prompt = ChatPromptTemplate.from_messages(
        [
            ("system", "You answer questions about orders."),
            MessagesPlaceholder("history"),
            ("human", "{question}"),
        ]
    )
    return RunnableWithMessageHistory(
        prompt | model,
        lambda session_id: histories.setdefault(session_id, History()),
        input_messages_key="question",
        history_messages_key="history",
    )
