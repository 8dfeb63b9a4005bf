"""LoggingCallbackHandler: LangChain callbacks -> one plain event dict per run start and end."""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler

from lclog import _shutdown
from lclog.capture import dispatch_fix
from lclog.capture.runs import Run, RunTable
from lclog.config import Settings, load_config
from lclog.counters import Stats
from lclog.events import fields
from lclog.events.build import MAX_NAME, NAME_LIMITS, EventBuilder, reported_by, usage_of
from lclog.events.metrics import Metrics
from lclog.events.routing import Router, sampled
from lclog.events.serialize import Limits, to_jsonable, truncate
from lclog.integrations.otel import span_ids_getter
from lclog.notify import Alerts, Notifier
from lclog.outputs import writer
from lclog.outputs.base import Output
from lclog.outputs.registry import acquire_outputs, release_output
from lclog.pipeline.layouts import schema_processor
from lclog.pipeline.processors import Pipeline, Processor, import_processor
from lclog.redact.redactor import Redactor

__all__ = ["LoggingCallbackHandler"]

# Invocation parameters worth logging; the rest (headers, keys, clients) never are.
_PARAMS = ("temperature", "max_tokens", "max_completion_tokens", "top_p", "top_k", "stop", "seed")

F = TypeVar("F", bound=Callable[..., Any])
Build = Callable[..., "dict[str, Any] | None"]
# What a hook hands on: the EventBuilder method, its arguments, and whether it redacts.
Captured = tuple[Build, tuple[Any, ...], bool]
_NO_EVENT: dict[str, Any] = {}  # stands for an event dict no output reads
# Runs reported orphaned that are remembered, so a late end is logged as the run it is.
_MAX_ORPHANS = 1024


def _guard(hook: F) -> F:
    """Runs a hook so that no exception of lclog's reaches LangChain; failures are counted."""

    @functools.wraps(hook)
    def guarded(self: LoggingCallbackHandler, *args: Any, **kwargs: Any) -> None:
        try:
            hook(self, *args, **kwargs)
        except Exception as exc:
            self._failed(hook.__name__, exc)

    return guarded  # type: ignore[return-value]


def _name(serialized: dict[str, Any] | None, kwargs: dict[str, Any], default: str) -> str:
    """The run's name, at most MAX_NAME characters."""
    name: Any = kwargs.get("name")
    if not name and isinstance(serialized, dict):
        ids = serialized.get("id")
        name = serialized.get("name") or (ids[-1] if isinstance(ids, list) and ids else None)
    if not name:
        return default
    if type(name) is str and len(name) <= MAX_NAME:
        return name
    return truncate(name if isinstance(name, str) else to_jsonable(name, NAME_LIMITS), MAX_NAME)


def _model(serialized: dict[str, Any] | None, params: dict[str, Any], metadata: dict[str, Any]) -> str | None:
    for key in ("model", "model_name", "model_id", "deployment_name"):
        if isinstance(params.get(key), str):
            return params[key]
    if isinstance(metadata.get("ls_model_name"), str):
        return metadata["ls_model_name"]
    kwargs = (serialized or {}).get("kwargs") or {}
    for key in ("model", "model_name", "model_id"):
        if isinstance(kwargs.get(key), str):
            return kwargs[key]
    return None


