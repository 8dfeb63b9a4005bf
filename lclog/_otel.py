"""The active OpenTelemetry span's ids, when opentelemetry-api is installed (never required)."""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["span_ids_getter"]


def span_ids_getter() -> Callable[[], dict[str, str] | None] | None:
    """Returns a function giving the current span's {trace_id, span_id} in hex, or None when
    opentelemetry-api is not installed."""
    try:
        from opentelemetry import trace
    except ImportError:
        return None

    get_current_span, invalid = trace.get_current_span, trace.INVALID_SPAN

    def current() -> dict[str, str] | None:
        span = get_current_span()
        if span is invalid:  # no span active: the common case, answered without a context read
            return None
        context = span.get_span_context()
        if not context.is_valid:
            return None
        return {"trace_id": f"{context.trace_id:032x}", "span_id": f"{context.span_id:016x}"}

    return current
