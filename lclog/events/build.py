"""What a hook captured -> the event dict: run fields, timing, usage, metrics and alerts.

Hooks keep only what must be read in the caller (the run tree, clocks, the active span, content
serialized while it cannot change); everything here runs later, for many events in a row, in
the writer or in a producer that helps it.
"""

from __future__ import annotations

import functools
import sys
import threading
import traceback
from collections.abc import Callable
from typing import Any, Protocol

from lclog.events import fields as _fields
from lclog.events.captures import Capture, End, Failure, ModelEnd, Point, Start, TraceEnd
from lclog.events.cost import Prices
from lclog.events.metrics import Metrics
from lclog.events.routing import Router
from lclog.events.runs import Run
from lclog.events.sampling import Sampler
from lclog.events.serialize import Limits, Scrubber, to_jsonable
from lclog.events.traces import Traces, is_trace_root

__all__ = ["EventBuilder"]


class Watcher(Protocol):
    """What hears of every run that ends (the notifier's `Alerts`)."""

    def failed(self, run: Run, error: dict[str, Any], duration: float) -> None: ...

    def ended(self, run: Run, duration: float, *, failed: bool) -> None: ...

    def charged(self, run: Run, cost: dict[str, Any] | None, usage: dict[str, Any] | None) -> None: ...


# Exceptions that end a run without it having failed (LangGraph control flow, cancellation).
INTERRUPTS = frozenset({"GraphInterrupt", "NodeInterrupt", "GraphBubbleUp", "ParentCommand"})
# Those that pause the whole graph: every run above one pauses with it.
PAUSES = frozenset({"GraphInterrupt", "NodeInterrupt"})
CANCELS = frozenset({"CancelledError", "KeyboardInterrupt", "GeneratorExit"})
# Metadata key prefixes that are LangChain's and LangGraph's, not the caller's (see metadata_of).
_HINTS = ("ls_", "langgraph_")
_BOOKKEEPING = frozenset({"lc_versions", "checkpoint_ns"})
# Fields the builder redacts as it writes them (tags come labelled by `tags`, names by `_base`).
# (`error` and `custom_event` come redacted from `error_fields` and `label_of`.)
_LABELS = _fields.LABELS - {"name", "node", "step", "tags", "thread_id", "error", "custom_event"}
# The budget state's "no budget" (see Redactor.budget).
NO_LIMIT = sys.maxsize
# Names and tags are labels, not content: kept short whatever a caller passes.
MAX_NAME = 256
NAME_LIMITS = Limits(max_depth=1, max_items=8, max_chars=MAX_NAME)


def _same(text: str) -> str:
    return text


def _nothing() -> None:
    pass


def _ignore(_: int) -> None:
    pass


def control_flow(error: BaseException) -> str | None:
    """The name of the interrupt or cancellation class error is (or derives from), else None."""
    for cls in type(error).__mro__:
        if cls.__name__ in INTERRUPTS or cls.__name__ in CANCELS:
            return cls.__name__
    return None


