"""How much a long conversation logs: `history: once` next to `history: full`, in one run.

    python tests/benchmarks/bench_volume.py [--turns 40] [--size 400] [--out results.json]
                                            [--workloads agent,chat] [--variants once,full,...]

Workloads (real LangChain objects on fake models, no network):
  agent  a LangGraph agent with a checkpointer on one thread_id: per turn the user's message, a
         tool call, the tool's result and the answer (4 messages of ~400 characters)
  chat   prompt | chat model wrapped in RunnableWithMessageHistory on one session_id: per turn
         the user's message and the answer

Variants: `once` and `full`, `once` with `verbosity: standard` (fewer events a turn), and
`content: none` (the events alone: what any content mode adds to). For each (workload, variant)
the conversation runs twice side by side in one process, turn for
turn: once through lclog (file output) and once through a do-nothing handler, so both see the same
history at the same turn. Reported: bytes lclog wrote at turns 1/10/20/40 and in total, the total
as a multiple of the conversation's own JSON size (its messages as `messages_to_dict` gives them),
how many of the conversation's messages `lclog thread` recovers from the file (in order, exactly
as the model saw them: these messages hold no secret, so redaction leaves them as they are), and
the overhead per turn (median over turns of lclog's turn time minus the do-nothing handler's).
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

WORKLOADS = ("agent", "chat")
# name -> config: the two `history` modes, and two references: `once` writing fewer events per
# turn, and the events alone with no content at all (the floor any content mode adds to).
VARIANTS = {
    "once": {"history": "once"},
    "full": {"history": "full"},
    "once+standard": {"history": "once", "verbosity": "standard"},
    "content none": {"content": "none"},
}
SHOWN_TURNS = (1, 10, 20, 40)


def _conversation(workload: str, size: int) -> tuple[Any, Any]:
    """(runnable, a function turn -> (input, config keys))"""
    from langchain_core.messages import HumanMessage

    from lclog.cli.conversation import chat_loop, conversation_agent, question

    if workload == "agent":
        return conversation_agent(size), lambda turn: {"messages": [HumanMessage(question(turn, size))]}
    return chat_loop(size), lambda turn: {"question": question(turn, size)}


def _messages(workload: str, runnable: Any, config: dict[str, Any]) -> list[dict[str, Any]]:
    from langchain_core.messages import messages_to_dict

    if workload == "agent":
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

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "events.jsonl")
        handler = LoggingCallbackHandler({**VARIANTS[variant], "outputs": [{"type": "file", "path": path}]})
        logged, reference = _conversation(workload, size), _conversation(workload, size)
        key = "thread_id" if workload == "agent" else "session_id"
        # LangGraph copies thread_id into every run's metadata; a chat loop names its session there.
        config = {
            "configurable": {key: "conversation-1"},
            "metadata": {key: "conversation-1"},
            "callbacks": [handler],
        }
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
    expected = [(m["data"]["type"], m["data"]["content"]) for m in messages]
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
        "overhead_us": statistics.median(overheads) * 1e6,
    }


def report(results: list[dict[str, Any]], turns: int) -> None:
    shown = [t for t in SHOWN_TURNS if t <= turns]
    head = " ".join(f"{'turn ' + str(t):>11}" for t in shown)
    print(f"{'workload':<8} {'variant':<14} {head} {'total':>11} {'x conv':>7} {'recovered':>11} "
          f"{'turn 40/1':>9} {'overhead/turn':>14}")  # fmt: skip
    for r in results:
        cols = " ".join(f"{r['per_turn'][t - 1]:>11,}" for t in shown)
        growth = r["per_turn"][-1] / r["per_turn"][0]
        print(
            f"{r['workload']:<8} {r['variant']:<14} {cols} {r['total']:>11,} {r['total'] / r['own']:>7.2f} "
            f"{r['recovered']:>5}/{r['messages']:<5} {growth:>9.2f} {r['overhead_us']:>11,.0f} µs"
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
