"""Start-up time of the `lclog` command-line tools and of `import lclog`.

    python tests/benchmarks/bench_startup.py [--runs 10]

Each command runs --runs times in a fresh interpreter (`python -m lclog.cli ...`, as the `lclog`
script does), on a one-line input; the table shows the median and the fastest wall time, next to
a bare `python -c pass` for the interpreter's own start.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EVENT = '{"event": "llm.end", "run_id": "r1", "name": "m", "duration_ms": 5}\n'
COMMANDS = {
    "python -c pass": ([sys.executable, "-c", "pass"], ""),
    "import lclog": ([sys.executable, "-c", "import lclog"], ""),
    "import lclog; lclog.LoggingCallbackHandler": (
        [sys.executable, "-c", "import lclog; lclog.LoggingCallbackHandler"],
        "",
    ),
    "lclog --help": ([sys.executable, "-m", "lclog.cli", "--help"], ""),
    "lclog pretty": ([sys.executable, "-m", "lclog.cli", "pretty", "--no-color"], EVENT),
    "lclog stats": ([sys.executable, "-m", "lclog.cli", "stats"], EVENT),
    "lclog redact": ([sys.executable, "-m", "lclog.cli", "redact"], "mail a@b.io\n"),
    "lclog check-config": ([sys.executable, "-m", "lclog.cli", "check-config", "config/elk.yaml"], ""),
}


def wall(argv: list[str], stdin: str) -> float:
    start = time.perf_counter()
    subprocess.run(argv, input=stdin, capture_output=True, text=True, cwd=ROOT, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    print(f"{'command':45s} {'median s':>9s} {'fastest s':>10s}")
    for label, (argv, stdin) in COMMANDS.items():
        times = [wall(argv, stdin) for _ in range(args.runs)]
        print(f"{label:45s} {statistics.median(times):9.3f} {min(times):10.3f}")


if __name__ == "__main__":
    main()
