"""What logging LangChain costs: lclog next to the usual alternatives, side by side in one run.

    python tests/benchmarks/bench_overhead.py [--workloads invoke,agent,stream,invoke_io] [--rounds 5]
                                              [--invokes 2000] [--flush never|wait]
                                              [--baseline PATH] [--out results.json]

Workloads (real LangChain objects on fake models):
  invoke  ChatPromptTemplate | chat model | StrOutputParser, a ~1 KB prompt carrying an email and
          an API key (8 callback events)
  invoke_io  the same, the model answering after 10 ms with the GIL released, as a provider's
          HTTP call does: what a call costs in an application that waits on the network (the
          writer thread builds and writes meanwhile; each hook starts on caches the wait left
          cold). Run only when named: its calls take 10 ms each (`--invokes 3000`: ~35 min)
  agent   a LangGraph agent making two tool calls, then answering
  stream  a chat model streaming 200 chunks; `stream_one`, the same call streaming one chunk, gives
          the per-token cost as the difference of the two (the run's start and end excluded)

Each (workload, variant) runs in a fresh process; rounds alternate the variants so machine drift
hits all alike. Inside each process the calls are timed in short blocks that alternate with
blocks of the same calls through a do-nothing handler (LangChain's own dispatch cost): the
overhead of a variant is taken from those paired differences, so the machine's noise, tens of
µs from one call to the next, and its drift cancel out. Instrumentors patch LangChain
process-wide: each is instrumented once, the handler it adds is taken, the patch undone, and the
handler passed in `callbacks=` like any other, so they are paired too. Reported per workload:
the median µs per call, the overhead (median over rounds, and its range), the overhead as a
multiple of the floor (a handler writing one small orjson line per event, recording no content;
`--variants floor_redacted_content` adds to each line the hook's content as lclog serializes and
redacts it, and nothing else lclog records), the same on the CPU clock, and a typical call's
overhead.
Two statistics of the paired differences: the mean, after the most extreme 2.5% on either side
are set aside (all the work, as an application pays it: a handler that builds its events in
batches, as lclog does every 256 events, pays for them in some blocks only), and the median (a
typical call).
  --flush never  (the default) nothing is flushed: lclog's writer delivers on its own schedule
                 (every `flush_interval_s`, or once 256 events wait, which the producer then
                 builds itself), the floor's file buffer is written when full
  --flush wait   buffering handlers are flushed at the end of every block, waiting until what
                 was queued is written: for lclog this adds a round trip to its writer thread
                 every five calls, which on a virtual machine costs more than the writing itself
Each overhead is measured on two clocks: wall time (what the caller waits) and the CPU time of
the whole process, every thread's.
`lclog_priced` is lclog with content redacted on a model that names itself (gpt-4o-mini), so each
call is priced: next to `lclog_redacted` (a fake model no price is known for) it shows what the
cost adds.
Peers that are not installed (the `bench` extra: openinference-instrumentation-langchain,
opentelemetry-instrumentation-langchain) are skipped.
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
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
    "file_callback_handler",
    "naive_structlog",
    "python_json_logger",
    "openinference",
    "openllmetry",
    "lclog_content_none",
    "lclog_redacted",
    "lclog_full",
    "lclog_sampled",
    "lclog_priced",
    "lclog_ecs",
    "lclog_stream_tokens",
]
# Variants that need a package the core install does not have.
OPTIONAL = {
    "openinference": "openinference.instrumentation.langchain",
    "openllmetry": "opentelemetry.instrumentation.langchain",
}
STREAM_CHUNKS = 200
# Calls per timed block; blocks alternate with the paired reference's. The machine's noise is
# fast (tens of µs from one call to the next), so many short pairs pin the median down best.
BLOCK = {"invoke": 5, "invoke_io": 5, "stream_one": 5, "agent": 1, "stream": 1}
# How long invoke_io's model waits for its answer.
NETWORK_S = 0.01
# The variants measured on the one-chunk stream: enough for the per-token difference.
PER_TOKEN_VARIANTS = ("noop_handler", "floor_orjson_line", "lclog_content_none", "lclog_redacted",
                      "lclog_stream_tokens")  # fmt: skip


def workload(name: str, priced: bool = False) -> tuple[Any, Any, bool]:
    """Returns (runnable, input, streamed); `priced`: the model names itself (gpt-4o-mini), so
    lclog prices each call."""
    from langchain_core.language_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage, HumanMessage
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate

    usage = {"input_tokens": 250, "output_tokens": 12, "total_tokens": 262}
    if name in ("invoke", "invoke_io"):
        named = {"model_name": "gpt-4o-mini"} if priced else {}
        reply = AIMessage(content="Here is a short answer.", usage_metadata=usage, response_metadata=named)
        chat_model = _network_bound() if name == "invoke_io" else GenericFakeChatModel
        model = chat_model(messages=itertools.cycle([reply]))
        prompt = ChatPromptTemplate.from_messages([("system", "You answer briefly."), ("human", "{q}")])
        filler = "Retrieved context: the quarterly report covers revenue, costs and hiring plans. " * 11
        question = f"{filler}Contact jane.doe@example.com, key sk-proj-Xq7vR2mT9wK4pL8nB3cF6hJ1. Summarize."
        return prompt | model | StrOutputParser(), {"q": question}, False
    if name in ("stream", "stream_one"):
        # Words and spaces: 201 chunks, or a single one.
        words = " ".join(["token"] * (STREAM_CHUNKS // 2 + 1)) if name == "stream" else "token"
        model = GenericFakeChatModel(
            messages=itertools.cycle([AIMessage(content=words, usage_metadata=usage)])
        )
        return model, "Stream something long.", True
    from lclog.cli.demo import FakeToolChatModel, build_agent

    def replies() -> Any:
        while True:
            yield AIMessage(
                content="", tool_calls=[{"name": "get_weather", "args": {"city": "Paris"}, "id": "1"}]
            )
            yield AIMessage(
                content="", tool_calls=[{"name": "get_weather", "args": {"city": "Rome"}, "id": "2"}]
            )
            yield AIMessage(content="Sunny in both.", usage_metadata=usage)

    agent = build_agent(FakeToolChatModel(messages=replies()))
    return agent, {"messages": [HumanMessage("Weather in Paris and Rome?")]}, False


def _network_bound() -> type:
    from langchain_core.language_models import GenericFakeChatModel

    class NetworkBound(GenericFakeChatModel):
        """A fake chat model whose answer takes NETWORK_S to arrive, the GIL released meanwhile."""

        def _generate(self, *args: Any, **kwargs: Any) -> Any:
            time.sleep(NETWORK_S)
            return super()._generate(*args, **kwargs)

    return NetworkBound


def make_handler(variant: str, sink: str, settings: dict[str, Any] | None = None) -> Any:
    """The variant's handler (None: no callbacks), writing to sink; `settings`: more of lclog's."""
    from langchain_core.callbacks import BaseCallbackHandler

    if variant == "no_callbacks":
        return None
    if variant == "noop_handler":

        class Noop(BaseCallbackHandler):
            run_inline = True

        return Noop()
    if variant in ("floor_orjson_line", "floor_redacted_content"):
        import orjson

        out = open(sink, "ab")  # noqa: SIM115
        snapshot = _redacted_content() if variant == "floor_redacted_content" else None

        class Floor(BaseCallbackHandler):
            run_inline = True

            def _w(self, name: str, run_id: Any, content: Any = None) -> None:
                line = {"event": name, "run_id": str(run_id), "t": time.time()}
                if snapshot is not None:
                    line["content"] = snapshot(content)
                out.write(orjson.dumps(line) + b"\n")

            def flush(self) -> None:
                out.flush()

            def on_chain_start(self, s: Any, i: Any, *, run_id: Any, **k: Any) -> None:
                self._w("chain.start", run_id, i)

            def on_chain_end(self, o: Any, *, run_id: Any, **k: Any) -> None:
                self._w("chain.end", run_id, o)

            def on_chat_model_start(self, s: Any, m: Any, *, run_id: Any, **k: Any) -> None:
                self._w("chat_model.start", run_id, m[0])

            def on_llm_end(self, r: Any, *, run_id: Any, **k: Any) -> None:
                self._w("llm.end", run_id, r.generations[0][0].message)

            def on_tool_start(self, s: Any, i: Any, *, run_id: Any, **k: Any) -> None:
                self._w("tool.start", run_id, i)

            def on_tool_end(self, o: Any, *, run_id: Any, **k: Any) -> None:
                self._w("tool.end", run_id, o)

        return Floor()
    if variant == "stdout_callback_handler":
        from langchain_core.callbacks import StdOutCallbackHandler

        sys.stdout = open(sink, "w")  # noqa: SIM115
        return StdOutCallbackHandler()
    if variant == "file_callback_handler":
        from langchain_core.callbacks import FileCallbackHandler

        return FileCallbackHandler(sink)
    if variant == "naive_structlog":
        import structlog

        structlog.configure(
            processors=[structlog.processors.TimeStamper(fmt="iso"), structlog.processors.JSONRenderer()],
            logger_factory=structlog.WriteLoggerFactory(open(sink, "w")),  # noqa: SIM115
        )
        log = structlog.get_logger()
        return _content_handler(lambda name, **kw: log.info(name, **kw))
    if variant == "python_json_logger":
        from pythonjsonlogger.json import JsonFormatter

        logger = logging.getLogger("bench")
        file_handler = logging.FileHandler(sink)
        file_handler.setFormatter(JsonFormatter())
        logger.addHandler(file_handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
        return _content_handler(lambda name, **kw: logger.info(name, extra=kw))
    if variant in OPTIONAL:
        return _instrument(variant)
    from lclog import LoggingCallbackHandler

    config: dict[str, Any] = {"outputs": [{"type": "file", "path": sink}], **(settings or {})}
    if variant == "lclog_content_none":
        config["content"] = "none"
    if variant == "lclog_ecs":
        config["schema"] = "ecs"
    if variant == "lclog_full":  # every chain run below the root too (the default before standard)
        config["verbosity"] = "full"
    if variant == "lclog_stream_tokens":
        config["stream_tokens"] = True
    if variant == "lclog_sampled":  # whole traces held until their root ends, 10% of them kept
        config["sampling"] = {"rate": 0.1}
    return LoggingCallbackHandler(config)


def _redacted_content() -> Any:
    """lclog's content snapshot alone: LangChain's objects serialized and redacted as lclog
    does, with its default limits and rules (what any line carrying redacted content costs)."""
    from lclog.events.serialize import Limits, to_jsonable
    from lclog.redact.redactor import Redactor

    limits, redactor = Limits(), Redactor()
    return lambda value: to_jsonable(value, limits, redactor)


def _content_handler(log: Any) -> Any:
    """What people write by hand: str() of every input and output, one log call per event."""
    from langchain_core.callbacks import BaseCallbackHandler

    class ByHand(BaseCallbackHandler):
        run_inline = True

        def on_chain_start(self, s: Any, inputs: Any, *, run_id: Any, **k: Any) -> None:
            log("chain.start", run_id=str(run_id), inputs=str(inputs))

        def on_chain_end(self, outputs: Any, *, run_id: Any, **k: Any) -> None:
            log("chain.end", run_id=str(run_id), outputs=str(outputs))

        def on_chat_model_start(self, s: Any, messages: Any, *, run_id: Any, **k: Any) -> None:
            log("chat_model.start", run_id=str(run_id), messages=str(messages))

        def on_llm_end(self, response: Any, *, run_id: Any, **k: Any) -> None:
            log("llm.end", run_id=str(run_id), response=str(response))

        def on_tool_start(self, s: Any, input_str: Any, *, run_id: Any, **k: Any) -> None:
            log("tool.start", run_id=str(run_id), input=str(input_str))

        def on_tool_end(self, output: Any, *, run_id: Any, **k: Any) -> None:
            log("tool.end", run_id=str(run_id), output=str(output))

    return ByHand()


class _Instrumented:
    """An instrumentor's callback handler, taken out of its process-wide patch so that it can
    be paired like any handler; its in-memory span exporter is cleared after every block."""

    def __init__(self, handler: Any, exporter: Any) -> None:
        self.handler = handler
        self.exporter = exporter


def _instrument(variant: str) -> _Instrumented:
    """Instruments once, takes the handler the instrumentor adds to every new callback manager,
    then restores `BaseCallbackManager.__init__` (OpenLLMetry's `uninstrument()` leaves its
    patch in place): the handler then runs only where it is passed in `callbacks=`."""
    from langchain_core.callbacks import CallbackManager
    from langchain_core.callbacks.base import BaseCallbackManager
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    original = BaseCallbackManager.__dict__["__init__"]
    if variant == "openinference":
        from openinference.instrumentation.langchain import LangChainInstrumentor

        LangChainInstrumentor().instrument(tracer_provider=provider)
    else:
        from opentelemetry.instrumentation.langchain import LangchainInstrumentor

        LangchainInstrumentor().instrument(tracer_provider=provider)
    (handler,) = CallbackManager([]).handlers
    BaseCallbackManager.__init__ = original  # type: ignore[method-assign]
    if CallbackManager([]).handlers:
        raise RuntimeError(f"{variant} still adds a handler to every callback manager")
    return _Instrumented(handler, exporter)


def child(workload_name: str, variant: str, calls: int, flush_mode: str = "never") -> None:
    """Times `calls` calls with the variant, in blocks alternating with a do-nothing handler;
    `flush_mode`: what a buffering handler does at the end of every block (see --flush)."""
    runnable, inputs, streamed = workload(workload_name, priced=variant == "lclog_priced")
    with tempfile.TemporaryDirectory() as tmp:
        handler = make_handler(variant, os.path.join(tmp, "sink.log"))
        clear = None  # an instrumentor's span exporter, emptied after every block
        if isinstance(handler, _Instrumented):
            handler, clear = handler.handler, handler.exporter.clear
        mine: dict[str, Any] = {"callbacks": [handler]} if handler is not None else {}
        # The paired reference: LangChain's dispatch to a handler that does nothing, in this
        # process (for no callbacks at all, the same reference shows what dispatch costs).
        reference = {"callbacks": [make_handler("noop_handler", "")]}
        flush = getattr(handler, "flush", None) if flush_mode == "wait" and clear is None else None

        def timed(config: Any, n: int, flushed: bool) -> tuple[float, float]:
            """µs per call: wall time, and CPU time of the whole process (every thread)."""
            start, cpu = time.perf_counter(), time.process_time()
            for _ in range(n):
                if streamed:
                    for _ in runnable.stream(inputs, config=config):
                        pass
                else:
                    runnable.invoke(inputs, config=config)
            if flushed and flush is not None:
                flush()  # what was queued is written before the clocks stop
            return (time.perf_counter() - start) / n * 1e6, (time.process_time() - cpu) / n * 1e6

        warm = max(1, min(200, calls // 5))  # imports, caches, DFA states
        timed(mine, warm, True)
        timed(reference, warm, False)
        size = BLOCK[workload_name]
        ours: list[tuple[float, float]] = []
        diffs: list[float] = []
        cpu_diffs: list[float] = []
        for b in range(max(1, calls // size)):
            if clear is not None:
                clear()
            if b % 2:
                base = timed(reference, size, False)
                ours.append(timed(mine, size, True))
            else:
                ours.append(timed(mine, size, True))
                base = timed(reference, size, False)
            diffs.append(ours[-1][0] - base[0])
            cpu_diffs.append(ours[-1][1] - base[1])
        if hasattr(handler, "close"):
            handler.close()
    result = {"workload": workload_name, "variant": variant,
              "us": statistics.median(w for w, _ in ours), "cpu_us": statistics.median(c for _, c in ours),
              "paired": trimmed_mean(diffs), "cpu_paired": trimmed_mean(cpu_diffs),
              "paired_median": statistics.median(diffs)}  # fmt: skip
    print(json.dumps(result), file=sys.__stdout__)


def trimmed_mean(values: list[float], cut: float = 0.025) -> float:
    """The mean once the lowest and highest `cut` of the values are set aside (a pause of the
    machine or a full garbage collection in one block would otherwise weigh on it)."""
    ordered = sorted(values)
    k = int(len(ordered) * cut)
    return statistics.fmean(ordered[k : len(ordered) - k] if len(ordered) > 2 * k else ordered)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workloads", default="invoke,agent,stream,stream_one")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--invokes", type=int, default=2000, help="calls a process (agent, stream, invoke_io: a fifth)"
    )
    parser.add_argument(
        "--flush", choices=("never", "wait"), default="never",
        help="never flush buffering handlers (their own schedule), or flush them after every "
             "timed block and wait until it is written",
    )  # fmt: skip
    parser.add_argument("--out", help="write the results as JSON here")
    parser.add_argument(
        "--baseline",
        type=os.path.abspath,
        help="a checkout of another lclog commit (`git worktree add /tmp/base <commit>`): its lclog "
        "variants run in the same rounds, as `<variant>@baseline`",
    )
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.invokes, flush_mode=args.flush)
        return
    variants = [v for v in args.variants.split(",") if v not in OPTIONAL or _has(OPTIONAL[v])]
    results: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for workload_name in args.workloads.split(","):
        if workload_name == "stream_one":
            names = [v for v in variants if v in PER_TOKEN_VARIANTS]
        else:
            names = [v for v in variants if v != "lclog_stream_tokens" or workload_name == "stream"]
        calls = args.invokes if workload_name in ("invoke", "stream_one") else args.invokes // 5
        if args.baseline:  # the lclog variants of another checkout, in the same rounds
            names += [f"{v}@baseline" for v in names if v.startswith("lclog")]
        series: dict[str, list[dict[str, Any]]] = {v: [] for v in names}
        for r in range(args.rounds):
            for name in names if r % 2 == 0 else names[::-1]:
                variant, _, other = name.partition("@")
                env = dict(os.environ)
                if other:
                    env["PYTHONPATH"] = os.pathsep.join(filter(None, [args.baseline, env.get("PYTHONPATH")]))
                proc = subprocess.run(
                    [sys.executable, __file__, "--child", workload_name, variant, "--invokes", str(calls),
                     "--flush", args.flush],
                    capture_output=True, text=True, env=env, cwd=os.path.dirname(os.path.abspath(__file__)),
                )  # fmt: skip
                if proc.returncode != 0:
                    print(f"{workload_name}/{name} failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
                    continue
                series[name].append(json.loads(proc.stdout.strip().splitlines()[-1]))
            print(f"{workload_name}: round {r + 1}/{args.rounds}", file=sys.stderr)
        results[workload_name] = series
    report(results, args.out)


def _has(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def _overheads(
    series: dict[str, list[dict[str, Any]]], clock: str = "wall"
) -> dict[str, tuple[float, float, float]]:
    """Per variant: the µs per call beyond the do-nothing handler (paired in each process; see
    `trimmed_mean`), the median over the rounds and its min and max, in wall time (what the
    caller waits), CPU time (every thread's) or a typical call's wall time (`median`)."""
    paired = {"wall": "paired", "cpu": "cpu_paired", "median": "paired_median"}[clock]
    out = {}
    for v, runs in series.items():
        if not runs:
            continue
        values = [r[paired] for r in runs]
        out[v] = (statistics.median(values), min(values), max(values))
    return out


def report(results: dict[str, dict[str, list[dict[str, Any]]]], out: str | None) -> None:
    table: dict[str, list[dict[str, Any]]] = {}
    for workload_name, series in results.items():
        over = _overheads(series)
        cpu_over = _overheads(series, "cpu")
        typical = _overheads(series, "median")
        floor = over.get("floor_orjson_line", (0.0,))[0]
        print(f"\n{workload_name}")
        print(
            f"{'variant':26s} {'µs/call':>10s} {'overhead µs':>12s} {'min..max':>15s} {'x floor':>8s} "
            f"{'CPU µs':>8s} {'min..max':>15s} {'typical':>8s}"
        )
        rows = []
        for v, (median, low, high) in over.items():
            value = statistics.median(r["us"] for r in series[v])
            ratio = median / floor if floor > 0 else float("nan")
            cpu, cpu_low, cpu_high = cpu_over[v]
            one_call = typical[v][0] if v in typical else float("nan")
            rows.append({"variant": v, "us_per_call": round(value, 1), "overhead_us": round(median, 1),
                         "overhead_min": round(low, 1), "overhead_max": round(high, 1),
                         "cpu_overhead_us": round(cpu, 1), "cpu_min": round(cpu_low, 1),
                         "cpu_max": round(cpu_high, 1), "typical_us": round(one_call, 1),
                         "x_floor": round(ratio, 2), "runs": len(series[v])})  # fmt: skip
            shown = "" if v in ("no_callbacks", "noop_handler") else f"{ratio:8.1f}"
            spread = f"{low:.1f}..{high:.1f}"
            cpu_spread = f"{cpu_low:.1f}..{cpu_high:.1f}"
            print(
                f"{v:26s} {value:10.1f} {median:12.1f} {spread:>15s} {shown:>8s} {cpu:8.1f} {cpu_spread:>15s}"
                f" {one_call:8.1f}"
            )
        table[workload_name] = rows
    if "stream" in results and "stream_one" in results:
        print(f"\nper token (stream of {STREAM_CHUNKS + 1} chunks minus a stream of one, beyond dispatch)")
        long, one = (_overheads(results[w]) for w in ("stream", "stream_one"))
        cpu_long, cpu_one = (_overheads(results[w], "cpu") for w in ("stream", "stream_one"))
        table["per_token"] = []
        for v in ("floor_orjson_line", "lclog_content_none", "lclog_redacted", "lclog_stream_tokens"):
            if v in long and v in one:
                per_token = (long[v][0] - one[v][0]) / STREAM_CHUNKS
                cpu_token = (cpu_long[v][0] - cpu_one[v][0]) / STREAM_CHUNKS
                row = {"variant": v, "us_per_token": round(per_token, 2)}
                table["per_token"].append(row | {"cpu_us_per_token": round(cpu_token, 2)})
                print(f"{v:26s} {per_token:8.2f} µs wall {cpu_token:8.2f} µs CPU")
    if out:
        with open(out, "w") as f:
            json.dump(table, f, indent=2)


if __name__ == "__main__":
    main()
