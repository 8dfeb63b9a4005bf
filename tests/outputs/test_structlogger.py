"""The `structlog` output: lclog's events through the application's own structlog configuration,
with its contextvars, redacted first, in order, never in the calling thread."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from langchain_core.language_models import FakeListChatModel
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda

from lclog import LoggingCallbackHandler, StructlogOutput
from lclog.config import load_config
from lclog.testing import capture

SECRET = "sk-proj-Xq7vR2mT9wK4pL8nB3cF6hJ1"


@pytest.fixture
def app() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """The app's structlog: contextvars merged, a processor noting its thread, lines kept."""
    lines: list[tuple[str, dict[str, Any]]] = []

    def keep(logger: Any, method: str, event: dict[str, Any]) -> dict[str, Any]:
        event["thread"] = threading.current_thread().name
        lines.append((method, json.loads(json.dumps(event, default=str))))
        raise structlog.DropEvent

    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, structlog.processors.add_log_level, keep]
    )
    structlog.contextvars.clear_contextvars()
    yield lines
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


def test_events_go_through_the_apps_structlog_with_its_request_id(app):
    chain = ChatPromptTemplate.from_template("key {key}") | FakeListChatModel(responses=["ok"])
    handler = LoggingCallbackHandler({"outputs": [{"type": "structlog", "logger": "app.langchain"}]})
    try:
        structlog.contextvars.bind_contextvars(request_id="req-7")
        chain.invoke({"key": SECRET}, {"callbacks": [handler]})
        structlog.contextvars.clear_contextvars()
        RunnableLambda(lambda x: x, name="later").invoke(1, {"callbacks": [handler]})
    finally:
        handler.close()
    events = [event for _, event in app]
    names = [e["event"] for e in events]
    assert names == ["chain.start", "chat_model.start", "chat_model.end", "chain.end", "trace.end",
                     "chain.start", "chain.end"]  # fmt: skip
    first, later = events[:5], events[5:]
    assert all(e["request_id"] == "req-7" for e in first)  # the request's, in the writer thread
    assert not any("request_id" in e for e in later)  # the next request had none
    assert all(e["thread"] == "lclog-writer" for e in events)  # the app's processors ran there
    assert SECRET not in json.dumps(events) and "[REDACTED:" in json.dumps(first[1]["inputs"])
    assert [m for m, _ in app] == ["info"] * 7 and first[0]["level"] == "info"
    assert first[0]["run_id"] == first[3]["run_id"] and first[4]["trace_id"] == first[0]["run_id"]


def test_levels_follow_the_event(app):
    def fails(x: int) -> int:
        raise ValueError("no")

    with LoggingCallbackHandler(outputs=[StructlogOutput()]) as handler, pytest.raises(ValueError):
        RunnableLambda(fails, name="boom").invoke(1, {"callbacks": [handler]})
    assert [(m, e["event"]) for m, e in app] == [("info", "chain.start"), ("error", "chain.error")]


def test_app_context_puts_the_apps_contextvars_on_every_event():
    with capture(app_context=True) as events:
        structlog.contextvars.bind_contextvars(request_id="req-1", user_email="ada@example.com")
        try:
            (RunnableLambda(lambda x: x, name="a") | RunnableLambda(lambda x: x, name="b")).invoke(
                1, {"callbacks": [events.handler]}
            )
        finally:
            structlog.contextvars.clear_contextvars()
    assert events and all(e["context"]["request_id"] == "req-1" for e in events)
    assert all(e["context"]["user_email"] == "[REDACTED:email]" for e in events)


def test_the_structlog_output_is_configured_by_name():
    settings = load_config({"outputs": [{"type": "structlog", "logger": "app.llm"}]})
    assert settings.outputs[0].logger == "app.llm"
    with pytest.raises(Exception, match="path does not apply to a structlog output"):
        load_config({"outputs": [{"type": "structlog", "path": "x.jsonl"}]})
