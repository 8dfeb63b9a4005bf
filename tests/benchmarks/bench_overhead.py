"""Per-invoke cost of logging a LangChain chain: lclog next to the usual alternatives.

    python tests/benchmarks/bench_overhead.py [--rounds 5] [--invokes 2000] [--out results.json]

Workload: ChatPromptTemplate | GenericFakeChatModel | StrOutputParser with a ~1 KB prompt that
carries an email and an API key (8 callback events per invoke). Each variant runs in a fresh
process; rounds alternate the variants so machine drift hits all alike. Reported: the median
µs per invoke, the overhead beyond a do-nothing handler (LangChain's own dispatch cost), and
that overhead as a multiple of the floor (a handler writing one orjson line per event).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

VARIANTS = [
    "no_callbacks",
    "noop_handler",
    "floor_orjson_line",
    "stdout_callback_handler",
    "naive_structlog",
    "python_json_logger",
    "lclog_content_none",
    "lclog_redacted",
]


def _workload() -> tuple[Any, dict[str, Any]]:
    import itertools

    from langchain_core.language_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate

    usage = {"input_tokens": 250, "output_tokens": 12, "total_tokens": 262}
    model = GenericFakeChatModel(
        messages=itertools.cycle([AIMessage(content="Here is a short answer.", usage_metadata=usage)])
    )
    prompt = ChatPromptTemplate.from_messages([("system", "You answer briefly."), ("human", "{q}")])
    filler = "Retrieved context: the quarterly report covers revenue, costs and hiring plans. " * 11
    question = f"{filler}Contact jane.doe@example.com, key sk-proj-Xq7vR2mT9wK4pL8nB3cF6hJ1. Summarize."
    return prompt | model | StrOutputParser(), {"q": question}


def _handler(variant: str, sink: str) -> Any:
    from langchain_core.callbacks import BaseCallbackHandler

    if variant == "no_callbacks":
        return None
    if variant == "noop_handler":

        class Noop(BaseCallbackHandler):
            run_inline = True

        return Noop()
    if variant == "floor_orjson_line":
        import orjson

        out = open(sink, "ab")  # noqa: SIM115

        class Floor(BaseCallbackHandler):
            run_inline = True

            def _w(self, name: str, run_id: Any) -> None:
                out.write(orjson.dumps({"event": name, "run_id": str(run_id), "t": time.time()}) + b"\n")

            def on_chain_start(self, s: Any, i: Any, *, run_id: Any, **k: Any) -> None:
                self._w("chain.start", run_id)

            def on_chain_end(self, o: Any, *, run_id: Any, **k: Any) -> None:
                self._w("chain.end", run_id)

            def on_chat_model_start(self, s: Any, m: Any, *, run_id: Any, **k: Any) -> None:
                self._w("chat_model.start", run_id)

            def on_llm_end(self, r: Any, *, run_id: Any, **k: Any) -> None:
                self._w("llm.end", run_id)

        return Floor()
    if variant == "stdout_callback_handler":
        from langchain_core.callbacks import StdOutCallbackHandler

        sys.stdout = open(sink, "w")  # noqa: SIM115
        return StdOutCallbackHandler()
    if variant == "naive_structlog":
        import structlog

        structlog.configure(
            processors=[structlog.processors.TimeStamper(fmt="iso"), structlog.processors.JSONRenderer()],
            logger_factory=structlog.WriteLoggerFactory(open(sink, "w")),  # noqa: SIM115
        )
        log = structlog.get_logger()

        class Naive(BaseCallbackHandler):
            run_inline = True

            def on_chain_start(self, s: Any, inputs: Any, *, run_id: Any, **k: Any) -> None:
                log.info("chain.start", run_id=str(run_id), inputs=str(inputs))

            def on_chain_end(self, outputs: Any, *, run_id: Any, **k: Any) -> None:
                log.info("chain.end", run_id=str(run_id), outputs=str(outputs))

            def on_chat_model_start(self, s: Any, messages: Any, *, run_id: Any, **k: Any) -> None:
                log.info("chat_model.start", run_id=str(run_id), messages=str(messages))

            def on_llm_end(self, response: Any, *, run_id: Any, **k: Any) -> None:
                log.info("llm.end", run_id=str(run_id), response=str(response))

        return Naive()
    if variant == "python_json_logger":
        from pythonjsonlogger.json import JsonFormatter

        logger = logging.getLogger("bench")
        handler = logging.FileHandler(sink)
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False

        class Pjl(BaseCallbackHandler):
            run_inline = True

            def on_chain_start(self, s: Any, inputs: Any, *, run_id: Any, **k: Any) -> None:
                logger.info("chain.start", extra={"run_id": str(run_id), "inputs": str(inputs)})

            def on_chain_end(self, outputs: Any, *, run_id: Any, **k: Any) -> None:
                logger.info("chain.end", extra={"run_id": str(run_id), "outputs": str(outputs)})

            def on_chat_model_start(self, s: Any, messages: Any, *, run_id: Any, **k: Any) -> None:
                logger.info("chat_model.start", extra={"run_id": str(run_id), "messages": str(messages)})

            def on_llm_end(self, response: Any, *, run_id: Any, **k: Any) -> None:
                logger.info("llm.end", extra={"run_id": str(run_id), "response": str(response)})

        return Pjl()
    from lclog import LoggingCallbackHandler

    content = "none" if variant == "lclog_content_none" else "redacted"
    return LoggingCallbackHandler({"content": content, "outputs": [{"type": "file", "path": sink}]})


def _child(variant: str, invokes: int) -> None:
    chain, inputs = _workload()
    with tempfile.TemporaryDirectory() as tmp:
        handler = _handler(variant, os.path.join(tmp, "sink.log"))
        config = {"callbacks": [handler]} if handler is not None else {}
        for _ in range(200):  # warm up: imports, caches, DFA states
            chain.invoke(inputs, config=config)
        samples = []
        batch = 100
        start_all = time.perf_counter()
        for _ in range(invokes // batch):
            t0 = time.perf_counter()
            for _ in range(batch):
                chain.invoke(inputs, config=config)
            samples.append((time.perf_counter() - t0) / batch * 1e6)
        if hasattr(handler, "close"):
            handler.close()  # lclog: the queued events are written before the clock stops
        total_us = (time.perf_counter() - start_all) / (invokes // batch * batch) * 1e6
    result = {"variant": variant, "median_us": statistics.median(samples), "total_us": total_us}
    print(json.dumps(result), file=sys.__stdout__)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--invokes", type=int, default=2000)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--out", help="write the results as JSON here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.invokes)
        return
    variants = args.variants.split(",")
    results: dict[str, list[float]] = {v: [] for v in variants}
    for r in range(args.rounds):
        order = variants if r % 2 == 0 else variants[::-1]
        for variant in order:
            proc = subprocess.run(
                [sys.executable, __file__, "--child", variant, "--invokes", str(args.invokes)],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            line = proc.stdout.strip().splitlines()[-1]
            results[variant].append(json.loads(line)["total_us"])
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)
    med = {v: statistics.median(s) for v, s in results.items()}
    base = med.get("noop_handler", 0.0)
    floor = med.get("floor_orjson_line", 0.0) - base
    print(f"{'variant':26s} {'µs/invoke':>10s} {'overhead µs':>12s} {'x floor':>8s}")
    table = []
    for v in variants:
        over = med[v] - base
        ratio = over / floor if floor > 0 else float("nan")
        row = {"variant": v, "us_per_invoke": round(med[v], 1), "overhead_us": round(over, 1)}
        row["x_floor"] = round(ratio, 2)
        table.append(row)
        shown = "" if v in ("no_callbacks", "noop_handler") else f"{ratio:8.1f}"
        print(f"{v:26s} {med[v]:10.1f} {over:12.1f} {shown:>8s}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"rounds": args.rounds, "invokes": args.invokes, "results": table}, f, indent=2)


if __name__ == "__main__":
    main()
