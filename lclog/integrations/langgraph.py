"""LangGraph: interrupts and resumes reach a handler only if it is a GraphCallbackHandler."""

from __future__ import annotations

import sys

__all__ = ["graph_aware", "langgraph_loaded"]


def langgraph_loaded() -> bool:
    """True once the application imported LangGraph's callbacks (any LangGraph app does)."""
    return "langgraph.callbacks" in sys.modules


_aware: dict[type, type] = {}


def graph_aware(cls: type) -> type:
    """cls as a LangGraph GraphCallbackHandler too, so LangGraph sends it on_interrupt/on_resume."""
    aware = _aware.get(cls)
    if aware is None:
        from langgraph.callbacks import GraphCallbackHandler  # optional: only when LangGraph is in use

        aware = _aware[cls] = type(cls.__name__, (cls, GraphCallbackHandler), {"__module__": cls.__module__})
    return aware
