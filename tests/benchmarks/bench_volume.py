"""How much a long conversation logs: `history: once` next to `history: full`, in one run.

    python tests/benchmarks/bench_volume.py [--turns 40] [--size 400] [--out results.json]
                                            [--workloads agent,react,chat] [--variants once,full,...]

Workloads (real LangChain objects on fake models, no network):
  agent  a LangGraph agent with a checkpointer on one thread_id: per turn the user's message, a
         tool call, the tool's result and the answer (4 messages of ~400 characters)
  react  the same turns through LangGraph's prebuilt `create_react_agent` (whose router returns
         `Send` objects carrying the state)
  chat   prompt | chat model wrapped in RunnableWithMessageHistory on one session_id (named only
         in `configurable`): per turn the user's message and the answer

Variants: `once` and `full`, `once` with `verbosity: standard` (fewer events a turn), and
`content: none` (the events alone: what any content mode adds to). For each (workload, variant)
the conversation runs twice side by side in one process, turn for
turn: once through lclog (file output) and once through a do-nothing handler, so both see the same
history at the same turn. Reported: bytes lclog wrote at turns 1/10/20/40 and in total, the total
as a multiple of the conversation's own JSON size (its messages as `messages_to_dict` gives them),
how many of the conversation's messages `lclog thread` recovers from the file (in order, exactly
as the model saw them: these messages hold no secret, so redaction leaves them as they are), how
many model calls `lclog thread --inputs` gives exactly as a recording handler saw them, the most
lines any one message's text is in, and the overhead per turn (median over turns of lclog's turn
time minus the do-nothing handler's).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from typing import Any

import orjson

WORKLOADS = ("agent", "react", "chat")
# name -> config: the two `history` modes, and two references: `once` writing fewer events per
# turn, and the events alone with no content at all (the floor any content mode adds to).
VARIANTS = {
    "once": {"history": "once"},
    "full": {"history": "full"},
    "once+standard": {"history": "once", "verbosity": "standard"},
    "content none": {"content": "none"},
}
SHOWN_TURNS = (1, 5, 10, 20, 40, 60)


def _conversation(workload: str, size: int) -> tuple[Any, Any]:
    """(runnable, a function turn -> (input, config keys))"""
    from langchain_core.messages import HumanMessage

    from lclog.cli.conversation import chat_loop, conversation_agent, question

    if workload == "agent":
        return conversation_agent(size), lambda turn: {"messages": [HumanMessage(question(turn, size))]}
    if workload == "react":
        return _react_agent(size), lambda turn: {"messages": [HumanMessage(question(turn, size))]}
    return chat_loop(size), lambda turn: {"question": question(turn, size)}


def _react_agent(size: int) -> Any:
    import warnings

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.prebuilt import create_react_agent

    from lclog.cli.conversation import FakeToolChatModel, lookup, replies

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecated in favour of langchain's create_agent
        return create_react_agent(
            FakeToolChatModel(messages=replies(size)), [lookup], checkpointer=InMemorySaver()
        )


def _messages(workload: str, runnable: Any, config: dict[str, Any]) -> list[dict[str, Any]]:
    from langchain_core.messages import messages_to_dict

    if workload in ("agent", "react"):
        messages = runnable.get_state(config).values["messages"]
    else:
        messages = runnable.get_session_history(config["configurable"]["session_id"]).messages
    return messages_to_dict(messages)


def run(workload: str, variant: str, turns: int, size: int) -> dict[str, Any]:
    from langchain_core.callbacks import BaseCallbackHandler

    from lclog import LoggingCallbackHandler
    from lclog.cli.thread import conversation_of, read_events

    class Noop(BaseCallbackHandler):
        run_inline = True

    class Inputs(BaseCallbackHandler):
        def __init__(self) -> None:
            self.calls: list[list[tuple[str, Any]]] = []

        def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
            self.calls.append([(m.type, m.content) for m in messages[0]])

    seen = Inputs()

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "events.jsonl")
        handler = LoggingCallbackHandler({**VARIANTS[variant], "outputs": [{"type": "file", "path": path}]})
        logged, reference = _conversation(workload, size), _conversation(workload, size)
        key = "session_id" if workload == "chat" else "thread_id"
        config = {"configurable": {key: "conversation-1"}, "callbacks": [handler, seen]}
        ref_config = {"configurable": {key: "conversation-1"}, "callbacks": [Noop()]}
        per_turn, overheads, before = [], [], 0
        for turn in range(1, turns + 1):
            t0 = time.perf_counter()
            reference[0].invoke(reference[1](turn), config=ref_config)
            t1 = time.perf_counter()
            logged[0].invoke(logged[1](turn), config=config)
            t2 = time.perf_counter()
            overheads.append((t2 - t1) - (t1 - t0))
            handler.flush()
            now = os.path.getsize(path)
            per_turn.append(now - before)
            before = now
        handler.close()
        messages = _messages(workload, logged[0], {"configurable": {key: "conversation-1"}})
        own = len(orjson.dumps(messages))
        with open(path, "rb") as f:
            recovered = conversation_of("conversation-1", read_events([f]))
        with open(path, "rb") as f:
            lines = f.read().splitlines()
    expected = [(m["data"]["type"], m["data"]["content"]) for m in messages]
    texts = {
        m["data"]["content"]
        for m in messages
        if isinstance(m["data"]["content"], str) and m["data"]["content"]
    }
    inputs = [
        [(e[0].get("role"), e[0].get("content")) if e else None for e in call.messages]
        for call in recovered.inputs
    ]
    got = iter([(m.get("role"), m.get("content")) for m in recovered.messages])
    return {
        "workload": workload,
        "variant": variant,
        "per_turn": per_turn,
        "total": sum(per_turn),
        "own": own,
        "messages": len(expected),
        # the conversation's messages found in order among those `lclog thread` rebuilt (which
        # also has the prompt's system message, which the chat loop's history does not keep)
        "recovered": sum(1 for e in expected if e in got),
        "calls": len(seen.calls),
        "inputs_exact": sum(1 for a, b in zip(inputs, seen.calls, strict=False) if a == b)
        if len(inputs) == len(seen.calls)
        else 0,
        # the most lines one message's text is in (its JSON-escaped form)
        "max_lines": max((sum(1 for line in lines if _escaped(t) in line) for t in texts), default=0),
        "overhead_us": statistics.median(overheads) * 1e6,
    }


def _escaped(text: str) -> bytes:
    return orjson.dumps(text)[1:-1]


def report(results: list[dict[str, Any]], turns: int) -> None:
    shown = [t for t in SHOWN_TURNS if t <= turns]
    head = " ".join(f"{'turn ' + str(t):>11}" for t in shown)
    print(f"{'workload':<8} {'variant':<14} {head} {'total':>11} {'x conv':>7} {'recovered':>11} "
          f"{'inputs':>11} {'lines':>5} {'last/5':>7} {'overhead/turn':>14}")  # fmt: skip
    for r in results:
        cols = " ".join(f"{r['per_turn'][t - 1]:>11,}" for t in shown)
        growth = r["per_turn"][-1] / r["per_turn"][min(4, len(r["per_turn"]) - 1)]
        print(
            f"{r['workload']:<8} {r['variant']:<14} {cols} {r['total']:>11,} {r['total'] / r['own']:>7.2f} "
            f"{r['recovered']:>5}/{r['messages']:<5} {r['inputs_exact']:>5}/{r['calls']:<5} "
            f"{r['max_lines']:>5} {growth:>7.2f} {r['overhead_us']:>11,.0f} µs"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--turns", type=int, default=40)
    parser.add_argument("--size", type=int, default=400)
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--out")
    args = parser.parse_args()
    results = [
        run(w, h, args.turns, args.size) for w in args.workloads.split(",") for h in args.variants.split(",")
    ]
    report(results, args.turns)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
