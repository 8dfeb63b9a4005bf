"""The active OpenTelemetry span's ids, when opentelemetry-api is installed (never required)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["span_ids_getter"]


def span_ids_getter() -> Callable[[], dict[str, str] | None] | None:
    """Returns a function giving the current span's {trace_id, span_id} in hex, or None when
    opentelemetry-api is not installed."""
    try:
        from opentelemetry import trace
    except ImportError:
        return None
    span_type, invalid = trace.Span, trace.INVALID_SPAN
    found = _context_variable()
    if found is not None:
        var, key = found

        def current() -> dict[str, str] | None:
            span = var.get().get(key)
            if span is None or span is invalid or not isinstance(span, span_type):
                return None  # no span active: the common case
            return _ids(span)

        return current
    get_current_span = trace.get_current_span

    def current_by_api() -> dict[str, str] | None:
        span = get_current_span()
        if span is None or span is invalid or not isinstance(span, span_type):
            return None
        return _ids(span)

    return current_by_api


def _ids(span: Any) -> dict[str, str] | None:
    context = span.get_span_context()
    if not context.is_valid:
        return None
    return {"trace_id": f"{context.trace_id:032x}", "span_id": f"{context.span_id:016x}"}


def _context_variable() -> tuple[Any, str] | None:
    """OpenTelemetry's context variable and the span's key in it, when the runtime context is
    the standard contextvars one: the span is then one lookup away instead of four calls."""
    try:
        from opentelemetry import context as otel_context
        from opentelemetry.context.contextvars_context import ContextVarsRuntimeContext
        from opentelemetry.trace.propagation import _SPAN_KEY
    except ImportError:
        return None
    runtime = getattr(otel_context, "_RUNTIME_CONTEXT", None)
    var = getattr(runtime, "_current_context", None)
    if type(runtime) is not ContextVarsRuntimeContext or var is None or not hasattr(var, "get"):
        return None
    return var, _SPAN_KEY
