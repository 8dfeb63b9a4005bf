"""Process-wide instrumentation: no callbacks= needed, never logged twice, really stops."""

from __future__ import annotations

import threading

from langchain_core.runnables import RunnableLambda

import lclog
from lclog.outputs import MemoryOutput


def _install() -> MemoryOutput:
    handler = lclog.instrument(outputs=[])
    memory = MemoryOutput()
    handler.outputs.append(memory)
    return memory


def test_instrument_logs_every_run_and_uninstrument_stops():
    memory = _install()
    try:
        RunnableLambda(lambda x: x * 2).invoke(2)
        result: list[int] = []
        t = threading.Thread(target=lambda: result.append(RunnableLambda(lambda x: x + 1).invoke(1)))
        t.start()
        t.join()
        lclog.instrumented_handler().flush()
        assert [e["event"] for e in memory.events] == ["chain.start", "chain.end"] * 2
    finally:
        lclog.uninstrument()
    RunnableLambda(lambda x: x).invoke(1)
    assert len(memory.events) == 4
    assert lclog.instrumented_handler() is None


def test_same_handler_in_callbacks_is_not_logged_twice():
    memory = _install()
    try:
        handler = lclog.instrumented_handler()
        RunnableLambda(lambda x: x).invoke(1, config={"callbacks": [handler]})
        handler.flush()
        assert len(memory.events) == 2
    finally:
        lclog.uninstrument()


def test_instrument_twice_replaces_the_first():
    first = _install()
    second = _install()
    try:
        RunnableLambda(lambda x: x).invoke(1)
        lclog.instrumented_handler().flush()
        assert len(first.events) == 0 and len(second.events) == 2
    finally:
        lclog.uninstrument()
