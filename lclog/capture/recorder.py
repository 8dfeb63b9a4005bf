"""The recorder: run state and what each hook hands on, from the handler to the writer.

It holds a handler's parts (built by `capture/parts.py`), keeps the open runs, and turns each
hook's arguments into a typed capture (`events/captures.py`) queued for the writer; the writer
builds it with `EventBuilder.build` and runs it through the pipeline.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

from lclog._threads import fork_safe
from lclog.capture import context, twins
from lclog.capture.arguments import configured_thread, thread_of
from lclog.capture.parts import RandomHashKeyWarning, build_parts
from lclog.events.build import PAUSES
from lclog.events.captures import Capture, End, Failure, ModelEnd, Point, Start, TraceEnd
from lclog.events.routing import sampled
from lclog.events.runs import NO_RUN_ID, Run, RunTable, stub
from lclog.events.traces import is_trace_root
from lclog.events.usage import reported_by
from lclog.integrations.otel import span_ids_getter
from lclog.outputs import writer
from lclog.outputs.base import Output
from lclog.outputs.registry import release_output
from lclog.pipeline.processors import Processor
from lclog.redact.redactor import OVER_BUDGET
from lclog.settings import Settings

__all__ = ["RandomHashKeyWarning", "Recorder"]


# Runs reported orphaned that are remembered, so a late end is logged as the run it is.
_MAX_ORPHANS = 1024


class Recorder:
    """A handler's run state and parts; every method may be called from any thread."""

    def __init__(
        self, settings: Settings, outputs: Sequence[Output] | None, processors: Sequence[Processor]
    ) -> None:
        s = self.settings = settings
        parts = build_parts(settings, outputs, processors, housekeeping=self.expire_runs)
        self.stats = parts.stats
        self.redactor = parts.redactor
        self.pipeline = parts.pipeline
        self.notifier = parts.notifier
        self.metrics = parts.metrics
        self.events = parts.events
        self.history = parts.history
        self.source = parts.source
        self._process = parts.process
        self._router = parts.router
        self._span_ids = span_ids_getter()
        self.content = s.content != "none"
        self.runs = RunTable(s.max_open_runs)
        self._orphans: dict[UUID, Run] = {}
        # Your processors run in the calling thread, where its context variables are; else a
        # capture goes straight into the writer's queue.
        self._submit: Callable[[Capture], None] = (
            self._process_inline if self.pipeline.processors else self.source.put
        )
        self.content_of = self.events.content_of
        self._sample_rate = s.sample_rate
        # With whole-trace sampling every trace gets its `trace.end`, a lone run's too.
        self._min_runs = 1 if parts.sampler is not None else 2
        self._thread_keys = tuple(s.thread_keys)
        # Metadata keys naming a run's conversation, user and tenant, and the run's slot for each.
        self._attributions = (
            (self._thread_keys, "thread"),
            (tuple(s.user_keys), "user"),
            (tuple(s.tenant_keys), "tenant"),
        )
        self._placed_keys = frozenset(s.thread_keys) | set(s.user_keys) | set(s.tenant_keys)
        self._ttl_ns = int(s.run_ttl_s * 1e9)
        self._token_run: Run | None = None
        self._stream_tokens = s.stream_tokens
        # Streamed tokens written as content are held until their run ends and redacted as one
        # text: each on its own, a secret the model spells over several would go unseen.
        self._hold_tokens = self.content and self.redactor.enabled
        self._stream_budget = s.redaction.max_chars_per_value
        self._max_chars = s.max_field_chars
        # A run's held tokens change hands whole: the writer may give the run up (orphaned) while
        # its model still streams.
        self._stream_lock = fork_safe(threading.Lock())
        self._run_context = s.run_context
        # The app's structlog context on every event: asked for, or an output reads it (structlog).
        self._app_context = s.app_context or any(o.needs_context for o in self.source.outputs)
        self._skipped: set[UUID] = set()
        # Recorders built from the same settings log each run once between them.
        self._twin_key = s.model_dump_json()
        # `dropped` as the previous flush saw it: a flush that finds more returns False.
        self._dropped_seen = 0
        self._flush_lock = fork_safe(threading.Lock())
        if outputs is not None or processors:  # set in code, not config: never someone's twin
            self._twin_key += f"|{id(self)}"
        self._twins = twins.joined(self._twin_key)
        # The level of each run type's start and end, by (run type, local root, sampled).
        self._levels: dict[tuple[str, bool, bool], str | None] = {}
        self._end_levels: dict[tuple[str, bool, bool], str | None] = {}
        self.closed = False
        writer.register(self.source)

    def build_queued(self) -> None:
        """Builds the captures still queued into events (CPU only, never writes)."""
        self.source.build()

    # -- lifecycle -------------------------------------------------------------------------

    def flush_by(self, deadline: float) -> bool:
        """Delivers what is queued and pending by the monotonic deadline; True if all was, and
        nothing was dropped since the previous flush (the first: since the handler began)."""
        self.expire_runs()
        # The events are built here, by the thread that asked (CPU work, its data still in this
        # core's cache); only the writing is handed to the writer thread.
        self.source.build()
        done = writer.flush(deadline)
        for output in self.source.outputs:
            done = output.wait(deadline) and done
            writer.settle(output)
        if self.notifier is not None:
            done = self.notifier.flush(max(0.0, deadline - time.monotonic())) and done
        with self._flush_lock:  # two threads flushing at once: each drop fails one of them
            dropped = self.stats.dropped
            lost, self._dropped_seen = dropped - self._dropped_seen, dropped
        return done and not lost

    def close_by(self, deadline: float) -> None:
        """Flushes by the deadline, then releases the outputs; what is left is counted as dropped."""
        self.expire_runs()
        for run in self.runs.streaming():  # a model still streaming: what it said so far
            try:
                self._release_tokens(run)
            except Exception as exc:
                self.failed("close", exc)
        self.closed = True
        self._submit = self._dropped
        self.source.build()  # every trace whose root ended is decided ...
        self.source.release_held()  # ... and one still open is where the process stopped
        self.flush_by(deadline)
        writer.unregister(self.source)
        unwritten = self.source.discard()
        if unwritten:
            self.stats.add("dropped", unwritten)
            self.stats.report(
                "close",
                f"{unwritten} queued events not written within "
                f"flush_timeout_s={self.settings.flush_timeout_s:g}",
            )
        for output in self.source.outputs:
            release_output(output, functools.partial(self._close_output, deadline=deadline))
        twins.left(self._twin_key)
        if self.notifier is not None:
            self.notifier.close(max(0.0, deadline - time.monotonic()))

    def _close_output(self, output: Output, *, deadline: float) -> None:
        """Closes an output no other handler uses any more, within the deadline, and counts
        what it lost (while others still use it, the writer counts its losses on each of them)."""
        output.deadline = deadline
        try:
            output.close()
        except Exception as exc:
            self.stats.add("output_errors")
            self.stats.report(f"output {output.name} failed", type(exc).__name__)
        writer.count_losses(output, [self.source])

    def failed(self, hook: str, exc: Exception) -> None:
        """Counts a hook's failure and reports its type on the fallback channel (never content)."""
        self.stats.add("internal_errors")
        self.stats.report(f"{hook} failed", type(exc).__name__)

    # -- captures --------------------------------------------------------------------------

    def _dropped(self, capture: Capture) -> None:
        """`_submit` once closed: later events are dropped, and counted."""
        self.stats.add("dropped")

    def _process_inline(self, capture: Capture) -> None:
        """`_submit` with processors of yours: the event is built and processed in the caller."""
        source = self.source
        item = self._process(capture)
        if item is not None:
            source.put_built(item, capture)

    def start(
        self,
        run_type: str,
        name: str,
        run_id: UUID,
        parent_run_id: UUID | None,
        tags: list[str] | None,
        metadata: dict[str, Any] | None,
        inputs: Any,
        extra: dict[str, Any] | None = None,
        batch: int = 1,
    ) -> Run | None:
        """A run's start; returns its run, or None when a twin handler logs it. `batch`: how many
        model runs one call starts (LangChain's `batch_size`: prompts of one `generate`)."""
        if run_id is None or run_id is NO_RUN_ID:  # LangChain always passes one
            raise TypeError("a run start without run_id")
        if self._twins[0] > 1 and twins.claim(run_id, self) is not self:
            self._skipped.add(run_id)
            return None
        wall = time.time()  # with the run's monotonic start: not after its inputs are serialized
        run, evicted = self.runs.open(run_id, parent_run_id, run_type, name)
        if evicted is not None:
            self.orphaned(evicted)
        if self._span_ids is not None:
            run.otel = self._span_ids()  # read at the start, in the caller's context
        parent = run.parent
        run.sampled = parent.sampled if parent is not None else sampled(run.trace_uuid, self._sample_rate)
        if extra:
            run.model = extra.get("model")
            run.provider = extra.get("provider")
            if "model" in extra:  # a model run (see event_step)
                run.root.model_calls += 1
                if batch == 1:  # one prompt of several: the others run next to it, not in it
                    self._calling(run)
        placed = self._place(run, metadata) if metadata or parent is not None else ()
        if self._run_context:
            self._enter(run, parent)
        if self._app_context and parent is None:
            run.app = self.content_of(context.app_context())  # the request's id ..., redacted
        key = (run_type, run.local_root, run.sampled)
        try:
            level = self._levels[key]
        except KeyError:
            level = self._levels[key] = self._router.level(f"{run_type}.start", "info", *key[1:])
        if level is not None:
            # Taken now, as lclog's own data: LangChain may change its lists and dicts once the
            # hook returns, and nothing of the caller's may stay alive in the queue.
            tags = tags[:] if type(tags) is list else tags
            metadata = self.events.metadata_of(metadata, placed) if metadata else None
            inputs = self.content_of(inputs) if self.content else None
        else:  # not written: only the run is counted
            tags = metadata = inputs = None
        self._submit(Start(run, level, wall, tags, metadata, extra, inputs))
        return run

    def _calling(self, run: Run) -> None:
        """A model run starts: one still running in this context (a model answering through
        another, as a router or a cache does) has its usage and cost counted in this one."""
        caller = context.calling_model(run)
        if caller is not None and self.runs.get(caller.run_id) is caller:
            caller.model_below = True

    def _enter(self, run: Run, parent: Run | None) -> None:
        """The app's own log lines in the run carry its ids: decided at each local root (auto:
        once the app reads them), and its runs follow it."""
        if parent is None:
            if self._run_context is True or context.wanted():
                context.enter(run)
        elif parent.context is not None:
            context.enter(run)

    def _place(self, run: Run, metadata: dict[str, Any] | None) -> tuple[str, ...]:
        """Sets the run's graph node and step, its conversation, user and tenant from its
        metadata (the conversation else from its config); returns the metadata keys that named
        them (left out of the event's metadata: they are fields of their own)."""
        used: tuple[str, ...] = ()
        if metadata:
            if "langgraph_node" in metadata:
                run.node = metadata.get("langgraph_node")
                run.step = metadata.get("langgraph_step")
            if not metadata.keys().isdisjoint(self._placed_keys):
                used = self._attribute(run, metadata)
        if run.thread is None and run.parent is not None:  # a chat history's session: in the config
            configured = configured_thread(self._thread_keys)
            if configured is not None:
                run.thread = self.events.thread_label(configured)
        return used

    def _attribute(self, run: Run, metadata: dict[str, Any]) -> tuple[str, ...]:
        """Takes the run's conversation, user and tenant from metadata (unless its parent gave
        it them); returns the keys found."""
        used = []
        for keys, slot in self._attributions:
            found = thread_of(metadata, keys)
            if found is not None:
                used.append(found[0])
                if getattr(run, slot) is None:
                    setattr(run, slot, self.events.thread_label(found[1]))
        return tuple(used)

    def expire_runs(self) -> None:
        """Reports runs open longer than run_ttl_s as orphaned (on the writer's schedule)."""
        for stale in self.runs.expire(time.monotonic_ns() - self._ttl_ns):
            self.orphaned(stale)

    def orphaned(self, run: Run) -> None:
        self.stats.add("evicted_runs")
        if run.stream is not None:
            self._release_tokens(run)
        orphans = self._orphans
        orphans[run.run_id] = run
        if len(orphans) > _MAX_ORPHANS:
            # Changed by another thread: trimmed next time.
            with contextlib.suppress(StopIteration, RuntimeError):
                orphans.pop(next(iter(orphans)), None)
        age_ms = (time.monotonic_ns() - run.start_ns) / 1e6
        level = self._router.level(f"{run.run_type}.orphaned", "warning", run.local_root)
        if level is not None:
            fields = {"age_ms": round(age_ms, 3)}
            self._submit(Point(run, level, f"{run.run_type}.orphaned", time.time(), fields))

    def _ending(self, run_type: str, run_id: UUID, parent_run_id: UUID | None) -> Run | None:
        """The run ending: open, reported orphaned (then `late`), or a stub of ids; None when a
        twin handler logs it."""
        if run_id is None or run_id is NO_RUN_ID:  # LangChain always passes one
            raise TypeError("a run end without run_id")
        if self._skipped and run_id in self._skipped:
            self._skipped.discard(run_id)
            return None
        run = self.runs.close(run_id)
        if run is not None:
            if run.context is not None:
                context.leave(run)
            if run.model_token is not None:
                context.model_returned(run)
        if run is None:
            run = self._orphans.pop(run_id, None) if self._orphans else None
            if run is not None:  # reported orphaned, ending after all: the run as it was, late
                run.late = True
                return run
            # Started before this handler was attached, or forgotten long ago: ids only.
            run = stub(run_id, parent_run_id, run_type)
            run.start_ns = 0
        elif self._twins[0] > 1:
            twins.release(run_id)
        return run

    def end(
        self,
        run_type: str,
        run_id: UUID,
        parent_run_id: UUID | None,
        outputs: Any,
        extra: dict[str, Any] | None = None,
        response: Any = None,
    ) -> None:
        """A run's end; `response` (an LLMResult) gives a model run's usage and finish reason."""
        end_ns, wall = time.monotonic_ns(), time.time()  # the end, before lclog's own work
        run = self._ending(run_type, run_id, parent_run_id)
        if run is None:
            return
        if run.stream is not None:
            self._release_tokens(run)
        # A chain whose descendant failed, or that LangGraph interrupted, ends where `verbosity`
        # writes it, as a root does: the failure or the pause reads with the runs it went through.
        key = (run.run_type, run.local_root or run.failed_below or run.interrupted, run.sampled)
        try:
            level = self._end_levels[key]
        except KeyError:
            level = self._end_levels[key] = self._router.level(f"{key[0]}.end", "info", *key[1:])
        outputs = self.content_of(outputs) if level is not None and self.content else None
        if response is not None:
            self._submit(ModelEnd(run, level, wall, end_ns, outputs, reported_by(response)))
        else:
            self._submit(End(run, level, wall, end_ns, outputs, extra))
        if run.runs >= self._min_runs and is_trace_root(run) and self.events.writes_trace_end(run):
            self._submit(TraceEnd(run, time.time()))

    def error(
        self,
        run_type: str,
        error: BaseException,
        run_id: UUID,
        parent_run_id: UUID | None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        end_ns, wall = time.monotonic_ns(), time.time()  # the end, before lclog's own work
        run = self._ending(run_type, run_id, parent_run_id)
        if run is None:
            return
        if run.stream is not None:
            self._release_tokens(run)
        failure = self.events.failure_of(error)  # the exception itself is not kept
        pauses = failure[0] in PAUSES
        parent = run.parent
        while parent is not None:
            if pauses:  # the graph pauses: the runs above it end `interrupted` too, as LangGraph's
                parent.interrupted = True  # on_interrupt (not sent to instrument()'s handler)
            else:  # would say; the outermost graph returns normally
                parent.failed_below = True
            parent = parent.parent
        self._submit(Failure(run, wall, end_ns, failure, extra))
        if run.runs >= self._min_runs and is_trace_root(run) and self.events.writes_trace_end(run):
            self._submit(TraceEnd(run, time.time()))

    def token(self, run_id: UUID, token: Any) -> None:
        """A streamed token: counted and timed; written with `stream_tokens`."""
        run = self._token_run
        # LangChain passes the same run id object for every token of a run: found by identity.
        if run is None or run.run_id is not run_id:
            run = self.runs.get(run_id)
            if run is None:
                return
            self._token_run = run
        if not run.first_token_ns:
            run.first_token_ns = time.monotonic_ns()
        run.chunks += 1
        if self._stream_tokens:
            level = self._router.level(f"{run.run_type}.token", "info", False, run.sampled)
            if level is None:
                return
            if self._hold_tokens and type(token) is str:
                self._hold(run, level, token)
                return
            fields: dict[str, Any] = {"index": run.chunks - 1}
            if self.content:
                fields["token"] = self.content_of(token)
            self._submit(Point(run, level, f"{run.run_type}.token", time.time(), fields))

    def _hold(self, run: Run, level: str, token: str) -> None:
        """Keeps a streamed token's event until its run ends. Past the redaction budget, its
        tokens are written at once, each as a marker: so much text is not redacted in the
        calling thread, nor held."""
        entry = (level, run.chunks - 1, time.time(), token)
        with self._stream_lock:
            held = run.stream
            if held is None:
                held = run.stream = []
            held.append(entry)
            run.stream_chars += len(token)
            over = run.stream_chars > self._stream_budget
        if over:
            self._release_tokens(run)

    def _release_tokens(self, run: Run) -> None:
        """Writes a run's held token events, their texts redacted together (at its end, when it
        is given up, or past the redaction budget: as markers, counted)."""
        with self._stream_lock:
            held, run.stream = run.stream, None
        if not held:
            return
        if run.stream_chars > self._stream_budget:
            texts = [OVER_BUDGET] * len(held)
            self.stats.add("redaction_over_budget", len(held))
        else:
            texts = self.redactor.redact_stream([text for *_, text in held], self._max_chars)
        name = f"{run.run_type}.token"
        for (level, index, wall, _), text in zip(held, texts, strict=True):
            self._submit(Point(run, level, name, wall, {"index": index, "token": text}))

    def first_output(self, run_id: UUID) -> None:
        """The run's first streamed output (v3 stream events): time to first token."""
        run = self.runs.get(run_id)
        if run is not None and not run.first_token_ns:
            run.first_token_ns = time.monotonic_ns()

    def point(
        self,
        level: str,
        name: str,
        run_id: UUID,
        parent_run_id: UUID | None,
        fields: dict[str, Any],
        *,
        kept: bool = False,
    ) -> None:
        """An event inside a run (agent action, retry, custom event, text ...); `kept`: written
        where `verbosity` writes a root run's events."""
        run = self.runs.get(run_id) or stub(run_id, parent_run_id, name)
        routed = self._router.level(name, level, kept, run.sampled)
        if routed is not None:
            self._submit(Point(run, routed, name, time.time(), fields))

    def graph_event(self, phase: str, payload: Any) -> None:
        """LangGraph paused (`interrupt`) or resumed (`resume`) a graph run."""
        run_id = getattr(payload, "run_id", None)
        run = self.runs.get(run_id) if run_id is not None else None
        if run is not None:
            run.interrupted = phase == "interrupt"  # its end says so, though LangGraph returns normally
        run_type = run.run_type if run is not None else "chain"
        fields: dict[str, Any] = {
            "status": getattr(payload, "status", None),
            "checkpoint_id": getattr(payload, "checkpoint_id", None),
            "checkpoint_ns": list(getattr(payload, "checkpoint_ns", ()) or ()),
        }
        interrupts = getattr(payload, "interrupts", None)
        if interrupts is not None and self.content:
            fields["interrupts"] = self.content_of([getattr(i, "value", i) for i in interrupts])
        if run_id is not None:
            self.point("info", f"{run_type}.{phase}", run_id, None, fields, kept=True)  # a pause matters
