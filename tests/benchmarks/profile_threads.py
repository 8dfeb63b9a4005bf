"""Where lclog's time goes, in every thread: py-spy samples a benchmark process's threads.

    python tests/benchmarks/profile_threads.py [--wait-ms 1] [--calls 3000] [--rate 1000]
                                               [--variant lclog_redacted] [--top 20]

Runs bench_latency.py's workload (`invoke`, the model answering after `--wait-ms`) under
`py-spy record --threads` (a sampling profiler reading the process from outside: every thread,
wall clock, the GIL's hand-offs included) and prints, per thread, the share of its samples spent
in each of lclog's functions (inclusive) and in lclog at all. Needs py-spy (the `bench` extra)
and the right to trace a child process (ptrace).
"""

from __future__ import annotations

import argparse
import collections
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _thread(frame: str) -> str:
    name = re.sub(r"\s*\(\d+\)", "", frame.removeprefix("thread ")).strip(": ")
    return "calling thread" if "MainThread" in name else name


def summarize(raw: str, top: int) -> str:
    """Per thread: samples in the timed loop, in lclog, and lclog's heaviest functions."""
    totals: collections.Counter[str] = collections.Counter()
    in_lclog: collections.Counter[str] = collections.Counter()
    by_function: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        thread = _thread(frames[0])
        if thread == "calling thread" and not any("timed_calls" in f for f in frames):
            continue  # start-up and warm-up, not the calls
        n = int(count)
        if re.match(r"(\w+\.)?(wait|_wait_for_tstate_lock) \(threading\.py", frames[-1].strip()):
            continue  # waiting for work, not working (py-spy counts a thread blocked in Python)
        totals[thread] += n
        seen = set()
        for frame in frames[1:]:
            if "lclog/" in frame:
                function = re.sub(r":\d+\)", ")", frame)
                if function not in seen:
                    seen.add(function)
                    by_function[thread][function] += n
        if seen:
            in_lclog[thread] += n
    out = []
    for thread, total in totals.most_common():
        out.append(f"== {thread}: {total} samples, {100 * in_lclog[thread] / total:.1f}% in lclog")
        for function, n in by_function[thread].most_common(top):
            out.append(f"  {100 * n / total:5.1f}%  {function}")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--wait-ms", type=float, default=1.0)
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--rate", type=int, default=1000, help="samples a second")
    parser.add_argument("--variant", default="lclog_redacted")
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args()
    raw = Path(tempfile.mktemp(suffix=".txt"))
    child = [sys.executable, str(HERE / "bench_latency.py"), "--child", args.variant]
    child += ["--calls", str(args.calls), "--wait-ms", str(args.wait_ms)]
    command = [
        "py-spy",
        "record",
        "--threads",
        "-r",
        str(args.rate),
        "-f",
        "raw",
        "-o",
        str(raw),
        "--",
        *child,
    ]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    print(summarize(raw.read_text(), args.top))
    raw.unlink()


if __name__ == "__main__":
    main()
