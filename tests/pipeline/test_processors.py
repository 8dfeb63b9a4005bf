"""User processors from the config: order, DropEvent, and redaction always first."""

from __future__ import annotations

from typing import Any

import orjson
import structlog
from langchain_core.runnables import RunnableLambda

from lclog import LoggingCallbackHandler
from lclog.outputs import MemoryOutput

SEEN: list[dict[str, Any]] = []


def add_env(logger: Any, method: str, event: dict[str, Any]) -> dict[str, Any]:
    SEEN.append(dict(event))
    event["env"] = "test"
    return event


def drop_starts(logger: Any, method: str, event: dict[str, Any]) -> dict[str, Any]:
    if event["event"].endswith(".start"):
        raise structlog.DropEvent
    return event


def test_configured_processors_run_after_redaction_in_order():
    SEEN.clear()
    memory = MemoryOutput()
    handler = LoggingCallbackHandler(
        {
            "processors": [
                "tests.pipeline.test_processors:add_env",
                "tests.pipeline.test_processors:drop_starts",
            ]
        },
        outputs=[memory],
    )
    RunnableLambda(lambda x: x).invoke("mail bob@corp.io", config={"callbacks": [handler]})
    handler.close()
    assert [e["event"] for e in memory.events] == ["chain.end"]
    assert memory.events[0]["env"] == "test"
    assert all("bob@corp.io" not in str(e) for e in SEEN)  # processors only see redacted events
    assert handler.stats.filtered == 1


def test_a_processor_adding_keys_that_are_not_strings_still_gets_one_json_line():
    def counts(logger: Any, method: str, event: dict[str, Any]) -> dict[str, Any]:
        event["by_status"] = {200: 3, None: 1}
        return event

    memory = MemoryOutput()
    handler = LoggingCallbackHandler(outputs=[memory], processors=[counts])
    RunnableLambda(lambda x: x).invoke(1, config={"callbacks": [handler]})
    handler.close()
    assert len(memory.lines) == 2 and handler.stats.internal_errors == 0
    assert all(orjson.loads(line)["by_status"] == {"200": 3, "null": 1} for line in memory.lines)
