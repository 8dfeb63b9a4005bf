"""Volume control: which events are written, at which level (presets, overrides, sampling)."""

from __future__ import annotations

from collections.abc import Mapping
from uuid import UUID

__all__ = ["LEVELS", "Router", "sampled"]

LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}
# Run events a preset keeps at their own level; the rest drop to debug.
#   full: every event. standard: chain runs below the root are internals (RunnableSequence,
#   RunnableLambda, prompts, parsers). minimal: root runs, LLM and tool ends, warnings, errors.
_MINIMAL_ENDS = frozenset({"llm.end", "chat_model.end", "tool.end"})


def sampled(trace_id: str | UUID, rate: float) -> bool:
    """Decides from the trace id alone (its last 8 hex digits), so every run of a trace and
    every process agrees."""
    if rate >= 1.0:
        return True
    if isinstance(trace_id, UUID):
        return (trace_id.int & 0xFFFFFFFF) < rate * 0xFFFFFFFF
    try:
        return int(trace_id.replace("-", "")[-8:], 16) < rate * 0xFFFFFFFF
    except ValueError:
        return True


class Router:
    """Returns the level an event is written at, or None when it is not written."""

    def __init__(self, verbosity: str, overrides: Mapping[str, str], min_level: str) -> None:
        self._verbosity = verbosity
        self._overrides = dict(overrides)
        self._min = LEVELS[min_level]
        self._cache: dict[tuple[str, str, bool, bool], str | None] = {}

    def level(self, event: str, default: str, root: bool, sampled: bool = True) -> str | None:
        """The level `event` (normally at `default`) is written at; None: not written."""
        key = (event, default, root, sampled)
        try:
            return self._cache[key]
        except KeyError:
            pass
        level: str | None = self._preset(event, default, root)
        if event in self._overrides:
            level = self._overrides[event]
        if level == "drop" or (level != "error" and not sampled):  # errors are always kept
            level = None
        if level is not None and LEVELS[level] < self._min:
            level = None
        self._cache[key] = level
        return level

    def _preset(self, event: str, default: str, root: bool) -> str:
        if self._verbosity == "full" or LEVELS[default] >= LEVELS["warning"]:
            return default
        run_type, _, phase = event.rpartition(".")
        if self._verbosity == "standard":
            return "debug" if run_type == "chain" and not root else default
        if root and phase in ("start", "end"):
            return default
        return default if event in _MINIMAL_ENDS else "debug"
