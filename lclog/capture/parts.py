"""A handler's parts, built from its settings in one place: counters, redactor, pipeline, event
builder, conversation history, notifier and the writer's source — and the step the writer runs
on each capture (build the event, reference its conversation's history, run the pipeline)."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from lclog.counters import Counters
from lclog.events.build import EventBuilder
from lclog.events.captures import Capture
from lclog.events.cost import Prices
from lclog.events.history import History
from lclog.events.metrics import Metrics
from lclog.events.routing import Router
from lclog.events.sampling import Rules, Sampler
from lclog.events.serialize import Limits
from lclog.notify import Alerts, Notifier
from lclog.outputs import writer
from lclog.outputs.base import Output
from lclog.outputs.registry import acquire_outputs
from lclog.pipeline.layouts import schema_processor
from lclog.pipeline.processors import Pipeline, Processor, Rendered, import_processor
from lclog.redact.checks import random_hash_key_warning
from lclog.redact.redactor import Redactor, shared_redactor
from lclog.settings import Settings

__all__ = ["MAX_HISTORY", "Parts", "RandomHashKeyWarning", "build_parts", "event_step"]


class RandomHashKeyWarning(UserWarning):
    """Hash mode without a key: hashes do not correlate across processes."""


# `history: once` cuts a message list in the hook only past this many messages: below it the whole
# list is taken, and what this process wrote before is referenced, not repeated.
MAX_HISTORY = 10_000


@dataclass(frozen=True, slots=True)
class Parts:
    """What a handler is made of, besides its run state."""

    stats: Counters
    redactor: Redactor
    pipeline: Pipeline
    router: Router
    notifier: Notifier | None
    metrics: Metrics
    events: EventBuilder
    history: History | None
    source: writer.Source
    sampler: Sampler | None
    # The writer's step on each capture (see event_step).
    process: Callable[[Capture], Rendered | None]


def build_parts(
    settings: Settings,
    outputs: Sequence[Output] | None,
    processors: Sequence[Processor],
    *,
    housekeeping: Callable[[], None] | None = None,
) -> Parts:
    """Builds a handler's parts; `outputs` None: those the settings name (shared with other
    handlers naming the same destinations). `housekeeping` runs on the writer's schedule."""
    s = settings
    stats = Counters()
    redactor = shared_redactor(s.redaction)  # compiled once, when the config was loaded
    warning = random_hash_key_warning(s.redaction)
    if warning:
        warnings.warn(f"lclog: {warning}", RandomHashKeyWarning, stacklevel=4)
    chain = [import_processor(p) for p in s.processors] + list(processors)
    pipeline = Pipeline(redactor, chain, stats, schema=schema_processor(s.schema_))
    router = Router(s.verbosity, s.events, s.level)
    notifier = Notifier(s.notify, redactor, stats) if s.notify.targets else None
    alerts = Alerts(s.notify, notifier, s.service, s.max_open_runs) if notifier is not None else None
    built: list[writer.Source] = []
    # Counts every run at once; reading it first builds the events still queued.
    metrics = Metrics(sync=lambda: built[0].build() if built else None)
    content = s.content != "none"

    def over_budget(strings: int) -> None:
        stats.add("redaction_over_budget", strings)
        limit = s.redaction.max_chars_per_value
        stats.report(
            "content over budget",
            f"{strings} string(s) past redaction.max_chars_per_value={limit}: [REDACTED:over_budget]",
        )

    history = History() if s.history == "once" and content else None
    sampler = None
    if s.sampling.enabled:
        rules = Rules(**s.sampling.model_dump())
        sampler = Sampler(rules, stats.add, history.forget if history is not None else None)
    events = EventBuilder(
        service=s.service,
        limits=Limits(
            s.max_depth,
            s.max_items,
            s.max_field_chars,
            s.max_items if s.history == "full" else MAX_HISTORY,
            cut=redactor.cut,
        ),
        scrub=redactor if redactor.fuses else None,
        content=content,
        include_stacktrace=s.include_stacktrace,
        router=router,
        metrics=metrics,
        alerts=alerts,
        prices=Prices(s.prices),
        unpriced=functools.partial(stats.add, "unpriced_calls"),
        budget=redactor.budget if redactor.enabled else None,
        over_budget=over_budget,
        sampler=sampler,
    )
    process = event_step(events, pipeline, history)
    source = writer.Source(
        acquire_outputs(s.outputs) if outputs is None else outputs,
        stats,
        capacity=s.queue_size,
        max_bytes=s.max_queue_bytes,
        interval=s.flush_interval_s,
        process=process,
        housekeeping=housekeeping,
        sampler=sampler,
    )
    built.append(source)
    return Parts(
        stats, redactor, pipeline, router, notifier, metrics, events, history, source, sampler, process
    )


def event_step(
    builder: EventBuilder, pipeline: Pipeline, history: History | None = None
) -> Callable[[Capture], Rendered | None]:
    """What the writer runs on each capture: build the event, then the pipeline (referencing
    what its conversation wrote before, with `history: once`)."""

    builders = builder.builders
    finish = pipeline.plain if pipeline.is_plain else pipeline.process

    def process(capture: Capture) -> Rendered | None:
        event = builders[type(capture)](*capture)  # EventBuilder.build, one call less
        if event is None:
            return None
        run = capture[0]
        # Without a thread, a trace is a conversation from its second model call (an agent loop):
        # one call repeats its prompt once, and tracking it would cost more than that.
        if history is None or (run.thread is None and run.root.model_calls < 2):
            return finish(event)
        return history.through(pipeline, event, run)

    return process
