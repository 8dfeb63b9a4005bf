"""OpenTelemetry: events carry the ids of the span active where the run started."""

from __future__ import annotations

import pytest
from langchain_core.runnables import RunnableLambda

from lclog import LoggingCallbackHandler
from lclog.outputs import MemoryOutput

pytest.importorskip("opentelemetry.sdk")


def test_active_opentelemetry_span_ids_are_added():
    from opentelemetry.sdk.trace import TracerProvider

    tracer = TracerProvider().get_tracer("test")
    memory = MemoryOutput()
    handler = LoggingCallbackHandler({"schema": "ecs"}, outputs=[memory])
    with tracer.start_as_current_span("request") as span:
        RunnableLambda(lambda x: x).invoke(1, config={"callbacks": [handler]})
        context = span.get_span_context()
    handler.close()
    assert {e["trace"]["id"] for e in memory.events} == {f"{context.trace_id:032x}"}
    assert {e["span"]["id"] for e in memory.events} == {f"{context.span_id:016x}"}


def test_span_ids_match_opentelemetrys_own_answer():
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    from lclog.integrations.otel import span_ids_getter

    def public() -> dict[str, str] | None:
        context = trace.get_current_span().get_span_context()
        if not context.is_valid:
            return None
        return {"trace_id": f"{context.trace_id:032x}", "span_id": f"{context.span_id:016x}"}

    current = span_ids_getter()
    tracer = TracerProvider().get_tracer("test")
    seen = [current() == public()]
    assert current() is None
    with tracer.start_as_current_span("outer"):
        seen.append(current() == public())
        with tracer.start_as_current_span("inner"):
            seen.append(current() == public() and current() is not None)
        with trace.use_span(trace.INVALID_SPAN):
            seen.append(current() is None)
        seen.append(current() == public())
    seen.append(current() is None)
    assert all(seen)
