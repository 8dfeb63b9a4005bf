"""Shared fixtures: a capturing handler and a LangChain tracer that records the true run tree."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import settings
from langchain_core.tracers.base import BaseTracer
from langchain_core.tracers.schemas import Run

from lclog.testing import CapturedEvents, capture


class RunCollector(BaseTracer):
    """LangChain's own view of the runs: id, parent, type and whether each failed."""

    def __init__(self) -> None:
        super().__init__()
        self.ended: list[Run] = []
        self._lock = threading.Lock()

    def _persist_run(self, run: Run) -> None:
        pass

    def _end_trace(self, run: Run) -> None:
        with self._lock:
            self.ended.append(run)
        super()._end_trace(run)


# The fixtures write every run's events (`verbosity: full`): the tests using them compare lclog's
# tree with LangChain's own, run by run. What the default verbosity writes is tested on its own
# (tests/events/test_routing.py, tests/cli/test_main.py).
EVERY_RUN = {"verbosity": "full"}


@pytest.fixture
def captured() -> Iterator[CapturedEvents]:
    """lclog.testing.capture() for one test: a handler writing to memory, and its events."""
    with capture(**EVERY_RUN) as events:
        yield events


@pytest.fixture
def make_captured() -> Iterator[Any]:
    """Makes more captures, with config overrides; all closed when the test ends."""
    with contextlib.ExitStack() as stack:
        yield lambda **overrides: stack.enter_context(capture(**{**EVERY_RUN, **overrides}))


@pytest.fixture
def tracer() -> RunCollector:
    return RunCollector()


def assert_matches_tree(events: list[dict[str, Any]], runs: list[Run]) -> None:
    """Every run LangChain reports has exactly one start and one end-or-error event, same tree;
    every root, one `trace.end`."""
    by_id: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        phase = e["event"].rsplit(".", 1)[-1]
        if phase in ("start", "end", "error") and e["event"] != "trace.end":
            by_id.setdefault(e["run_id"], []).append(e)
    trace_ends = sorted(e["run_id"] for e in events if e["event"] == "trace.end")
    roots = [r for r in runs if r.parent_run_id is None]
    assert trace_ends == sorted(str(r.id) for r in roots if any(c.parent_run_id == r.id for c in runs))
    run_ids = set()
    for run in runs:
        rid = str(run.id)
        run_ids.add(rid)
        got = by_id.get(rid, [])
        phases = sorted(e["event"].rsplit(".", 1)[-1] for e in got)
        expected = ["error", "start"] if run.error else ["end", "start"]
        assert phases == expected, f"{run.name} ({run.run_type}): {phases}"
        parent = str(run.parent_run_id) if run.parent_run_id else None
        assert all(e["parent_run_id"] == parent for e in got), run.name
        root = run
        while root.parent_run_id is not None:
            root = next(r for r in runs if r.id == root.parent_run_id)
        assert all(e["trace_id"] == str(root.id) for e in got), run.name
    assert set(by_id) == run_ids


# CI runs a fixed sequence of examples so a result can be reproduced; local runs explore.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
