"""The stdlib bridge: records in the logging tree, python-json-logger rendering top-level keys."""

from __future__ import annotations

import contextlib
import io
import logging

import orjson
from langchain_core.runnables import RunnableLambda

from lclog import LoggingCallbackHandler
from lclog.outputs.stdlib import json_handler


def test_events_reach_the_services_own_handlers_as_record_attributes(caplog):
    handler = LoggingCallbackHandler({"outputs": [{"type": "stdlib", "logger": "svc.llm"}]})
    with caplog.at_level(logging.INFO, logger="svc.llm"):
        RunnableLambda(lambda x: x, name="echo").invoke("mail bob@corp.io", config={"callbacks": [handler]})
        handler.close()
    start, end = caplog.records
    assert (start.name, start.levelname, start.getMessage()) == ("svc.llm", "INFO", "chain.start")
    assert start.run_name == "echo" and start.inputs == "mail [REDACTED:email]"
    assert end.outcome == "ok" and end.duration_ms >= 0 and end.trace_id == start.run_id


def test_levels_follow_the_event_and_the_logger(caplog):
    handler = LoggingCallbackHandler({"outputs": [{"type": "stdlib", "logger": "svc.errors"}]})

    def boom(x: int) -> int:
        raise KeyError(x)

    with caplog.at_level(logging.ERROR, logger="svc.errors"):
        with contextlib.suppress(KeyError):
            RunnableLambda(boom).invoke(1, config={"callbacks": [handler]})
        handler.close()
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [("ERROR", "chain.error")]


def test_formatter_json_writes_fields_as_top_level_keys(monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr("sys.stdout", stream)
    handler = LoggingCallbackHandler(
        {"outputs": [{"type": "stdlib", "logger": "svc.json", "formatter": "json"}]}
    )
    RunnableLambda(lambda x: x, name="echo").invoke({"api_key": "k"}, config={"callbacks": [handler]})
    handler.close()
    lines = [orjson.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["message"] for line in lines] == ["chain.start", "chain.end"]
    assert lines[0]["run_name"] == "echo" and lines[0]["inputs"] == {"api_key": "[REDACTED:api_key]"}
    assert isinstance(lines[0]["tags"], list)  # a real JSON value, not a nested string
    logging.getLogger("svc.json").handlers.clear()


def test_json_handler_is_python_json_logger():
    from pythonjsonlogger.core import BaseJsonFormatter

    assert isinstance(json_handler().formatter, BaseJsonFormatter)


def test_structlog_processor_formatter_recipe_from_the_readme():
    import structlog

    stream = io.StringIO()
    log_handler = logging.StreamHandler(stream)
    log_handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.JSONRenderer(),
            ],
            foreign_pre_chain=[structlog.stdlib.add_log_level, structlog.stdlib.ExtraAdder()],
        )
    )
    logger = logging.getLogger("svc.structlog")
    logger.addHandler(log_handler)
    logger.setLevel(logging.INFO)
    handler = LoggingCallbackHandler({"outputs": [{"type": "stdlib", "logger": "svc.structlog"}]})
    RunnableLambda(lambda x: x, name="echo").invoke(1, config={"callbacks": [handler]})
    handler.close()
    logger.handlers.clear()
    lines = [orjson.loads(line) for line in stream.getvalue().splitlines()]
    assert [(line["event"], line["run_name"]) for line in lines] == [
        ("chain.start", "echo"),
        ("chain.end", "echo"),
    ]
