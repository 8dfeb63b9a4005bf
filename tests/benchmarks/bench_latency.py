"""Latency as an application sees it: calls spaced by a provider's wait, timed in the caller.

    python tests/benchmarks/bench_latency.py [--calls 400] [--wait-ms 20] [--rounds 3]
                                             [--baseline PATH] [--out results.json]

The workload is `invoke` of bench_overhead.py (`prompt | chat model | parser`, a ~1 KB prompt
holding an email and an API key), its model answering after `--wait-ms` with the GIL released,
as a provider's HTTP call does. Per call it reports:

  caller p50 / p99 µs  the time the calling thread spends inside the handler's hooks (each hook
                       timed with perf_counter_ns around it, in the calling thread)
  CPU µs / call        the CPU the whole process uses per call, every thread's (the writer's
                       included), beyond the do-nothing handler's, from the process clock

Variants: the do-nothing handler (LangChain's own dispatch), the floor (one orjson line per event
written in the caller, no content), lclog as it runs (its writer thread builds, renders and writes
off the call) and `lclog_inline`: the same handler with every event built, rendered and written
in the calling thread, the writer thread left idle — the design's trade-off, side by side.
Each (variant, round) runs in a fresh process; rounds alternate the variants.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_overhead import make_handler, workload

VARIANTS = ("noop_handler", "floor_orjson_line", "lclog_redacted", "lclog_inline")
HOOKS = (
    "on_chain_start",
    "on_chain_end",
    "on_chat_model_start",
    "on_llm_end",
    "on_llm_new_token",
    "on_chain_error",
    "on_llm_error",
)


def _timed(handler: Any, spent: list[int]) -> None:
    """Wraps the handler's hooks so that the time each takes in the calling thread adds up in
    spent[0] (ns)."""
    for name in HOOKS:
        hook = getattr(handler, name, None)
        if hook is None:
            continue

        def timed(*args: Any, _hook: Any = hook, **kwargs: Any) -> Any:
            start = time.perf_counter_ns()
            try:
                return _hook(*args, **kwargs)
            finally:
                spent[0] += time.perf_counter_ns() - start

        setattr(handler, name, timed)


def _inline(handler: Any) -> None:
    """Every capture built, rendered and written in the calling thread (the writer left idle)."""
    recorder = handler._recorder
    source = recorder.source
    process = recorder._process

    def write_now(capture: Any) -> None:
        rendered = process(capture)
        if rendered is not None:
            event, line, _ = rendered
            for output in source.outputs:
                output.write([(event, line)])

    recorder._submit = write_now


def timed_calls(runnable: Any, payload: Any, config: Any, spent: list[int], calls: int) -> list[float]:
    """The calls timed (profile_threads.py looks for this frame): µs in the hooks, per call."""
    per_call: list[float] = []
    for _ in range(calls):
        before = spent[0]
        runnable.invoke(payload, config=config)
        per_call.append((spent[0] - before) / 1000)
    return per_call


def child(variant: str, calls: int, wait_ms: float) -> dict[str, Any]:
    """One process: `calls` calls after a tenth as many to warm up."""
    import gc

    import bench_overhead

    bench_overhead.NETWORK_S = wait_ms / 1000
    runnable, payload, _ = workload("invoke_io")
    sink = tempfile.mktemp(prefix="lclog-latency-")
    handler = make_handler("lclog_redacted" if variant == "lclog_inline" else variant, sink)
    if variant == "lclog_inline":
        _inline(handler)
    spent = [0]
    _timed(handler, spent)
    config = {"callbacks": [handler]}
    for _ in range(max(1, calls // 10)):
        runnable.invoke(payload, config=config)
    if hasattr(handler, "flush"):
        handler.flush()
    gc.collect()
    cpu_start = time.process_time()
    per_call = timed_calls(runnable, payload, config, spent, calls)
    if hasattr(handler, "flush"):
        handler.flush()  # what the calls queued is written, and its CPU counted
    cpu = time.process_time() - cpu_start
    if hasattr(handler, "close"):
        handler.close()
    if os.path.exists(sink):
        os.unlink(sink)
    per_call.sort()
    return {
        "variant": variant,
        "caller_p50_us": statistics.median(per_call),
        "caller_p99_us": per_call[int(len(per_call) * 0.99) - 1],
        "cpu_us_per_call": cpu / calls * 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--wait-ms", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument(
        "--baseline", help="a checkout of another commit: its lclog variants, as `<v>@baseline`"
    )
    parser.add_argument("--out")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.calls, args.wait_ms)))
        return
    names = args.variants.split(",")
    if args.baseline:
        names += [f"{v}@baseline" for v in names if v == "lclog_redacted"]
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for round_ in range(args.rounds):
        print(f"round {round_ + 1}/{args.rounds}", file=sys.stderr)
        for name in names:
            variant, _, base = name.partition("@")
            env = dict(os.environ)
            if base:
                env["PYTHONPATH"] = os.pathsep.join(filter(None, [args.baseline, env.get("PYTHONPATH")]))
            command = [sys.executable, __file__, "--child", variant, "--calls", str(args.calls)]
            done = subprocess.run(
                [*command, "--wait-ms", str(args.wait_ms)],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            results[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
    noop_cpu = statistics.median(r["cpu_us_per_call"] for r in results["noop_handler"])
    print(f"\ninvoke, the model answering after {args.wait_ms:g} ms; medians of {args.rounds} rounds")
    print(f"{'variant':28} {'caller p50 µs':>14} {'caller p99 µs':>14} {'CPU µs/call':>12}")
    table = {}
    for name, runs in results.items():
        row = {
            "caller_p50_us": statistics.median(r["caller_p50_us"] for r in runs),
            "caller_p99_us": statistics.median(r["caller_p99_us"] for r in runs),
            "cpu_us_per_call": statistics.median(r["cpu_us_per_call"] for r in runs) - noop_cpu,
        }
        table[name] = row
        p50, p99, cpu = row["caller_p50_us"], row["caller_p99_us"], row["cpu_us_per_call"]
        print(f"{name:28} {p50:14.1f} {p99:14.1f} {cpu:12.1f}")
    if args.out:
        Path(args.out).write_text(json.dumps({"args": vars(args), "results": table}, indent=2))


if __name__ == "__main__":
    main()
