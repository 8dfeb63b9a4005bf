"""Handlers built from the same settings log each run once between them."""

from __future__ import annotations

import uuid

from langchain_core.runnables import RunnableLambda

import lclog
from lclog.capture import twins


def test_a_run_is_claimed_by_the_first_handler_to_see_it():
    key, run = f"settings-{uuid.uuid4()}", uuid.uuid4()
    twins.joined(key)
    twins.joined(key)
    assert twins.count(key) == 2
    first, second = object(), object()
    assert twins.claim(run, first) is first and twins.claim(run, second) is first
    twins.release(run)
    assert twins.claim(run, second) is second
    twins.left(key)
    twins.left(key)
    assert twins.count(key) == 0


def test_instrument_and_a_handler_in_callbacks_log_each_run_once(tmp_path):
    config = {
        "service": f"twin-{uuid.uuid4()}",
        "outputs": [{"type": "file", "path": str(tmp_path / "e.jsonl")}],
    }
    lclog.instrument(config)
    try:
        handler = lclog.LoggingCallbackHandler(config)
        RunnableLambda(lambda x: x).invoke(1, config={"callbacks": [handler]})
        handler.close()
    finally:
        lclog.uninstrument()
    lines = (tmp_path / "e.jsonl").read_text().splitlines()
    assert len(lines) == 2  # one chain.start, one chain.end: not twice
