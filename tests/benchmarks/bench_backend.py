"""What a failing log backend costs the LLM call: Loki (or an OTLP collector) up, refusing
connections, holding every request 10 s, and answering 500, with lclog pushing to it directly.

    python tests/benchmarks/bench_backend.py [--invokes 2000] [--scenarios up,refused,held,500]
                                             [--outputs default,small,otlp,null] [--workload invoke_io]

Each scenario runs in a fresh process, next to a Loki stand-in in a process of its own (so its
threads take no CPU time from the calls). Calls alternate, one through lclog and one through a
do-nothing handler, on the `invoke` workload of bench_overhead.py (prompt | chat model | parser,
8 callback events; `invoke_io`: its model answers after 10 ms with the GIL released, as a
provider's HTTP call does, so the threads of lclog and the output run while the call waits, as
they do in a service); the table gives each one's p50, p99 and worst single call, and the worst
call's excess over the do-nothing handler's worst. Then `close()` is timed: how long shutting
the handler down takes with the backend in that state (bounded by flush_timeout_s, 5 s). The
`null` output (a file at /dev/null, no backend at all) is the reference: what a backend in any
state adds is the difference to it.

The worst calls are full garbage collections (the `gc ms` column: the longest gen2 pause inside
a timed call, and how many there were): queued events outlive the young generations, so lclog
brings the interpreter's next full collection forward, and its pause is proportional to the
whole heap (LangChain's objects, mostly). `--gc-freeze` moves the warmed-up heap out of the
collector's reach first (`gc.freeze()`, as pre-fork servers do), which shows the difference.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

SCENARIOS = ["up", "refused", "held", "500"]
# The Loki outputs measured: the defaults, and the small buffers of the report that found stalls.
OUTPUTS = {
    "default": {},
    "small": {"batch_bytes": 65536, "max_buffer_bytes": 131072},
    "otlp": {},  # the otlp output (HTTP/protobuf) to the same stand-in, as a collector
    "null": {},  # no backend at all: a file output to /dev/null, the reference a backend is held to
}


def serve(mode: str) -> None:
    """A Loki stand-in: `up` answers 204, `held` holds each request 10 s, `500` fails it."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if mode == "held":
                time.sleep(10)
            self.send_response(500 if mode == "500" else 204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(httpd.server_address[1], flush=True)
    httpd.serve_forever()


def start_loki(mode: str) -> tuple[subprocess.Popen[str] | None, str]:
    if mode == "refused":
        import socket

        with socket.socket() as s:  # a port nobody listens on
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        return None, f"http://127.0.0.1:{port}/loki/api/v1/push"
    proc = subprocess.Popen([sys.executable, __file__, "--serve", mode], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    return proc, f"http://127.0.0.1:{port}/loki/api/v1/push"


class _GcPauses:
    """The full collections that run while a call is timed."""

    def __init__(self) -> None:
        self.pauses: list[float] = []
        self._start = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.pauses.append((time.perf_counter() - self._start) * 1e3)


def measure(scenario: str, output: str, invokes: int, freeze: bool, name: str = "invoke") -> dict[str, Any]:
    from bench_overhead import workload
    from langchain_core.callbacks import BaseCallbackHandler

    import lclog

    server, url = start_loki(scenario) if output != "null" else (None, "")
    try:
        if output == "null":
            spec: dict[str, Any] = {"type": "file", "path": os.devnull}
        elif output == "otlp":
            spec = {"type": "otlp", "endpoint": url.removesuffix("/loki/api/v1/push")}
        else:
            spec = {"type": "loki", "url": url, "labels": {"service": "bench"}, **OUTPUTS[output]}
        handler = lclog.LoggingCallbackHandler({"outputs": [spec]})
        noop = BaseCallbackHandler()
        runnable, value, _ = workload(name)
        for _ in range(50):  # warm up both paths
            runnable.invoke(value, config={"callbacks": [handler]})
            runnable.invoke(value, config={"callbacks": [noop]})
        if freeze:
            gc.freeze()
        pauses = _GcPauses()
        times: dict[str, list[float]] = {"lclog": [], "noop": []}
        for _ in range(invokes):
            for name, h in (("lclog", handler), ("noop", noop)):
                start = time.perf_counter()
                runnable.invoke(value, config={"callbacks": [h]})
                times[name].append((time.perf_counter() - start) * 1e3)
        start = time.perf_counter()
        handler.close()
        close_s = time.perf_counter() - start
        stats = handler.stats.as_dict()
    finally:
        if server is not None:
            server.kill()
    row: dict[str, Any] = {"scenario": scenario, "output": output, "close_s": close_s}
    for name, values in times.items():
        values.sort()
        row[name] = {
            "p50": statistics.median(values),
            "p99": values[int(len(values) * 0.99) - 1],
            "max": values[-1],
        }
    row["excess_max_ms"] = row["lclog"]["max"] - row["noop"]["max"]
    row["emitted"], row["dropped"] = stats["emitted"], stats["dropped"]
    row["gc_max_ms"] = max(pauses.pauses, default=0.0)
    row["gc_count"] = len(pauses.pauses)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--invokes", type=int, default=2000)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--outputs", default=",".join(OUTPUTS))
    parser.add_argument("--gc-freeze", action="store_true", help="gc.freeze() after warming up")
    parser.add_argument("--workload", default="invoke", choices=["invoke", "invoke_io"])
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    if args.one:
        scenario, output = args.one.split(":")
        print(json.dumps(measure(scenario, output, args.invokes, args.gc_freeze, args.workload)))
        return
    rows = []
    for output in args.outputs.split(","):
        for scenario in args.scenarios.split(",") if output != "null" else ["none"]:
            out = subprocess.run(
                [sys.executable, __file__, "--one", f"{scenario}:{output}", "--invokes", str(args.invokes)]
                + ["--workload", args.workload]
                + (["--gc-freeze"] if args.gc_freeze else []),
                capture_output=True,
                text=True,
                check=True,
            )
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    header = (
        f"{'backend':<8} {'output':<8} {'lclog p50/p99/max ms':>24} {'no-op p50/p99/max ms':>24} "
        f"{'worst excess ms':>15} {'gc ms (n)':>11} {'close s':>8} {'dropped':>8}"
    )
    frozen = ", gc.freeze() after warm-up" if args.gc_freeze else ""
    print(f"{args.invokes} {args.workload}s per row, alternating lclog and a do-nothing handler{frozen}\n")
    print(header)
    print("-" * len(header))
    for r in rows:
        lc, no = r["lclog"], r["noop"]
        print(
            f"{r['scenario']:<8} {r['output']:<8} "
            f"{lc['p50']:>8.2f}{lc['p99']:>8.2f}{lc['max']:>8.1f} "
            f"{no['p50']:>8.2f}{no['p99']:>8.2f}{no['max']:>8.1f} "
            f"{r['excess_max_ms']:>15.1f} {r['gc_max_ms']:>7.1f} ({r['gc_count']}) "
            f"{r['close_s']:>8.2f} {r['dropped']:>8}"
        )


if __name__ == "__main__":
    main()
