"""With lclog attached, other handlers of async completion-style LLM calls see every callback."""

from __future__ import annotations

import asyncio
from typing import Any

from langchain_core.language_models import FakeListLLM
from langchain_core.prompts import PromptTemplate
from langchain_core.tracers.base import BaseTracer

import lclog
from lclog import LoggingCallbackHandler
from lclog.outputs import MemoryOutput


class Collector(BaseTracer):
    """LangChain's own run collector: it fails on an end whose start it never saw."""

    def __init__(self) -> None:
        super().__init__()
        self.runs: list[Any] = []

    def _persist_run(self, run: Any) -> None:
        pass

    def _end_trace(self, run: Any) -> None:  # every run, root or not
        self.runs.append(run)
        super()._end_trace(run)


def test_another_handler_traces_every_async_llm_run_next_to_lclog():
    memory = MemoryOutput()
    handler = LoggingCallbackHandler(outputs=[memory])
    llm = FakeListLLM(responses=["a", "b", "c", "d", "e"])
    chain = PromptTemplate.from_template("say {x}") | llm

    async def main() -> Collector:
        collector = Collector()
        config = {"callbacks": [collector, handler]}
        await llm.abatch(["x", "y", "z"], config=config)
        await chain.ainvoke({"x": "w"}, config=config)
        async for _ in llm.astream("v", config=config):
            pass
        return collector

    collector = asyncio.run(main())
    handler.close()
    # Without the correction: none, and a TracerException for each end.
    assert len([r for r in collector.runs if r.run_type == "llm"]) == 5
    assert len([e for e in memory.events if e["event"] == "llm.end"]) == 5


def test_astream_events_yields_the_same_events_with_lclog_installed():
    llm = FakeListLLM(responses=["hello"])
    chain = PromptTemplate.from_template("say {x}") | llm

    async def names() -> list[str]:
        return [e["event"] async for e in chain.astream_events({"x": "hi"}, version="v2")]

    without = asyncio.run(names())
    lclog.instrument(outputs=[])
    try:
        with_lclog = asyncio.run(names())
    finally:
        lclog.uninstrument()
    assert with_lclog == without and "on_llm_start" in without
