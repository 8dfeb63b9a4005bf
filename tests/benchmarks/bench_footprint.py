"""What lclog holds in memory: per open run, per queued capture and per built event waiting.

    python tests/benchmarks/bench_footprint.py [--n 5000] [--baseline PATH]

Counted with tracemalloc (Python allocations, every thread's) in one process per commit:
  open run        a run started and not ended (what `max_open_runs` bounds): `n` chat-model
                  runs opened through the handler's hooks, as LangChain calls them
  queued capture  a hook's capture waiting for the writer, not yet built (the writer stalled):
                  `n` calls of `invoke` (~1 KB prompt, 8 events each), per event
  built event     the same events once built and waiting for a stalled output, per event:
                  the line kept at its size, the dict only when an output reads it
`--baseline PATH` (a checkout of another commit) runs the same in a process of its own.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tracemalloc
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_overhead import workload


def _measure(action: Any) -> int:
    gc.collect()
    before = tracemalloc.get_traced_memory()[0]
    kept = action()
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    del kept
    return after - before


def child(n: int) -> dict[str, float]:
    from langchain_core.messages import HumanMessage

    import lclog
    from lclog.outputs import Output

    class Stalled(Output):
        """An output the writer never reaches (its rounds are held back), reading no dicts."""

        name = "stalled"

        def write(self, items: Any) -> None:
            pass

    tracemalloc.start()
    handler = lclog.LoggingCallbackHandler(
        outputs=[Stalled()], queue_size=10 * n * 8, max_queue_bytes=1 << 34
    )
    source = handler._recorder.source
    message = [[HumanMessage("Where is my order A-1001? " * 20)]]

    def open_runs() -> list[Any]:
        ids = [uuid.uuid4() for _ in range(n)]
        for run_id in ids:
            handler.on_chat_model_start({"name": "Model"}, message, run_id=run_id, metadata={"user": "u-1"})
        handler.flush()  # their start events written: what stays is the runs
        return ids

    per_run = _measure(open_runs) / n
    source._lock.acquire()  # the writer cannot build meanwhile: every capture stays queued
    runnable, payload, _ = workload("invoke")
    config = {"callbacks": [handler]}
    runnable.invoke(payload, config=config)  # warm: caches filled before counting
    events_before = len(source._captured)
    writer_round = source._help
    source._help = lambda: None  # the producer does not build either

    def queue_calls() -> None:
        for _ in range(n):
            runnable.invoke(payload, config=config)

    queued = _measure(queue_calls)
    events = len(source._captured) - events_before
    source._help = writer_round

    def build() -> None:
        source._build(len(source._captured), waits=True)  # compact, as events waiting are kept

    built = queued + _measure(build)
    source._lock.release()
    return {
        "per_open_run_bytes": per_run,
        "per_queued_capture_bytes": queued / events,
        "per_built_event_bytes": built / events,
        "events": events,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--baseline")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.n)))
        return
    rows = [("this commit", None)] + ([("baseline", args.baseline)] if args.baseline else [])
    print(f"{'':14} {'open run B':>11} {'queued capture B':>17} {'built event B':>14}")
    for label, path in rows:
        env = dict(os.environ)
        if path:
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [path, env.get("PYTHONPATH")]))
        command = [sys.executable, __file__, "--child", "--n", str(args.n)]
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
        r = json.loads(done.stdout.strip().splitlines()[-1])
        run, queued, built = (
            r["per_open_run_bytes"],
            r["per_queued_capture_bytes"],
            r["per_built_event_bytes"],
        )
        print(f"{label:14} {run:11,.0f} {queued:17,.0f} {built:14,.0f}")


if __name__ == "__main__":
    main()
