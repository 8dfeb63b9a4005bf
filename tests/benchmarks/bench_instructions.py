"""What a call costs in instructions executed, counted by valgrind: repeatable where time is noise.

    python tests/benchmarks/bench_instructions.py [--workload invoke] [--variants ...]
                                                  [--calls 100,300] [--warm 100] [--gc on]
                                                  [--without build,render,trace_end,metrics]
                                                  [--baseline PATH] [--settings JSON] [--jobs 2]

On a shared virtual machine one call's time moves by tens of µs and the machine by a third from
hour to hour; the instructions a call executes barely move. Each variant runs twice under
`valgrind --tool=cachegrind`, which counts every thread's instructions: 100 warm-up calls, then
100 calls in one run and 300 in the other (`--warm`, `--calls`; an agent call takes 50 times
longer: `--calls 20,60 --warm 20`). The difference of the two totals, divided by the difference
of their calls, is what one call executes, with start-up, warm-up and shutdown cancelled out.
Two runs of the same variant agree within about 1% of a call's instructions (±25,000 of lclog's
overhead on `invoke`: what depends on the clock, as LangChain's time-ordered run ids, and on when
threads switch, varies); now and then one run lands ~90,000 higher (two in twenty here): run a
figure that stands out again. The overhead is that minus the do-nothing handler's (LangChain's own
dispatch). Instructions are not time (a cache miss costs hundreds of them, a system call's are
not counted): they show where work is added or saved, and the wall-clock benchmark
(bench_overhead.py) what it costs.

Python's cyclic garbage collector runs when allocations pile up; now and then it collects the
whole heap (LangChain's, pydantic's and every module's objects), a step of millions of
instructions that falls in one run's window and not in the other's, adding up to 250,000 to a
call's count. `--gc off` disables it once everything is imported: the work itself, without
the collector's steps.

lclog runs with `flush_interval_s: 60`, so that its writer thread wakes only when the calling
thread hands it 256 events and at close, as it does under load: its wake-ups on a timer, which
run 50 times as often under valgrind as the calls slow down, would otherwise be counted too.
Every event is built, rendered and written either way, and counted once.

  --baseline PATH  a checkout of another lclog commit (`git worktree add /tmp/base <commit>`):
                   its lclog variants run next to these, as `<variant>@baseline`
  --without PARTS  each lclog variant again with one part of lclog's work taken out, as
                   `<variant>-without-<part>`; the difference is what that part executes:
                   build (hooks only: nothing is built, rendered or written), render (events
                   built but not stamped, rendered or written; the default layout),
                   trace_end (`events: {trace.end: drop}`), metrics (run totals not counted)
  --settings JSON  more lclog settings for its variants (`'{"verbosity": "standard"}'`): what a
                   configuration choice costs or saves
Peers that are not installed (the `bench` extra) are skipped; valgrind must be on the PATH.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_overhead import OPTIONAL, _has, _Instrumented, make_handler, workload

VARIANTS = [
    "noop_handler",
    "floor_orjson_line",
    "floor_redacted_content",
    "openllmetry",
    "lclog_content_none",
    "lclog_redacted",
    "lclog_ecs",
]
PARTS = ("build", "render", "trace_end", "metrics")
_REFS = re.compile(r"I\s+refs:\s+([\d,]+)")
_SETTINGS = "BENCH_LCLOG_SETTINGS"  # --settings, handed to the child


def _without(handler: Any, part: str) -> None:
    """Replaces one step of lclog's work with one that does nothing (through private names,
    which only a benchmark may use)."""
    recorder = handler._recorder
    if part == "build":
        recorder.source._process = lambda capture: None
    elif part == "render":
        from lclog.capture.parts import event_step

        recorder.pipeline.plain = lambda event: (event, b"", None)
        recorder.source._process = event_step(recorder.events, recorder.pipeline, recorder.history)
    elif part == "metrics":
        recorder.metrics.started = recorder.metrics.ended = lambda *args, **kwargs: None


def child(workload_name: str, variant: str, warm: int, calls: int, collect: bool) -> None:
    """Makes warm + calls calls through the variant, then closes it; prints the lines it wrote."""
    runnable, inputs, streamed = workload(workload_name)
    variant, _, part = variant.partition("-without-")
    settings: dict[str, Any] = {"flush_interval_s": 60, **json.loads(os.environ.get(_SETTINGS, "{}"))}
    if part == "trace_end":
        settings["events"] = {"trace.end": "drop"}
    with tempfile.TemporaryDirectory() as tmp:
        sink = os.path.join(tmp, "sink.log")
        handler = make_handler(variant, sink, settings)
        if isinstance(handler, _Instrumented):
            handler = handler.handler
        if part:
            _without(handler, part)
        if not collect:
            gc.disable()
        config = {"callbacks": [handler]} if handler is not None else {}
        for _ in range(warm + calls):
            if streamed:
                for _ in runnable.stream(inputs, config=config):
                    pass
            else:
                runnable.invoke(inputs, config=config)
        if hasattr(handler, "close"):
            handler.close()
        lines = None
        if variant.startswith("lclog"):
            lines = 0.0
            if os.path.exists(sink):  # with nothing rendered, the file was never opened
                with open(sink, "rb") as written:
                    lines = sum(1 for _ in written) / (warm + calls)
    print(json.dumps({"lines": lines}))


def count(
    workload_name: str, variant: str, warm: int, calls: int, collect: bool, baseline: str | None
) -> tuple[int, Any]:
    """Runs one child under cachegrind: (instructions, what the child printed)."""
    env = dict(os.environ, PYTHONHASHSEED="0")
    if baseline:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [baseline, env.get("PYTHONPATH")]))
    proc = subprocess.run(
        ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
         sys.executable, __file__, "--child", workload_name, variant, str(warm), str(calls),
         "on" if collect else "off"],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    found = _REFS.search(proc.stderr)
    if proc.returncode != 0 or found is None:
        raise RuntimeError(f"{variant} ({calls} calls) failed:\n{proc.stderr[-2000:]}")
    return int(found.group(1).replace(",", "")), json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workload", default="invoke", choices=("invoke", "agent", "stream"))
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--calls", default="100,300", help="the calls of the two runs")
    parser.add_argument("--warm", type=int, default=100, help="warm-up calls before them")
    parser.add_argument("--gc", choices=("on", "off"), default="on", help="the garbage collector")
    parser.add_argument("--baseline", help="a checkout of another lclog commit")
    parser.add_argument("--without", default="", help=f"parts to take out in turn: {', '.join(PARTS)}")
    parser.add_argument(
        "--settings", help='more lclog settings for its variants, as JSON: \'{"verbosity": "standard"}\''
    )
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        name, variant, warm, calls, collect = args.child
        child(name, variant, int(warm), int(calls), collect == "on")
        return
    low_calls, high_calls = (int(n) for n in args.calls.split(","))
    if args.settings:
        json.loads(args.settings)  # fails here, not in every child
        os.environ[_SETTINGS] = args.settings
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (Debian: apt-get install valgrind)")
    named = [v for v in args.variants.split(",") if v != "noop_handler"]
    # The do-nothing handler always runs: every overhead is taken against it.
    variants = ["noop_handler", *(v for v in named if v not in OPTIONAL or _has(OPTIONAL[v]))]
    parts = [p for p in args.without.split(",") if p]
    if set(parts) - set(PARTS):
        sys.exit(f"--without: one of {', '.join(PARTS)}")
    runs = [(v, None) for v in variants]
    runs += [(f"{v}-without-{p}", None) for v in variants if v.startswith("lclog") for p in parts]
    if args.baseline:
        runs += [(v, os.path.abspath(args.baseline)) for v in variants if v.startswith("lclog")]
    jobs = [(v, base, n) for v, base in runs for n in (low_calls, high_calls)]
    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        collect = args.gc == "on"
        done = list(
            pool.map(lambda job: count(args.workload, job[0], args.warm, job[2], collect, job[1]), jobs)
        )
    totals = {(v, base, n): result for (v, base, n), result in zip(jobs, done, strict=True)}
    per_call = {}  # (variant, baseline) -> (instructions per call, lines written per call)
    for v, base in runs:
        (low, _), (high, printed) = totals[v, base, low_calls], totals[v, base, high_calls]
        per_call[v, base] = ((high - low) / (high_calls - low_calls), printed["lines"])
    noop = per_call[("noop_handler", None)][0]
    floor = per_call.get(("floor_orjson_line", None), (noop,))[0] - noop
    collector = "" if args.gc == "on" else ", the garbage collector off"
    print(f"\n{args.workload}: instructions per call (cachegrind, every thread{collector})")
    head = ("variant", "per call", "overhead", "x floor", "lines", "per line", "x baseline")
    print("{:40s} {:>11s} {:>10s} {:>8s} {:>6s} {:>9s} {:>10s}".format(*head))
    for v, base in runs:
        total, lines = per_call[v, base]
        over = total - noop
        name = f"{v}@baseline" if base else v
        ratio = f"{over / floor:8.1f}" if floor > 0 and v != "noop_handler" else ""
        per_line = f"{over / lines:9,.0f}" if lines else ""
        against = per_call.get((v, os.path.abspath(args.baseline))) if args.baseline and not base else None
        versus = f"{over / (against[0] - noop):10.2f}" if against else ""
        shown = f"{lines:6.1f}" if lines else ""
        print(f"{name:40s} {total:11,.0f} {over:10,.0f} {ratio:>8s} {shown:>6s} {per_line:>9s} {versus:>10s}")


if __name__ == "__main__":
    main()