class EventBuilder:
    """Builds run events from captured hook data; updates metrics and alerts as runs end.

    Each method returns the event dict, or None when the event is not written (its level was
    None); metrics and alerts count every run either way.
    """

    def __init__(
        self,
        *,
        service: str,
        limits: Limits,
        scrub: Scrubber | None,
        content: bool,
        include_stacktrace: bool,
        router: Router,
        metrics: Metrics,
        alerts: Watcher | None,
        prices: Prices | None = None,
        unpriced: Callable[[], None] | None = None,
        budget: tuple[threading.local, int] | None = None,
        over_budget: Callable[[int], None] | None = None,
        sampler: Sampler | None = None,
    ) -> None:
        self._service = service
        self._limits = limits
        self._scrub = scrub
        # Names, tags, models, error texts: redacted here when content is (events then need no
        # redaction pass of their own; see Pipeline).
        self._label = scrub.scrub_text if scrub is not None else _same
        # Redacts, then shortens (`Limits.cut` redacts too where redaction is on but not fused).
        self._cut = scrub.cut if scrub is not None else limits.cut
        self._name_limits = Limits(NAME_LIMITS.max_depth, NAME_LIMITS.max_items, MAX_NAME, cut=limits.cut)
        self._content = content
        self._include_stacktrace = include_stacktrace
        self._router = router
        self._metrics = metrics
        self._alerts = alerts
        self._prices = prices or Prices({})
        self._unpriced = unpriced or _nothing
        self._traces = Traces()
        self._sampler = sampler
        # value -> bounded JSON-safe data, redacted as it is serialized when redaction fuses,
        # within the redactor's budget per value (Redactor.budget) when it has one
        self._serialize = functools.partial(to_jsonable, limits=limits, scrub=scrub)
        self._budget_state, self._budget = budget or (threading.local(), 0)
        self._over_budget = over_budget or _ignore
        self.content_of: Callable[[Any], Any] = self._serialize if budget is None else self._budgeted
        # The method that builds each kind of capture (the event step calls them directly).
        self.builders: dict[type, Callable[..., dict[str, Any] | None]] = {
            Start: self.start,
            End: self.end,
            ModelEnd: self.model_end,
            Failure: self.error,
            Point: self.point,
            TraceEnd: self.trace_end,
        }

    def _budgeted(self, value: Any) -> Any:
        # The redactor's budget for this value (see Redactor.budget): this runs for every one.
        state = self._budget_state
        state.left = self._budget
        state.over = 0
        try:
            return self._serialize(value)
        finally:
            state.left = NO_LIMIT
            if state.over:
                self._over_budget(state.over)

    def build(self, capture: Capture) -> dict[str, Any] | None:
        """The event of a capture (None: not written); counts it in metrics and alerts."""
        return self.builders[type(capture)](*capture)

    def _base(self, level: str, event: str, run: Run, wall: float) -> dict[str, Any]:
        if run._id is None:
            run._format()
        label = run.label
        if label is None:
            label = run.label = self.label_of(run.name)
        base = {
            "timestamp": wall,  # formatted by the pipeline
            "level": level,
            "event": event,
            "service": self._service,
            "run_id": run._id,
            "parent_run_id": run._parent_id,
            "trace_id": run._trace_id,
            "depth": run.depth,
            "name": label,
        }
        if run.otel is not None:
            base["otel"] = run.otel
        if run.thread is not None:
            base["thread_id"] = run.thread
        if run.user is not None:
            base["user_id"] = run.user
        if run.tenant is not None:
            base["tenant_id"] = run.tenant
        if run.node is not None:
            base["node"] = self._label(run.node) if type(run.node) is str else run.node
            base["step"] = run.step if type(run.step) is int else self.content_of(run.step)
        app = run.root.app
        if app:
            base["context"] = app
        return base

    def label_of(self, text: str) -> str:
        """A name as events carry it: redacted, then cut to MAX_NAME characters."""
        return self._label(text) if len(text) <= MAX_NAME else self._cut(text, MAX_NAME)

    def thread_label(self, thread: str | int) -> str:
        """A conversation's id (a thread or session id from metadata) as the label events carry."""
        return self.label_of(str(thread))

    def tags(self, tags: Any) -> list[Any]:
        """tags as a short list of labels."""
        if type(tags) is list:
            for t in tags:
                if type(t) is not str or len(t) > MAX_NAME:
                    break
            else:
                return list(map(self._label, tags[: self._limits.max_items]))
        value = to_jsonable(tags, self._name_limits, self._scrub)
        return value if isinstance(value, list) else [value]

    def metadata_of(self, metadata: dict[str, Any], placed: tuple[str, ...] = ()) -> Any:
        """The caller's metadata as bounded JSON-safe data (redacted when redaction fuses); the
        keys naming the run's conversation, user and tenant are left out (they are the event's
        `thread_id`, `user_id` and `tenant_id`)."""
        # Left out: LangSmith's hints (ls_provider, ls_model_name, lc_versions ...), whose content
        # is in `model`, `provider` and `params`, and LangGraph's per-task keys (langgraph_node,
        # langgraph_step, langgraph_triggers, langgraph_path ...): node and step are fields of
        # their own, the rest is the scheduler's bookkeeping, repeated on every event of a node
        # (as `checkpoint_ns`, which LangChain copies from the config for every run of a task).
        user = {
            k: v
            for k, v in metadata.items()
            if not (k.startswith(_HINTS) or k in _BOOKKEEPING or k in placed)
        }
        return self.content_of(user) if user else {}

    @staticmethod
    def _duration(run: Run, end_ns: int) -> float:
        """The run's duration in ms (0.0 when its start was not seen)."""
        # Whole microseconds, in ms: the nearest float to a 3-decimal number, as round(x, 3) gives.
        return (end_ns - run.start_ns) // 1000 / 1000 if run.start_ns else 0.0

    @staticmethod
    def _timing(run: Run, duration: float, event: dict[str, Any]) -> None:
        """Writes the run's duration (None when its start was not seen) and streaming times."""
        if not run.start_ns:
            event["duration_ms"] = None
            return
        event["duration_ms"] = duration
        if run.first_token_ns:
            event["ttft_ms"] = (run.first_token_ns - run.start_ns) // 1000 / 1000
            event["chunks"] = run.chunks

    # -- run starts and ends -----------------------------------------------------------------

    def start(
        self,
        run: Run,
        level: str | None,
        wall: float,
        tags: Any,
        metadata: Any,
        extra: dict[str, Any] | None,
        inputs: Any,
    ) -> dict[str, Any] | None:
        """A run's start; `metadata` as `metadata_of` returned it (None: none)."""
        # Model runs aggregate per model when it is known, other runs per name.
        self._metrics.started(run.run_type, run.model or run.name)
        if is_trace_root(run) and self.writes_trace_end(run):
            self._traces.opened(run, metadata)
        if level is None:
            return None
        event = self._base(level, f"{run.run_type}.start", run, wall)
        event["tags"] = self.tags(tags) if tags else []
        event["metadata"] = metadata if metadata is not None else {}
        if extra:
            event.update(extra)
            if "model" in extra:  # a model run: its names come from the model's settings
                self._label_models(event)
        if self._content:
            event["inputs"] = inputs
        return event

    def _label_models(self, event: dict[str, Any]) -> None:
        for key in ("model", "provider", "finish_reason"):
            value = event.get(key)
            if value is not None:
                event[key] = self._labelled(value)

    def _labelled(self, value: Any) -> Any:
        """A label field's value, redacted when redaction fuses (see fields.py)."""
        if type(value) is str:
            return self._label(value)
        if type(value) is dict and self._scrub is not None:  # an error: its texts, not cut shorter
            return self._labelled_dict(value)
        return self.content_of(value) if self._scrub is not None else value

    # Apart from `_labelled`: a comprehension would make `self` a cell at every call (3.10, 3.11).
    def _labelled_dict(self, value: dict[str, Any]) -> dict[str, Any]:
        return {k: self._label(v) if type(v) is str else self.content_of(v) for k, v in value.items()}

    def end(
        self,
        run: Run,
        level: str | None,
        wall: float,
        end_ns: int,
        outputs: Any,
        extra: dict[str, Any] | None = None,
        usage: dict[str, Any] | None = None,
        cost: dict[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        # A graph paused by interrupt() returns normally; it did not finish.
        outcome = "interrupted" if run.interrupted else "ok"
        duration = self._duration(run, end_ns)
        model = extra.get("model") if extra else None
        started_as = run.model or run.name
        self._metrics.ended(
            run.run_type, model or started_as, duration, usage=usage, cost=cost, started_as=started_as
        )
        self._traces.ended(run, duration, usage=usage, cost=cost, outcome=outcome, model=model)
        if self._alerts is not None:
            if usage is not None or cost is not None:  # a model call
                self._alerts.charged(run, cost, usage)
            self._alerts.ended(run, duration, failed=False)
        if level is None:  # counted, not written: no event is built
            return None
        event = self._base(level, f"{run.run_type}.end", run, wall)
        event["outcome"] = outcome
        if run.interrupted:
            event["reason"] = "GraphInterrupt"
        if run.late:
            event["late"] = True  # ends after its `*.orphaned` event
        self._timing(run, duration, event)
        if extra:
            event.update(extra)
        if self._content:
            event["outputs"] = outputs
        return event

    def model_end(
        self, run: Run, level: str | None, wall: float, end_ns: int, outputs: Any, reported: tuple[Any, ...]
    ) -> dict[str, Any] | None:
        """`end` for LLM and chat model runs: model, usage and finish reason, as `reported_by`
        read them from the response."""
        usage, source, finish_reason, response_model = reported
        model = response_model or run.model
        if run.model_below:  # a wrapper: the model calls it made are counted and priced, once
            usage = source = None
        extra: dict[str, Any] = {"model": model, "usage": usage, "usage_source": source}
        if run.provider:
            extra["provider"] = run.provider
        if finish_reason:
            extra["finish_reason"] = finish_reason
        if run.model_below:
            extra["cost"] = cost = None
            extra["counted_below"] = True
        else:
            extra["cost"] = cost = self.cost_of(model, run.provider, usage)
        event = self.end(run, level, wall, end_ns, outputs, extra, usage, cost)
        if event is not None:
            self._label_models(event)
        return event

    def error(
        self,
        run: Run,
        wall: float,
        end_ns: int,
        failure: tuple[str | None, dict[str, Any] | None],
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        """A run's error, as `failure_of` captured it; interrupts and cancellations end it."""
        kind, fields = failure
        if kind is not None:
            outcome = "interrupted" if kind in INTERRUPTS else "cancelled"
            level = "warning" if outcome == "cancelled" else "info"
            event = self._base(level, f"{run.run_type}.end", run, wall)
            event["outcome"] = outcome
            event["reason"] = kind
            duration = self._duration(run, end_ns)
            self._timing(run, duration, event)
            self._metrics.ended(run.run_type, run.model or run.name, duration)
            self._traces.ended(run, duration, outcome=outcome)
        else:
            event = self._base("error", f"{run.run_type}.error", run, wall)
            event["outcome"] = "error"
            duration = self._duration(run, end_ns)
            self._timing(run, duration, event)
            event["error"] = fields  # redacted as it was captured (error_fields)
            cost = usage = None
            if run.run_type in ("llm", "chat_model") and not run.model_below:  # a failed call is billed too
                usage = extra.get("usage") if extra else None
                cost = event["cost"] = self.cost_of(run.model, run.provider, usage)
            self._metrics.ended(run.run_type, run.model or run.name, duration, error=True, cost=cost)
            self._traces.ended(run, duration, usage=usage, cost=cost, error=event["error"], outcome="error")
            if self._alerts is not None:
                if usage is not None or cost is not None:  # what a failed call used is billed
                    self._alerts.charged(run, cost, usage)
                self._alerts.failed(run, event["error"], duration)
                self._alerts.ended(run, duration, failed=True)
        if run.late:
            event["late"] = True  # ends after its `*.orphaned` event
        # A run that paused or was cancelled is written as a root's end is (verbosity): it says
        # where the request stopped.
        kept = run.local_root or kind is not None
        routed = self._router.level(event["event"], event["level"], kept, run.sampled)
        if routed is None:
            return None
        event["level"] = routed
        if extra:
            event.update(extra)
            if "model" in extra:
                self._label_models(event)
        return event

    def cost_of(self, model: Any, provider: Any, usage: Any) -> dict[str, Any] | None:
        """What a model call cost (see cost.py); an unknown cost is counted in `unpriced_calls`."""
        cost = self._prices.cost(model, provider, usage)
        if cost is None:
            self._unpriced()
        return cost

    def failure_of(self, error: BaseException) -> tuple[str | None, dict[str, Any] | None]:
        """(the interrupt or cancellation class, None) or (None, error fields): what lclog keeps
        of an exception, whose traceback would otherwise hold the failed frames alive."""
        kind = control_flow(error)
        return (kind, None) if kind is not None else (None, self.error_fields(error))

    def error_fields(self, error: BaseException) -> dict[str, Any]:
        """The error's type, message and (when configured) stack trace: redacted when redaction
        fuses, and cut to their limits only once redacted."""
        fields: dict[str, Any] = {
            "type": self._label(type(error).__qualname__),
            "message": to_jsonable(error, self._limits, self._scrub)["message"],
        }
        if self._include_stacktrace:
            # Frames and source lines only: no locals, which could hold secrets.
            stack = "".join(traceback.format_exception(type(error), error, error.__traceback__))
            fields["stack_trace"] = self._cut(stack, self._limits.max_chars * 4)
        return fields

    def writes_trace_end(self, run: Run) -> bool:
        """Whether the trace `run` is the root of gets a `trace.end` line (its sampling, the level
        and `events`): when not, nothing is totalled for it and its root's end queues nothing."""
        return self._router.level("trace.end", "info", True, run.sampled) is not None

    def trace_end(self, run: Run, wall: float) -> dict[str, Any] | None:
        """`trace.end`: one line per request, when its root has ended (see traces.py)."""
        totals = self._traces.close(run)
        if totals is None:
            return None
        level = self._router.level("trace.end", "info", True, run.sampled)
        if level is None:
            return None
        event = self._base(level, "trace.end", run, wall)
        event.update(totals.fields(self._labelled))
        if self._sampler is not None:
            event["sampled"] = self._sampler.decide(run, totals)
        return event

    # -- events within a run -----------------------------------------------------------------

    def point(self, run: Run, level: str, name: str, wall: float, fields: dict[str, Any]) -> dict[str, Any]:
        """An event inside a run: agent action, retry, custom event, token, orphaned run ..."""
        event = self._base(level, name, run, wall)
        for key, value in fields.items():
            event[key] = self._labelled(value) if key in _LABELS else value
        return event
