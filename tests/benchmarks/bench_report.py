"""`lclog report` at scale: the time and peak memory to turn a large log into a page, and how
the page behaves in Chromium.

    python tests/benchmarks/bench_report.py [--mb 200] [--max-requests N] [--keep DIR]
                                            [--browser] [--screenshot PNG]

The log is real lclog output repeated: the demo's requests and priced requests on two models
(some failing, on threads), logged once by the handler, then copied with fresh trace and run ids
and timestamps spread over a day until it is `--mb` megabytes. `lclog report` runs on it in a
child process; reported: events, requests, seconds, the child's peak RSS (ru_maxrss) and the
page's size. With `--browser`, the page is opened in Chromium (Playwright): the time until it is
drawn, and the time to apply a model filter and to clear it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

_UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_STAMP = re.compile(rb'"timestamp":"([^"]+)"')


def seed(path: Path) -> None:
    from tests.cli.test_report import write_log

    write_log(path)


def traces(lines: list[bytes]) -> list[list[bytes]]:
    by_trace: dict[bytes, list[bytes]] = {}
    for line in lines:
        m = re.search(rb'"trace_id":"([^"]+)"', line)
        if m:
            by_trace.setdefault(m.group(1), []).append(line)
    return list(by_trace.values())


def grow(seed_path: Path, out: Path, megabytes: int) -> tuple[int, int]:
    """Copies of the seed's traces with fresh ids and times until `out` holds `megabytes` MB;
    returns (lines, copies of traces)."""
    from datetime import datetime, timedelta, timezone

    groups = traces(seed_path.read_bytes().splitlines())
    start = datetime(2026, 12, 1, tzinfo=timezone.utc)
    target = megabytes * 1_000_000
    written = lines = copies = 0
    with out.open("wb") as f:
        while written < target:
            for group in groups:
                ids: dict[bytes, bytes] = {}
                moment = start + timedelta(seconds=86_400 * written / target)

                def fresh(m: re.Match[bytes], ids: dict[bytes, bytes] = ids) -> bytes:
                    return ids.setdefault(m.group(0), str(uuid.uuid4()).encode())

                base = (
                    datetime.fromisoformat(_STAMP.search(group[0]).group(1).decode().replace("Z", "+00:00"))  # type: ignore[union-attr]
                )
                for line in group:
                    line = _UUID.sub(fresh, line)

                    def stamp(m: re.Match[bytes], moment: Any = moment, base: Any = base) -> bytes:
                        at = datetime.fromisoformat(m.group(1).decode().replace("Z", "+00:00"))
                        new = (moment + (at - base)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                        return b'"timestamp":"' + new.encode() + b'"'

                    line = _STAMP.sub(stamp, line, count=1) + b"\n"
                    f.write(line)
                    written += len(line)
                    lines += 1
                copies += 1
    return lines, copies


def run_report(log: Path, page: Path, max_requests: int) -> dict[str, Any]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "lclog",
            "report",
            str(log),
            "-o",
            str(page),
            "--max-requests",
            str(max_requests),
        ],
        capture_output=True,
        check=True,
    )
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {
        "seconds": round(seconds, 1),
        "peak_rss_mb": round(max(peak, before) / 1024, 1),
        "page_mb": round(page.stat().st_size / 1e6, 1),
        "said": done.stderr.decode().strip(),
    }


def screenshot(page: Path, out: Path) -> None:
    """The page with its slowest request open, as the README shows it."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
        )
        tab = browser.new_page(viewport={"width": 1280, "height": 900})
        tab.goto(page.resolve().as_uri())
        assert tab.evaluate("window.lclogReport !== undefined")
        tab.click("#slowest-body tr >> nth=0")
        tab.evaluate("window.scrollTo(0, 0)")
        tab.screenshot(path=str(out), full_page=True)
        browser.close()


def in_browser(page: Path) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
        )
        tab = browser.new_page(viewport={"width": 1280, "height": 900})
        t0 = time.perf_counter()
        tab.goto(page.resolve().as_uri())
        assert tab.evaluate("window.lclogReport !== undefined")
        drawn = time.perf_counter() - t0
        timings = tab.evaluate(
            """() => {
              const r = window.lclogReport, t0 = performance.now();
              r.filters.model = "gpt-4o"; r.render();
              const t1 = performance.now();
              r.filters.model = ""; r.render();
              return [t1 - t0, performance.now() - t1, r.view.selected];
            }"""
        )
        browser.close()
    return {
        "drawn_s": round(drawn, 2),
        "filter_ms": round(timings[0]),
        "clear_ms": round(timings[1]),
        "requests": timings[2],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--max-requests", type=int, default=200_000, help="lclog report's --max-requests")
    parser.add_argument("--keep", help="a directory to keep the log and page in")
    parser.add_argument("--browser", action="store_true", help="also open the page in Chromium")
    parser.add_argument("--screenshot", help="a PNG of the page with its slowest request open")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        where = Path(args.keep or tmp)
        where.mkdir(parents=True, exist_ok=True)
        seed_log, log, page = where / "seed.jsonl", where / "big.jsonl", where / "report.html"
        seed(seed_log)
        t0 = time.perf_counter()
        lines, _ = grow(seed_log, log, args.mb)
        took = time.perf_counter() - t0
        print(f"log: {log.stat().st_size / 1e6:.0f} MB, {lines:,} events ({took:.0f} s to write)")
        result: dict[str, Any] = {"log_mb": round(log.stat().st_size / 1e6), "events": lines}
        result.update(run_report(log, page, args.max_requests))
        if args.browser:
            result["browser"] = in_browser(page)
        if args.screenshot:
            screenshot(page, Path(args.screenshot))
        print(json.dumps(result, indent=2))
        if not args.keep:
            os.unlink(log)


if __name__ == "__main__":
    main()
