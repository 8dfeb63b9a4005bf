"""Memory over a million runs: resident set size stays flat, runs that never end are evicted.

    python tests/benchmarks/bench_memory.py [--runs 1000000] [--every 100000]

One handler (content redacted, JSON lines to a file) logs `runs` invocations of a small chain;
every 10th run also starts a run that never ends. RSS is read from /proc every `every` runs.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--every", type=int, default=100_000)
    args = parser.parse_args()

    from langchain_core.runnables import RunnableLambda

    from lclog import LoggingCallbackHandler

    chain = RunnableLambda(lambda x: {"answer": x["q"].upper()}, name="step")
    with tempfile.TemporaryDirectory() as tmp:
        handler = LoggingCallbackHandler(
            {
                "outputs": [{"type": "file", "path": os.path.join(tmp, "events.jsonl")}],
                "max_open_runs": 10_000,
            }
        )
        cfg = {"callbacks": [handler]}
        print(f"{'runs':>10s} {'RSS MiB':>9s} {'open runs':>10s} {'evicted':>9s} {'s':>7s}")
        start = time.perf_counter()
        for i in range(1, args.runs + 1):
            chain.invoke({"q": f"question {i} from jane.doe@example.com"}, config=cfg)
            if i % 10 == 0:
                handler.on_chain_start({}, {"q": "never ends"}, run_id=uuid.uuid4(), name="abandoned")
            if i % args.every == 0:
                handler.flush()
                open_runs = len(handler._recorder.runs)
                print(
                    f"{i:10d} {rss_mib():9.1f} {open_runs:10d} {handler.stats.evicted_runs:9d} "
                    f"{time.perf_counter() - start:7.1f}",
                    flush=True,
                )
                os.truncate(os.path.join(tmp, "events.jsonl"), 0)  # the disk is not what is measured
        handler.close()
        print(f"dropped={handler.stats.dropped} internal_errors={handler.stats.internal_errors}")


if __name__ == "__main__":
    main()
