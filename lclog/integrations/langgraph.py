"""LangGraph: interrupts and resumes reach a handler only if it is a GraphCallbackHandler."""

from __future__ import annotations

import sys

__all__ = ["graph_aware", "join_langgraph", "langgraph_loaded"]


def langgraph_loaded() -> bool:
    """True once the application imported LangGraph's callbacks (any LangGraph app does)."""
    return "langgraph.callbacks" in sys.modules


_aware: dict[type, type] = {}


def graph_aware(cls: type) -> type:
    """cls as a LangGraph GraphCallbackHandler too, so LangGraph sends it on_interrupt/on_resume."""
    aware = _aware.get(cls)
    if aware is None:
        from langgraph.callbacks import GraphCallbackHandler  # optional: only when LangGraph is in use

        if issubclass(cls, GraphCallbackHandler):
            return cls
        aware = _aware[cls] = type(cls.__name__, (cls, GraphCallbackHandler), {"__module__": cls.__module__})
    return aware


def join_langgraph(handler: object) -> bool:
    """Makes handler a GraphCallbackHandler once LangGraph is imported; True when it is one.

    Called when the handler is built and, until it returns True, at every chain start: an
    application may build its handler (`lclog.instrument()` at startup) before it imports
    LangGraph, which picks its graph handlers right after a graph run's start.
    """
    if not langgraph_loaded():
        return False
    handler.__class__ = graph_aware(type(handler))
    return True
