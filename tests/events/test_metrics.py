"""handler.metrics: totals per run type and name, readable at any time from any thread."""

from __future__ import annotations

import threading

from lclog.events.metrics import Metrics


def test_totals_snapshot_and_summary():
    m = Metrics()
    m.started("tool", "search")
    m.ended("tool", "search", 12.5)
    m.started("tool", "search")
    m.ended("tool", "search", 7.5, error=True)
    m.started("chat_model", "gpt-x")
    m.ended("chat_model", "gpt-x", 100.0, usage={"input_tokens": 10, "output_tokens": 3})
    snap = m.snapshot()
    search = snap["tool"]["search"]
    assert (search["starts"], search["completions"], search["errors"]) == (2, 1, 1)
    assert search["total_duration_ms"] == 20.0 and search["max_duration_ms"] == 12.5
    assert search["mean_duration_ms"] == 10.0
    assert (snap["chat_model"]["gpt-x"]["input_tokens"], snap["chat_model"]["gpt-x"]["output_tokens"]) == (
        10,
        3,
    )
    lines = m.summary().splitlines()
    assert lines[0].split()[:3] == ["type", "name", "starts"] and any("search" in line for line in lines)
    snap["tool"]["search"]["starts"] = 99  # a copy: the totals are not changed through it
    assert m.snapshot()["tool"]["search"]["starts"] == 2


def test_thread_safe_counts():
    m = Metrics()

    def work() -> None:
        for _ in range(5000):
            m.started("chain", "x")
            m.ended("chain", "x", 1.0)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    totals = m.snapshot()["chain"]["x"]
    assert totals["starts"] == totals["completions"] == 40_000


def test_the_summary_shows_unknown_tokens_as_unknown():
    m = Metrics()
    m.ended("tool", "lookup", 1.0)
    m.ended("chat_model", "m", 2.0, usage={"input_tokens": 5, "output_tokens": 1})
    m.ended("chat_model", "priced", 2.0, usage={"input_tokens": 5, "output_tokens": 1}, cost={"total": 0.25})
    lines = {line.split()[1]: line.split() for line in m.summary().splitlines()[1:]}
    assert lines["lookup"][-3:] == ["-", "-", "-"] and lines["m"][-3:] == ["5", "1", "-"]
    assert lines["priced"][-1] == "0.250000"  # a cost only where one is known
    assert m.snapshot()["tool"]["lookup"]["with_usage"] == 0
