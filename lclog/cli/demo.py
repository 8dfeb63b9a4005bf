"""Offline demo workloads: a chain, a stream, a retriever chain, a tool-calling agent and a
conversation on one thread."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableConfig, RunnableLambda, RunnablePassthrough
from langchain_core.tools import tool

from lclog.cli.conversation import FakeToolChatModel, conversation_agent, question

__all__ = ["FakeToolChatModel", "agent_messages", "build_agent", "run_demo"]

# The demo's own secrets: made-up values in the shapes real ones have, to show redaction.
DEMO_EMAIL = "jane.doe@example.com"
DEMO_API_KEY = "sk-proj-" + "Xq7vR2mT9wK4pL8nB3cF6hJ1"


def _usage(inp: int, out: int) -> dict[str, int]:
    return {"input_tokens": inp, "output_tokens": out, "total_tokens": inp + out}


def agent_messages() -> Iterator[AIMessage]:
    """Scripted replies: call get_weather, call lookup_order (which fails), then answer."""
    return iter(
        [
            AIMessage(
                content="",
                tool_calls=[{"name": "get_weather", "args": {"city": "Paris"}, "id": "call_1"}],
                usage_metadata=_usage(42, 12),
            ),
            AIMessage(
                content="",
                tool_calls=[{"name": "lookup_order", "args": {"order_id": "A-1001"}, "id": "call_2"}],
                usage_metadata=_usage(60, 14),
            ),
            AIMessage(
                content="It is sunny in Paris. I could not look up order A-1001 right now.",
                usage_metadata=_usage(85, 17),
            ),
        ]
    )


@tool
def get_weather(city: str) -> str:
    """Returns the weather for a city."""
    return f"Sunny, 21°C in {city}"


@tool
def lookup_order(order_id: str) -> str:
    """Looks up an order (always fails in the demo)."""
    raise ConnectionError(f"order service unreachable for {order_id} (token=abc123secret)")


class DemoRetriever(BaseRetriever):
    """Returns two fixed documents; one mentions an email address."""

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        return [
            Document(page_content="lclog writes one JSON event per run start and end.", metadata={"id": 1}),
            Document(page_content=f"Questions go to {DEMO_EMAIL}.", metadata={"id": 2}),
        ]


def build_agent(model: FakeToolChatModel, *, handle_tool_errors: bool = True) -> Any:
    """Returns a tool-calling agent: a LangGraph graph when langgraph is installed.

    With handle_tool_errors, a failing tool's error goes back to the model (the agent recovers);
    without, it fails the whole run.
    """
    tools = [get_weather, lookup_order]
    try:
        from langgraph.graph import END, START, MessagesState, StateGraph
        from langgraph.prebuilt import ToolNode, tools_condition
    except ImportError:
        return _loop_agent(model, tools, handle_tool_errors)

    def call_model(state: MessagesState) -> dict[str, list[BaseMessage]]:
        return {"messages": [model.bind_tools(tools).invoke(state["messages"])]}

    graph = StateGraph(MessagesState)
    graph.add_node("agent", call_model)
    graph.add_node("tools", ToolNode(tools, handle_tool_errors=handle_tool_errors))
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", tools_condition, {"tools": "tools", END: END})
    graph.add_edge("tools", "agent")
    return graph.compile(name="agent")


def _loop_agent(model: FakeToolChatModel, tools: list[Any], handle_tool_errors: bool) -> Any:
    """The same agent as a plain loop, for installs without langgraph."""
    by_name = {t.name: t for t in tools}

    def run(state: dict[str, Any]) -> dict[str, Any]:
        messages = list(state["messages"])
        for _ in range(8):
            reply = model.invoke(messages)
            messages.append(reply)
            if not reply.tool_calls:
                break
            for call in reply.tool_calls:
                try:
                    result = by_name[call["name"]].invoke(call["args"])
                except Exception as exc:  # the agent reports tool errors to the model
                    if not handle_tool_errors:
                        raise
                    result = f"Error: {exc!r}"
                messages.append(ToolMessage(content=str(result), tool_call_id=call["id"]))
        return {"messages": messages}

    return RunnableLambda(run, name="agent")


def agent_kind() -> str:
    """Which agent the demo runs here, and the run path its failing tool shows."""
    try:
        import langgraph.graph  # noqa: F401  (present or not decides the agent)
    except ImportError:
        return "a plain tool loop, since langgraph is not installed: path agent > lookup_order"
    return "a LangGraph graph: path agent > tools > lookup_order"


# The thread the demo's conversation runs on (`lclog thread demo-thread ...`).
DEMO_THREAD = "demo-thread"


def explore_commands(conversation: bool) -> list[str]:
    """The commands that explore what the demo wrote, each runnable as printed."""
    commands = [
        "lclog demo --format json 2>/dev/null > demo.jsonl",
        "lclog pretty demo.jsonl",
        "lclog stats demo.jsonl",
        "lclog stats --by trace demo.jsonl",
    ]
    if conversation:
        commands.append(f"lclog thread {DEMO_THREAD} demo.jsonl")
    commands.append("lclog report demo.jsonl -o demo.html   # then open demo.html in a browser")
    return commands


def run_demo(
    callbacks: list[BaseCallbackHandler], say: Callable[[str], None] = print, notify_note: str = ""
) -> None:
    """Runs every workload with callbacks; `say` prints a heading before each (`notify_note`
    tells where the failing tool's notification goes)."""
    config: RunnableConfig = {"callbacks": callbacks, "metadata": {"demo": "lclog"}}

    say("1. prompt | chat model | parser (the prompt carries an email and an API key)")
    replies = itertools.cycle(
        [
            AIMessage(content="Noted. I will not repeat your key.", usage_metadata=_usage(31, 9)),
            AIMessage(content="lclog logs every run as JSON.", usage_metadata=_usage(48, 8)),
        ]
    )
    model = GenericFakeChatModel(messages=replies)
    prompt = ChatPromptTemplate.from_messages(
        [("system", "You are a helpful assistant."), ("human", "{question}")]
    )
    chain = prompt | model | StrOutputParser()
    chain.invoke({"question": f"I am {DEMO_EMAIL}; my key is {DEMO_API_KEY}. Keep it safe."}, config=config)

    say("2. streaming a chat model (tokens are counted and timed, not logged one by one)")
    streamer = GenericFakeChatModel(messages=iter([AIMessage(content="Streaming one token at a time.")]))
    for _ in streamer.stream("Say something", config=config):
        pass

    say("3. a retriever chain")
    rag = (
        {"context": DemoRetriever() | RunnableLambda(_join_docs), "question": RunnablePassthrough()}
        | ChatPromptTemplate.from_template("Context: {context}\nQuestion: {question}")
        | model
        | StrOutputParser()
    )
    rag.invoke("What does lclog write?", config=config)

    say(f"4. a tool-calling agent, {agent_kind()} (lookup_order fails on purpose{notify_note})")
    agent = build_agent(FakeToolChatModel(messages=agent_messages()))
    agent.invoke({"messages": [HumanMessage("Weather in Paris, and where is order A-1001?")]}, config=config)

    try:
        conversation = conversation_agent(size=80)
    except ImportError:  # the conversation is a LangGraph graph
        return
    say("5. three turns of a conversation on one thread: messages already written are referenced")
    thread: RunnableConfig = {**config, "configurable": {"thread_id": DEMO_THREAD}}
    for turn in range(1, 4):
        conversation.invoke({"messages": [HumanMessage(question(turn, 80))]}, config=thread)


def _join_docs(docs: list[Document]) -> str:
    return "\n".join(d.page_content for d in docs)
