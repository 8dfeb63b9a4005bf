"""What each call writes, in lines and bytes, under `verbosity: full`, `standard` and `standard`
with whole-trace sampling, in one run.

    python tests/benchmarks/bench_sampling.py [--calls 1000] [--fail-every 50] [--out results.json]

Workloads (real LangChain objects on fake models, no network):
  invoke  ChatPromptTemplate | chat model | StrOutputParser, a ~1 KB prompt
  chain3  three such steps in one chain (three model calls a request)
  react   one turn of LangGraph's prebuilt `create_react_agent` with a checkpointer (a tool
          call, the tool's result, the answer), a new thread per turn

Every `--fail-every`-th request fails (its last step raises), as a real service's do now and
then: `sampling` keeps those whole. For each (workload, variant) the calls run in one process,
written to a file; reported: lines and bytes per request, and how many requests were kept whole.
The per-call cost of holding traces is measured by `bench_overhead.py --variants
noop_handler,lclog_redacted,lclog_sampled` (paired, wall time).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import sys
import tempfile
import warnings
from typing import Any

VARIANTS: dict[str, dict[str, Any]] = {
    "full": {"verbosity": "full"},
    "standard": {"verbosity": "standard"},
    "standard + sampling 10%": {"verbosity": "standard", "sampling": {"rate": 0.1}},
}
WORKLOADS = ("invoke", "chain3", "react")


class Failed(Exception):
    pass


def _step(k: int) -> Any:
    from langchain_core.language_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate

    usage = {"input_tokens": 250, "output_tokens": 12, "total_tokens": 262}
    reply = AIMessage(content=f"Step {k}: a short answer.", usage_metadata=usage)
    model = GenericFakeChatModel(messages=itertools.cycle([reply]))
    prompt = ChatPromptTemplate.from_messages([("system", "You answer briefly."), ("human", "{q}")])
    return prompt | model | StrOutputParser() | (lambda text: {"q": text})


def workload(name: str, fail_every: int) -> tuple[Any, Any]:
    """(runnable, call number -> input); a failing request raises `Failed` at its end."""
    from langchain_core.messages import HumanMessage
    from langchain_core.runnables import RunnableLambda

    def check(value: Any, config: Any) -> Any:
        if config["metadata"].get("fails"):
            raise Failed("the request's last step failed")
        return value

    filler = "Retrieved context: the quarterly report covers revenue, costs and hiring plans. " * 11
    if name == "react":
        from langgraph.checkpoint.memory import InMemorySaver
        from langgraph.prebuilt import create_react_agent

        from lclog.cli.conversation import FakeToolChatModel, lookup, question, replies

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # deprecated in favour of langchain's create_agent
            agent = create_react_agent(
                FakeToolChatModel(messages=replies(400)), [lookup], checkpointer=InMemorySaver()
            )
        return agent | RunnableLambda(check), lambda i: {"messages": [HumanMessage(question(i, 400))]}
    steps = [_step(k) for k in range(3 if name == "chain3" else 1)]
    chain = steps[0]
    for step in steps[1:]:
        chain = chain | step
    return chain | RunnableLambda(check), lambda i: {"q": f"{filler}Question {i}: summarize."}


def run(name: str, variant: str, calls: int, fail_every: int) -> dict[str, Any]:
    from lclog import LoggingCallbackHandler

    runnable, make_input = workload(name, fail_every)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "out.jsonl")
        config = {"outputs": [{"type": "file", "path": path}], **VARIANTS[variant]}
        handler = LoggingCallbackHandler(config)
        for i in range(calls):
            fails = i % fail_every == fail_every - 1
            call = {
                "callbacks": [handler],
                "metadata": {"fails": fails},
                "configurable": {"thread_id": f"t-{i}"},
            }
            with contextlib.suppress(Failed):
                runnable.invoke(make_input(i), config=call)
        handler.close()
        with open(path, "rb") as f:
            data = f.read()
    lines = data.splitlines()
    kept = sum(1 for line in lines if b'"trace.end"' in line and b'"kept":true' in line)
    return {
        "workload": name,
        "variant": variant,
        "calls": calls,
        "lines_per_call": len(lines) / calls,
        "bytes_per_call": len(data) / calls,
        "kept": kept if "sampling" in VARIANTS[variant] else calls,
        "failed": calls // fail_every,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--fail-every", type=int, default=50)
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--out")
    args = parser.parse_args()
    results = []
    print(f"{'workload':8} {'variant':26} {'lines/call':>10} {'bytes/call':>10} {'kept':>10}")
    for name in args.workloads.split(","):
        for variant in VARIANTS:
            r = run(name, variant, args.calls, args.fail_every)
            results.append(r)
            print(
                f"{name:8} {variant:26} {r['lines_per_call']:10.2f} {r['bytes_per_call']:10.0f} "
                f"{r['kept']:>5}/{r['calls']}",
                flush=True,
            )
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=2)
    sys.exit(0)


if __name__ == "__main__":
    main()
