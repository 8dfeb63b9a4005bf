"""The event step: what the writer runs on each capture — build the event (counting its run in
metrics and alerts), reference what its conversation wrote before, run the pipeline."""

from __future__ import annotations

from collections.abc import Callable

from lclog.events.build import EventBuilder
from lclog.events.captures import Capture
from lclog.events.history import History
from lclog.outputs.base import Item
from lclog.pipeline.processors import Pipeline

__all__ = ["event_step"]


def event_step(
    builder: EventBuilder, pipeline: Pipeline, history: History | None = None
) -> Callable[[Capture], Item | None]:
    """What the writer runs on each capture: build the event, then the pipeline (referencing
    what its conversation wrote before, with `history: once`)."""

    builders = builder.builders
    finish = pipeline.plain if pipeline.is_plain else pipeline.process

    def process(capture: Capture) -> Item | None:
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