class LoggingCallbackHandler(BaseCallbackHandler):
    """Turns every LangChain callback into a redacted JSON event.

    One instance serves sync and async code and many threads. Hooks never raise: failures are
    counted in `stats` and reported on a rate-limited stderr line.
    """

    run_inline = True  # hooks only build a dict and enqueue it; they never block
    raise_error = False

    def __init__(
        self,
        config: Settings | str | os.PathLike[str] | dict[str, Any] | None = None,
        *,
        outputs: Sequence[Output] | None = None,
        processors: Sequence[Processor] = (),
        **overrides: Any,
    ) -> None:
        """Builds the handler from a config (file path, dict or Settings; defaults if None).

        `outputs` replaces the configured outputs; `processors` run after the configured ones;
        keyword overrides set top-level config keys (`service="api"`). Raises ConfigError.
        """
        super().__init__()
        self.settings = load_config(config, **overrides)
        s = self.settings
        self.stats = Stats()
        self.redactor = Redactor(s.redaction)
        chain = [import_processor(p) for p in s.processors] + list(processors)
        self.pipeline = Pipeline(
            self.redactor,
            chain,
            self.stats,
            redacted_keys=fields.CONTENT,
            schema=schema_processor(s.schema_),
        )
        self._span_ids = span_ids_getter()
        self._source = writer.Source(
            # From the config: shared with other handlers naming the same destinations.
            acquire_outputs(s.outputs) if outputs is None else outputs,
            self.stats,
            capacity=s.queue_size,
            interval=s.flush_interval_s,
            process=self._process,
            housekeeping=self._expire_runs,
        )
        # Your processors run in the calling thread, where its context variables are.
        self._inline = bool(self.pipeline.processors)
        # Counts every run at once; reading it first builds the events still queued.
        self.metrics = Metrics(sync=self._source.build)
        self._runs = RunTable(s.max_open_runs)
        self._orphans: dict[UUID, Run] = {}
        self._notifier = Notifier(s.notify, self.redactor, self.stats) if s.notify.targets else None
        self._alerts = (
            Alerts(s.notify, self._notifier, s.service, s.max_open_runs)
            if self._notifier is not None
            else None
        )
        self._content = s.content != "none"
        self._router = Router(s.verbosity, s.events, s.level)
        self._events = EventBuilder(
            service=s.service,
            limits=Limits(s.max_depth, s.max_items, s.max_field_chars),
            scrub=self.redactor if self.redactor.fuses else None,
            content=self._content,
            include_stacktrace=s.include_stacktrace,
            router=self._router,
            metrics=self.metrics,
            alerts=self._alerts,
        )
        self._content_of = self._events.content_of
        self._redacts = self._events.redacts
        self._sample_rate = s.sample_rate
        self._ttl_ns = int(s.run_ttl_s * 1e9)
        self._token_run: Run | None = None
        self._stream_tokens = s.stream_tokens
        self._skipped: set[UUID] = set()
        # Handlers built from the same settings log each run once between them (installed twice).
        self._twin_key = s.model_dump_json()
        if outputs is not None or processors:  # set in code, not config: never someone's twin
            self._twin_key += f"|{id(self)}"
        _twins[self._twin_key] = _twins.get(self._twin_key, 0) + 1
        if "langgraph.callbacks" in sys.modules:
            self.__class__ = _graph_aware(type(self))
        self._closed = False
        self._close_lock = threading.RLock()  # SIGTERM may close it while the main thread is
        writer.register(self._source)
        _shutdown.track(self, sigterm=s.flush_on_sigterm)
        dispatch_fix.apply()  # running inline must not cost other handlers their on_llm_start

    @classmethod
    def from_config(cls, path: str | os.PathLike[str], **overrides: Any) -> LoggingCallbackHandler:
        """Returns a handler configured from a YAML or TOML file."""
        return cls(path, **overrides)

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def outputs(self) -> list[Output]:
        return self._source.outputs

    def flush(self, timeout: float | None = None) -> bool:
        """Writes every queued event, flushes the outputs and delivers pending notifications,
        waiting at most `timeout` seconds (default `flush_timeout_s`) in all.

        Returns True when everything was delivered in time; what was not is still queued."""
        deadline = time.monotonic() + (self.settings.flush_timeout_s if timeout is None else timeout)
        return self._flush_by(deadline)

    def _flush_by(self, deadline: float) -> bool:
        self._expire_runs()
        # The events are built here, by the thread that asked (CPU work, its data still in this
        # core's cache); only the writing is handed to the writer thread.
        self._source.build()
        done = writer.flush(deadline)
        for output in self._source.outputs:
            done = output.wait(deadline) and done
        if self._notifier is not None:
            done = self._notifier.flush(max(0.0, deadline - time.monotonic())) and done
        return done

    def close(self, timeout: float | None = None) -> None:
        """Flushes (at most `timeout`, default `flush_timeout_s`) and closes the outputs; what
        is not delivered by then is counted as dropped and reported. Later events are dropped.
        Idempotent."""
        deadline = time.monotonic() + (self.settings.flush_timeout_s if timeout is None else timeout)
        self._close_by(deadline)

    def _close_by(self, deadline: float) -> None:
        with self._close_lock:
            if self._closed:
                return
            self._expire_runs()
            self._closed = True
        self._flush_by(deadline)
        writer.unregister(self._source)
        unwritten = self._source.discard()
        if unwritten:
            self.stats.add("dropped", unwritten)
            self.stats.report(
                "close",
                f"{unwritten} queued events not written within "
                f"flush_timeout_s={self.settings.flush_timeout_s:g}",
            )
        for output in self._source.outputs:
            release_output(output, functools.partial(self._close_output, deadline=deadline))
        _twins[self._twin_key] = _twins.get(self._twin_key, 1) - 1
        if self._notifier is not None:
            self._notifier.close(max(0.0, deadline - time.monotonic()))
        _shutdown.untrack(self)

    def _close_output(self, output: Output, *, deadline: float) -> None:
        """Closes an output no other handler uses any more, within the deadline, and counts
        what it lost (while others still use it, the writer counts its losses on each of them)."""
        output.deadline = deadline
        try:
            output.close()
        except Exception as exc:
            self.stats.add("output_errors")
            self.stats.report(f"output {output.name} failed", type(exc).__name__)
        writer.count_losses(output, [self._source])

    def __enter__(self) -> LoggingCallbackHandler:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- event plumbing --------------------------------------------------------------------

    def _failed(self, hook: str, exc: Exception) -> None:
        """Counts a hook's failure and reports its type on the fallback channel (never content)."""
        self.stats.add("internal_errors")
        self.stats.report(f"{hook} failed", type(exc).__name__)

    def _submit(self, build: Build, args: tuple[Any, ...], redacted: bool = False) -> None:
        """Hands what a hook captured to the writer, which builds and processes the event later.

        `redacted`: build returns an event whose values it redacted (see EventBuilder.redacts).
        """
        if self._closed:
            self.stats.add("dropped")
            return
        source = self._source
        if not self._inline:
            source.put((build, args, redacted))
            return
        item = self._process((build, args, redacted))
        if item is not None:
            # Queued lines are compact; the dict is kept only for outputs that read it.
            source.put_built(item if source.needs_events else (_NO_EVENT, item[1]))

    def _process(self, captured: Captured) -> tuple[dict[str, Any], bytes] | None:
        """Builds the captured event and runs it through the pipeline: (event, line), or None."""
        build, args, redacted = captured
        event = build(*args)
        return None if event is None else self.pipeline.process(event, redacted)

    def _start(
        self,
        run_type: str,
        name: str,
        run_id: UUID,
        parent_run_id: UUID | None,
        tags: list[str] | None,
        metadata: dict[str, Any] | None,
        inputs: Any,
        extra: dict[str, Any] | None = None,
    ) -> Run | None:
        if _twins.get(self._twin_key, 0) > 1 and _claim(run_id, self) is not self:
            self._skipped.add(run_id)  # a twin handler logs this run
            return None
        run, evicted = self._runs.open(run_id, parent_run_id, run_type, name)
        if evicted is not None:
            self._orphaned(evicted)
        if self._span_ids is not None:
            run.otel = self._span_ids()  # read at the start, in the caller's context
        parent = run.parent
        run.sampled = parent.sampled if parent is not None else sampled(run.trace_uuid, self._sample_rate)
        if extra and extra.get("model"):
            run.model = extra["model"]
        if metadata and "langgraph_node" in metadata:
            run.node = metadata.get("langgraph_node")
            run.step = metadata.get("langgraph_step")
        level = self._router.level(f"{run_type}.start", "info", run.local_root, run.sampled)
        if level is not None:
            # Taken now, as lclog's own data: LangChain may change its lists and dicts once the
            # hook returns, and nothing of the caller's may stay alive in the queue.
            tags = tags[:] if type(tags) is list else tags
            metadata = self._events.metadata_of(metadata) if metadata else None
            inputs = self._content_of(inputs) if self._content else None
        else:  # not written: only the run is counted
            tags = metadata = inputs = None
        args = (run, level, time.time(), tags, metadata, extra, inputs)
        self._submit(self._events.start, args, self._redacts)
        return run

    def _expire_runs(self) -> None:
        """Reports runs open longer than run_ttl_s as orphaned (on the writer's schedule)."""
        for stale in self._runs.expire(time.monotonic_ns() - self._ttl_ns):
            self._orphaned(stale)

    def _orphaned(self, run: Run) -> None:
        self.stats.add("evicted_runs")
        orphans = self._orphans
        orphans[run.run_id] = run
        if len(orphans) > _MAX_ORPHANS:
            # Changed by another thread: trimmed next time.
            with contextlib.suppress(StopIteration, RuntimeError):
                orphans.pop(next(iter(orphans)), None)
        age_ms = (time.monotonic_ns() - run.start_ns) / 1e6
        level = self._router.level(f"{run.run_type}.orphaned", "warning", run.local_root)
        if level is None:
            return
        fields = {"age_ms": round(age_ms, 3)}
        self._submit(self._events.point, (run, level, f"{run.run_type}.orphaned", time.time(), fields))

    def _run_or_stub(self, run_type: str, run_id: UUID, parent_run_id: UUID | None) -> Run:
        run = self._runs.close(run_id)
        if run is None:
            run = self._orphans.pop(run_id, None) if self._orphans else None
            if run is not None:  # reported orphaned, ending after all: the run as it was, late
                run.late = True
                return run
            # Started before this handler was attached, or forgotten long ago: ids only.
            run = _stub(run_id, parent_run_id, run_type)
            run.start_ns = 0
        elif _twins.get(self._twin_key, 0) > 1:
            _claims.pop(run_id, None)
        return run

    def _end(
        self,
        run_type: str,
        run_id: UUID,
        parent_run_id: UUID | None,
        outputs: Any,
        extra: dict[str, Any] | None = None,
        response: Any = None,
    ) -> None:
        """A run's end; `response` (an LLMResult) gives a model run's usage and finish reason."""
        end_ns = time.monotonic_ns()
        if self._skipped and run_id in self._skipped:
            self._skipped.discard(run_id)
            return
        run = self._run_or_stub(run_type, run_id, parent_run_id)
        level = self._router.level(f"{run.run_type}.end", "info", run.local_root, run.sampled)
        outputs = self._content_of(outputs) if level is not None and self._content else None
        if response is not None:
            args = (run, level, time.time(), end_ns, outputs, reported_by(response))
            self._submit(self._events.model_end, args, self._redacts)
        else:
            self._submit(self._events.end, (run, level, time.time(), end_ns, outputs, extra), self._redacts)

    def _error(
        self,
        run_type: str,
        error: BaseException,
        run_id: UUID,
        parent_run_id: UUID | None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        end_ns = time.monotonic_ns()
        if self._skipped and run_id in self._skipped:
            self._skipped.discard(run_id)
            return
        run = self._run_or_stub(run_type, run_id, parent_run_id)
        failure = self._events.failure_of(error)  # the exception itself is not kept
        self._submit(self._events.error, (run, time.time(), end_ns, failure, extra))

    # -- chains ----------------------------------------------------------------------------
    # The hooks of every run's start and end guard themselves inline (a wrapper would cost a call
    # per event) and take run_id with a default, so that even a call without one cannot raise.

    def on_chain_start(
        self,
        serialized: dict[str, Any] | None,
        inputs: Any,
        *,
        run_id: UUID | None = None,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        try:
            extra = {"run_type": kwargs["run_type"]} if kwargs.get("run_type") else None
            self._start(
                "chain",
                _name(serialized, kwargs, "chain"),
                run_id,
                parent_run_id,
                tags,
                metadata,
                inputs,
                extra,
            )
        except Exception as exc:
            self._failed("on_chain_start", exc)

    def on_chain_end(
        self, outputs: Any, *, run_id: UUID | None = None, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        try:
            # Streamed runs start before their input is known; LangChain passes it at the end.
            inputs = kwargs.get("inputs")
            extra = {"inputs": self._content_of(inputs)} if inputs is not None and self._content else None
            self._end("chain", run_id, parent_run_id, outputs, extra)
        except Exception as exc:
            self._failed("on_chain_end", exc)

    @_guard
    def on_chain_error(
        self, error: BaseException, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        self._error("chain", error, run_id, parent_run_id)

    # -- LLMs and chat models --------------------------------------------------------------

    def _model_start(
        self,
        run_type: str,
        serialized: dict[str, Any] | None,
        inputs: Any,
        run_id: UUID,
        parent_run_id: UUID | None,
        tags: list[str] | None,
        metadata: dict[str, Any] | None,
        kwargs: dict[str, Any],
    ) -> None:
        params = kwargs.get("invocation_params") or {}
        meta = metadata or {}
        extra: dict[str, Any] = {"model": _model(serialized, params, meta)}
        if meta.get("ls_provider"):
            extra["provider"] = meta["ls_provider"]
        chosen = {k: params[k] for k in _PARAMS if params.get(k) is not None}
        tools = params.get("tools")
        if isinstance(tools, list):
            chosen["tools"] = [_tool_name(t) for t in tools[:64]]
        if chosen:
            extra["params"] = self._content_of(chosen)
        default = params.get("_type") or run_type
        run = self._start(
            run_type,
            _name(serialized, kwargs, str(default)),
            run_id,
            parent_run_id,
            tags,
            metadata,
            inputs,
            extra,
        )
        if run is not None:  # None: a twin handler logs this run
            run.provider = extra.get("provider")

    def on_llm_start(
        self,
        serialized: dict[str, Any] | None,
        prompts: list[str],
        *,
        run_id: UUID | None = None,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        try:
            inputs = prompts[0] if len(prompts) == 1 else prompts
            self._model_start("llm", serialized, inputs, run_id, parent_run_id, tags, metadata, kwargs)
        except Exception as exc:
            self._failed("on_llm_start", exc)

    def on_chat_model_start(
        self,
        serialized: dict[str, Any] | None,
        messages: list[list[Any]],
        *,
        run_id: UUID | None = None,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        try:
            inputs = messages[0] if len(messages) == 1 else messages
            self._model_start("chat_model", serialized, inputs, run_id, parent_run_id, tags, metadata, kwargs)
        except Exception as exc:
            self._failed("on_chat_model_start", exc)

    def on_llm_new_token(
        self,
        token: Any,
        *,
        chunk: Any = None,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        # The hottest hook (once per token): guarded inline, and the run found by identity first,
        # since LangChain passes the same run id object for every token of a run.
        try:
            run = self._token_run
            if run is None or run.run_id is not run_id:
                run = self._runs.get(run_id)
                if run is None:
                    return
                self._token_run = run
            if not run.first_token_ns:
                run.first_token_ns = time.monotonic_ns()
            run.chunks += 1
            if self._stream_tokens:
                self._token_event(run, token)
        except Exception as exc:
            self._failed("on_llm_new_token", exc)

    def _token_event(self, run: Run, token: Any) -> None:
        level = self._router.level(f"{run.run_type}.token", "info", False, run.sampled)
        if level is None:
            return
        fields: dict[str, Any] = {"index": run.chunks - 1}
        if self._content:
            fields["token"] = self._content_of(token)
        self._submit(self._events.point, (run, level, f"{run.run_type}.token", time.time(), fields))

    @_guard
    def on_stream_event(self, event: Any, *, run_id: UUID, **kwargs: Any) -> None:
        run = self._runs.get(run_id)
        if run is not None and not run.first_token_ns:
            run.first_token_ns = time.monotonic_ns()

    def on_llm_end(
        self, response: Any, *, run_id: UUID | None = None, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        try:
            run = self._runs.get(run_id)
            outputs = None
            if self._content:
                generations = getattr(response, "generations", None) or []
                first = generations[0] if generations else []
                outputs = [getattr(g, "message", None) or getattr(g, "text", None) for g in first]
                outputs = outputs[0] if len(outputs) == 1 else outputs
            self._end(run.run_type if run else "llm", run_id, parent_run_id, outputs, response=response)
        except Exception as exc:
            self._failed("on_llm_end", exc)

    @_guard
    def on_llm_error(
        self, error: BaseException, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        run = self._runs.get(run_id)
        extra: dict[str, Any] = {"model": run.model} if run is not None and run.model else {}
        usage, source = usage_of(kwargs.get("response"))  # a partial response may report usage
        if usage is not None:
            extra.update(usage=usage, usage_source=source)
        self._error(run.run_type if run else "llm", error, run_id, parent_run_id, extra or None)

    # -- tools and retrievers --------------------------------------------------------------

    def on_tool_start(
        self,
        serialized: dict[str, Any] | None,
        input_str: str,
        *,
        run_id: UUID | None = None,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        inputs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        try:
            self._start(
                "tool",
                _name(serialized, kwargs, "tool"),
                run_id,
                parent_run_id,
                tags,
                metadata,
                inputs if inputs is not None else input_str,
            )
        except Exception as exc:
            self._failed("on_tool_start", exc)

    def on_tool_end(
        self, output: Any, *, run_id: UUID | None = None, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        try:
            self._end("tool", run_id, parent_run_id, output)
        except Exception as exc:
            self._failed("on_tool_end", exc)

    @_guard
    def on_tool_error(
        self, error: BaseException, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        self._error("tool", error, run_id, parent_run_id)

    def on_retriever_start(
        self,
        serialized: dict[str, Any] | None,
        query: str,
        *,
        run_id: UUID | None = None,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        try:
            self._start(
                "retriever",
                _name(serialized, kwargs, "retriever"),
                run_id,
                parent_run_id,
                tags,
                metadata,
                query,
            )
        except Exception as exc:
            self._failed("on_retriever_start", exc)

    def on_retriever_end(
        self,
        documents: Sequence[Any],
        *,
        run_id: UUID | None = None,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        try:
            extra = {"documents": len(documents)}
            self._end("retriever", run_id, parent_run_id, documents, extra)
        except Exception as exc:
            self._failed("on_retriever_end", exc)

    @_guard
    def on_retriever_error(
        self, error: BaseException, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        self._error("retriever", error, run_id, parent_run_id)

    # -- agents, retries, custom events, text ----------------------------------------------

    def _point_event(
        self, level: str, name: str, run_id: UUID, parent_run_id: UUID | None, fields: dict[str, Any]
    ) -> None:
        run = self._runs.get(run_id) or _stub(run_id, parent_run_id, name)
        routed = self._router.level(name, level, False, run.sampled)
        if routed is not None:
            self._submit(self._events.point, (run, routed, name, time.time(), fields))

    @_guard
    def on_agent_action(
        self, action: Any, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        fields: dict[str, Any] = {"tool": getattr(action, "tool", None)}
        if self._content:
            fields["tool_input"] = self._content_of(getattr(action, "tool_input", None))
            fields["log"] = self._content_of(getattr(action, "log", None))
        self._point_event("info", "agent.action", run_id, parent_run_id, fields)

    @_guard
    def on_agent_finish(
        self, finish: Any, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        fields: dict[str, Any] = {}
        if self._content:
            fields["outputs"] = self._content_of(getattr(finish, "return_values", None))
            fields["log"] = self._content_of(getattr(finish, "log", None))
        self._point_event("info", "agent.finish", run_id, parent_run_id, fields)

    @_guard
    def on_retry(
        self, retry_state: Any, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        fields: dict[str, Any] = {"attempt": getattr(retry_state, "attempt_number", None)}
        outcome = getattr(retry_state, "outcome", None)
        if outcome is not None and outcome.failed:
            fields["error"] = self._events.error_fields(outcome.exception())
        sleep = getattr(getattr(retry_state, "next_action", None), "sleep", None)
        if isinstance(sleep, (int, float)):
            fields["wait_s"] = sleep
        self._point_event("warning", "retry", run_id, parent_run_id, fields)

    @_guard
    def on_custom_event(
        self,
        name: str,
        data: Any,
        *,
        run_id: UUID,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        fields: dict[str, Any] = {
            "custom_event": truncate(str(name), MAX_NAME),
            "tags": self._events.tags(tags or []),
        }
        if self._content:
            fields["data"] = self._content_of(data)
        self._point_event("info", "custom", run_id, kwargs.get("parent_run_id"), fields)

    @_guard
    def on_interrupt(self, event: Any) -> None:
        """LangGraph paused the graph for human input (or another interrupt)."""
        self._graph_event("interrupt", event)

    @_guard
    def on_resume(self, event: Any) -> None:
        """LangGraph resumed the graph from a checkpoint."""
        self._graph_event("resume", event)

    def _graph_event(self, phase: str, payload: Any) -> None:
        run_id = getattr(payload, "run_id", None)
        run = self._runs.get(run_id) if run_id is not None else None
        if run is not None:
            run.interrupted = phase == "interrupt"  # its end says so, though LangGraph returns normally
        run_type = run.run_type if run is not None else "chain"
        fields: dict[str, Any] = {
            "status": getattr(payload, "status", None),
            "checkpoint_id": getattr(payload, "checkpoint_id", None),
            "checkpoint_ns": list(getattr(payload, "checkpoint_ns", ()) or ()),
        }
        interrupts = getattr(payload, "interrupts", None)
        if interrupts is not None and self._content:
            fields["interrupts"] = self._content_of([getattr(i, "value", i) for i in interrupts])
        if run_id is not None:
            self._point_event("info", f"{run_type}.{phase}", run_id, None, fields)

    @_guard
    def on_text(self, text: str, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any) -> None:
        fields = {"text": self._content_of(text)} if self._content else {}
        self._point_event("debug", "text", run_id, parent_run_id, fields)


# Twin handlers (same settings) and which of them logs each run.
_twins: dict[str, int] = {}
_claims: dict[UUID, LoggingCallbackHandler] = {}


def _claim(run_id: UUID, handler: LoggingCallbackHandler) -> LoggingCallbackHandler:
    if len(_claims) > 100_000:  # runs that never ended: forget the oldest claims
        for key in list(_claims)[:10_000]:
            _claims.pop(key, None)
    return _claims.setdefault(run_id, handler)


@functools.cache
def _graph_aware(cls: type) -> type:
    """cls as a LangGraph GraphCallbackHandler too, so LangGraph sends it on_interrupt/on_resume."""
    from langgraph.callbacks import GraphCallbackHandler

    return type(cls.__name__, (cls, GraphCallbackHandler), {"__module__": cls.__module__})


def _stub(run_id: UUID, parent_run_id: UUID | None, name: str) -> Run:
    """A run lclog never saw start: ids only."""
    run = Run(run_id, name, name, 0, None, parent_run_id)
    run.local_root = False
    return run


def _tool_name(tool: Any) -> str:
    if isinstance(tool, dict):
        fn = tool.get("function")
        if isinstance(fn, dict) and fn.get("name"):
            return str(fn["name"])
        return str(tool.get("name") or tool.get("title") or "tool")
    return str(getattr(tool, "name", type(tool).__name__))
