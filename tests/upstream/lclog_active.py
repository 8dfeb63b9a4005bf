"""pytest plugin: every LangChain run of the session goes through `lclog.instrument()`.

Loaded with `-p lclog_active` by `run.py`. Each process (each xdist worker too) logs to a file of
its own in `$LCLOG_UPSTREAM_DIR` and, at the end of the session, writes its handler's counters
next to it, so the runner can show that lclog really saw the runs and lost none of them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import lclog


def _directory() -> Path:
    return Path(os.environ["LCLOG_UPSTREAM_DIR"])


def pytest_configure(config: pytest.Config) -> None:
    events = _directory() / f"events-{os.getpid()}.jsonl"
    lclog.instrument({"outputs": [{"type": "file", "path": str(events)}]})


def pytest_unconfigure(config: pytest.Config) -> None:
    handler = lclog.instrumented_handler()
    if handler is None:
        return
    delivered = handler.flush(timeout=10)
    counters = handler.stats.as_dict() | {"delivered": delivered}
    lclog.uninstrument()
    (_directory() / f"stats-{os.getpid()}.json").write_text(json.dumps(counters))
