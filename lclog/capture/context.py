"""The run your own log lines are written in: while a LangChain run is active, its ids are in the
caller's context, for the application's logs to carry.

- structlog: the ids are a structlog context variable (`lclog`), merged into every line by
  `structlog.contextvars.merge_contextvars` like one bound with `bind_contextvars`;
- stdlib logging: `RunContextFilter` puts them on each record (`record.lclog`);
- anything else: `current_run()`.

The value is `{"trace_id", "run_id"}`, with `thread_id`, `node` and `otel` (the OpenTelemetry
span active at the run's start) when the run has them: the same values lclog's events carry, so a
line joins its run by id. With `run_context: auto` (the default) the ids are set once the application reads
them: structlog configured with `merge_contextvars`, or a `RunContextFilter` made. A run's start
sets them in the context the run's body runs in (LangChain
copies the context into threads, executors and tasks it starts); its end gives back what was
there before (a child's end its parent's ids, the outermost run's end what the request had).
asyncio runs each run's end in a task of its own, whose context is a copy: there the value is
changed in place instead, so the lines an async caller writes after a run ended carry its
parent's ids, or `"lclog": {}` after the outermost run ended.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from typing import Any

import structlog
from structlog.contextvars import STRUCTLOG_KEY_PREFIX, get_contextvars, merge_contextvars

from lclog.events.runs import Run

__all__ = [
    "RunContextFilter",
    "RunIds",
    "app_context",
    "calling_model",
    "current_run",
    "enter",
    "leave",
    "model_returned",
    "wanted",
]


class RunIds(dict[str, Any]):
    """A run's ids as log lines carry them, while the run is active."""

    __slots__ = ("before", "ended", "followers", "token")
    before: Any  # what the context held before: another run's ids, or Ellipsis (none)
    ended: bool
    followers: list[RunIds] | None  # ended elsewhere, shown with these ids now (see _hand_over)
    token: contextvars.Token[Any]


# Named as structlog names its context variables: merge_contextvars merges it as `lclog`.
# Ellipsis is structlog's "not bound".
RUN: contextvars.ContextVar[Any] = contextvars.ContextVar(f"{STRUCTLOG_KEY_PREFIX}lclog", default=...)


# `run_context: auto`: RunContextFilters made, and structlog's processors as last checked.
_READERS: dict[str, Any] = {"filters": 0, "processors": None, "merged": False}


def wanted() -> bool:
    """Whether the application reads the active run's ids (`run_context: auto`): a
    RunContextFilter was made, or structlog is configured with `merge_contextvars`."""
    if _READERS["filters"]:
        return True
    if not structlog.is_configured():
        return False
    processors = structlog.get_config()["processors"]
    if processors is not _READERS["processors"]:  # configure() sets a new list
        _READERS["processors"] = processors
        _READERS["merged"] = any(p is merge_contextvars for p in processors)
    return bool(_READERS["merged"])


def enter(run: Run) -> None:
    """Makes `run` the active run of the caller's context (at its start)."""
    before = RUN.get()
    run_id = run.id
    if type(before) is RunIds and before.get("run_id") == run_id:
        return  # another lclog handler attached to the same run set it
    ids = RunIds(trace_id=run.trace_id, run_id=run_id)
    if run.thread is not None:
        ids["thread_id"] = run.thread
    if run.node is not None:
        ids["node"] = run.node
    if run.otel is not None:
        ids["otel"] = run.otel
    ids.before = before
    ids.ended = False
    ids.followers = None
    ids.token = RUN.set(ids)
    run.context = ids


def leave(run: Run) -> None:
    """Gives the context `run` started in back what it held before (at the run's end)."""
    ids = run.context
    if ids is None:
        return
    run.context = None
    active = RUN.get()
    while active is not ids and type(active) is RunIds:  # below it: runs that never ended
        active = active.before
    if active is not ids:  # not active here any more
        _hand_over(ids, [])
        return
    try:
        RUN.reset(ids.token)
    except ValueError:
        # The end runs in another context (asyncio gives each end a task of its own): the
        # context the run started in keeps this object, which now says what it held before.
        _hand_over(ids, [ids])
    else:
        _hand_over(ids, [])


def _hand_over(ids: RunIds, moved: list[RunIds]) -> None:
    """Ends `ids`: what still shows it elsewhere (`moved`, and the ids of runs below that ended
    elsewhere) shows its nearest active ancestor's ids from now on, or none."""
    ids.ended = True
    if ids.followers:
        moved += ids.followers
        ids.followers = None
    if not moved:
        return
    target = ids.before
    while type(target) is RunIds and target.ended:
        target = target.before
    active = type(target) is RunIds
    for follower in moved:
        follower.clear()
        if active:
            follower.update(target)
    if active:
        target.followers = (target.followers or []) + moved


# The model run running in a context: a model run that starts while another runs there is the
# call that one makes (LangChain gives a model run no children; a model calling another model
# passes it its callbacks through the context).
_MODEL: contextvars.ContextVar[Run | None] = contextvars.ContextVar("lclog_model_run", default=None)


def calling_model(run: Run) -> Run | None:
    """Makes the model run `run` the one running in the caller's context; returns the model run
    that was running there (whose call this is), if any."""
    caller = _MODEL.get()
    run.model_token = _MODEL.set(run)
    return caller


def model_returned(run: Run) -> None:
    """The model run ended: its context gets back the model run that was running before."""
    token, run.model_token = run.model_token, None
    # Ended in another context (asyncio): there the next model start finds it closed.
    with contextlib.suppress(ValueError):
        _MODEL.reset(token)


def current_run() -> dict[str, Any] | None:
    """The ids of the LangChain run active in this context (a copy), or None outside any."""
    ids = RUN.get()
    return dict(ids) if type(ids) is RunIds and ids else None


def app_context() -> dict[str, Any]:
    """The application's structlog context variables now (a request id ...), lclog's own left out."""
    found = get_contextvars()
    found.pop("lclog", None)
    return found


class RunContextFilter(logging.Filter):
    """Adds the active LangChain run's ids to each record, as `record.lclog` (a dict); records
    written outside any run are left as they are. Attach it to the handlers that write your
    records (`handler.addFilter(RunContextFilter())`), so records of every logger get it."""

    def __init__(self, name: str = "") -> None:
        super().__init__(name)
        _READERS["filters"] += 1  # `run_context: auto` sets the ids from now on

    def filter(self, record: logging.LogRecord) -> bool:
        ids = RUN.get()
        if type(ids) is RunIds and ids:
            record.lclog = dict(ids)
        return True
