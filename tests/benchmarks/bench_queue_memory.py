"""Memory while the writer is stalled and Loki is down: RSS growth over 20,000 chat-model calls
(40,000 events of ~1.2 KB) per `max_queue_bytes`.

    python tests/benchmarks/bench_queue_memory.py [--budgets 1,4,16,64] [--baseline PATH]

Each budget (MiB) runs in a fresh process (the scenario of
`tests/outputs/test_memory_budget.py`): a stdlib output whose handler blocks until the calls are
done, next to a Loki output whose port nobody listens on. `--baseline PATH` (a checkout of
another commit, `git worktree add /tmp/base <commit>`) runs the same scenario with that commit's
lclog and its defaults.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))

from tests.outputs.test_memory_budget import run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", default="1,4,16,64", help="max_queue_bytes values to run, in MiB")
    parser.add_argument("--baseline", help="a checkout of another lclog commit, run with its defaults")
    args = parser.parse_args()
    rows = [(f"{mib} MiB", mib << 20, None) for mib in map(int, args.budgets.split(","))]
    if args.baseline:
        rows.append(
            ("baseline (its defaults)", 0, {**os.environ, "PYTHONPATH": os.path.abspath(args.baseline)})
        )
    print("| max_queue_bytes | RSS growth MiB | dropped while stalled | delivered once moving |")
    print("|---|---:|---:|---:|")
    for label, budget, env in rows:
        result, _ = run(budget, env)
        print(
            f"| {label} | {result['grown'] / 2**20:.1f} | {result['dropped']:,} | {result['delivered']:,} |"
        )


if __name__ == "__main__":
    main()
