"""LoggingCallbackHandler: LangChain's callbacks, each handed to the recorder as lclog's own data."""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler

from lclog import _shutdown
from lclog._threads import fork_safe
from lclog.capture import dispatch_fix
from lclog.capture.arguments import model_run, name_of
from lclog.capture.recorder import Recorder
from lclog.config import Settings, load_config
from lclog.counters import Counters
from lclog.events.metrics import Metrics
from lclog.events.runs import NO_RUN_ID
from lclog.events.usage import usage_of
from lclog.integrations.langgraph import join_langgraph
from lclog.outputs.base import Output
from lclog.pipeline.processors import Processor
from lclog.redact.redactor import Redactor

__all__ = ["LoggingCallbackHandler"]

F = TypeVar("F", bound=Callable[..., Any])


def _guard(hook: F) -> F:
    """Runs a hook so that no exception of lclog's reaches LangChain; failures are counted."""

    @functools.wraps(hook)
    def guarded(self: LoggingCallbackHandler, *args: Any, **kwargs: Any) -> None:
        try:
            hook(self, *args, **kwargs)
        except Exception as exc:
            self._recorder.failed(hook.__name__, exc)

    return guarded  # type: ignore[return-value]


class LoggingCallbackHandler(BaseCallbackHandler):
    """Turns every LangChain callback into a redacted JSON event.

    One instance serves sync and async code and many threads. Hooks never raise: failures are
    counted in `stats` and reported on a rate-limited stderr line. `metrics` holds run totals
    per model, tool and chain; `stats` lclog's own counters (events emitted, dropped, failures).
    """

    run_inline = True  # hooks only build a dict and enqueue it; they never block
    raise_error = False

    def __init__(
        self,
        config: Settings | str | os.PathLike[str] | dict[str, Any] | None = None,
        *,
        outputs: Sequence[Output | dict[str, Any]] | None = None,
        processors: Sequence[Processor] = (),
        **overrides: Any,
    ) -> None:
        """Builds the handler from a config (file path, dict or Settings; defaults if None).

        `outputs` replaces the configured outputs: Output objects, or entries as a config writes
        them (`{"type": "file", "path": "app.jsonl"}`); `processors` run after the configured
        ones; keyword overrides set top-level config keys (`service="api"`). Raises ConfigError.
        """
        super().__init__()
        given: list[Output] | None = None
        if outputs is not None:
            if all(isinstance(o, Output) for o in outputs):
                given = [o for o in outputs if isinstance(o, Output)]
            else:  # as a config names them ({"type": "file", "path": ...}): validated as config
                overrides["outputs"] = list(outputs)
        self.settings = load_config(config, **overrides)
        self._recorder = rec = Recorder(self.settings, given, processors)
        self._content = rec.content
        self._content_of = rec.content_of
        self._graph_aware = join_langgraph(self)  # again at chain starts until LangGraph is imported
        self._close_lock = fork_safe(threading.RLock())  # SIGTERM may close it while the main thread is
        _shutdown.track(self, sigterm=self.settings.flush_on_sigterm)
        dispatch_fix.apply()  # running inline must not cost other handlers their on_llm_start

    @classmethod
    def from_config(cls, path: str | os.PathLike[str], **overrides: Any) -> LoggingCallbackHandler:
        """Returns a handler configured from a YAML or TOML file."""
        return cls(path, **overrides)

    # -- what the handler offers -------------------------------------------------------------

    @property
    def stats(self) -> Counters:
        """lclog's own counters: events emitted, dropped, failures of its parts."""
        return self._recorder.stats

    @property
    def metrics(self) -> Metrics:
        """Run totals per model, tool and chain: counts, errors, latency, tokens."""
        return self._recorder.metrics

    @property
    def redactor(self) -> Redactor:
        return self._recorder.redactor

    @property
    def outputs(self) -> list[Output]:
        return self._recorder.source.outputs

    def flush(self, timeout: float | None = None) -> bool:
        """Writes every queued event, flushes the outputs and delivers pending notifications,
        waiting at most `timeout` seconds (default `flush_timeout_s`) in all.

        Returns True when everything was delivered in time and nothing was dropped since the
        previous flush (the first: since the handler began); `stats.dropped` says how much was.
        What was not delivered in time is still queued."""
        deadline = time.monotonic() + (self.settings.flush_timeout_s if timeout is None else timeout)
        return self._recorder.flush_by(deadline)

    def close(self, timeout: float | None = None) -> None:
        """Flushes (at most `timeout`, default `flush_timeout_s`) and closes the outputs; what
        is not delivered by then is counted as dropped and reported. Later events are dropped.
        Idempotent."""
        deadline = time.monotonic() + (self.settings.flush_timeout_s if timeout is None else timeout)
        self._close_by(deadline)

    def _close_by(self, deadline: float) -> None:
        with self._close_lock:
            if self._recorder.closed:
                return
            self._recorder.close_by(deadline)
        _shutdown.untrack(self)

    def __enter__(self) -> LoggingCallbackHandler:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- chains ----------------------------------------------------------------------------
    # The hooks of every run's start and end guard themselves inline (a wrapper would cost a call
    # per event) and default run_id to NO_RUN_ID, so that even a call without one cannot raise.

    def on_chain_start(
        self,
        serialized: dict[str, Any] | None,
        inputs: Any,
        *,
        run_id: UUID = NO_RUN_ID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        try:
            if not self._graph_aware:
                self._graph_aware = join_langgraph(self)
            extra = {"run_type": kwargs["run_type"]} if kwargs.get("run_type") else None
            name = name_of(serialized, kwargs, "chain")
            self._recorder.start("chain", name, run_id, parent_run_id, tags, metadata, inputs, extra)
        except Exception as exc:
            self._recorder.failed("on_chain_start", exc)

    def on_chain_end(
        self, outputs: Any, *, run_id: UUID = NO_RUN_ID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        try:
            # Streamed runs start before their input is known; LangChain passes it at the end.
            inputs = kwargs.get("inputs")
            extra = {"inputs": self._content_of(inputs)} if inputs is not None and self._content else None
            self._recorder.end("chain", run_id, parent_run_id, outputs, extra)
        except Exception as exc:
            self._recorder.failed("on_chain_end", exc)

    @_guard
    def on_chain_error(
        self, error: BaseException, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        self._recorder.error("chain", error, run_id, parent_run_id)

    # -- LLMs and chat models --------------------------------------------------------------

    def on_llm_start(
        self,
        serialized: dict[str, Any] | None,
        prompts: list[str],
        *,
        run_id: UUID = NO_RUN_ID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        try:
            inputs = prompts[0] if len(prompts) == 1 else prompts
            name, extra = model_run(serialized, kwargs, metadata, "llm", self._content_of)
            batch = kwargs.get("batch_size", 1)
            self._recorder.start("llm", name, run_id, parent_run_id, tags, metadata, inputs, extra, batch)
        except Exception as exc:
            self._recorder.failed("on_llm_start", exc)

    def on_chat_model_start(
        self,
        serialized: dict[str, Any] | None,
        messages: list[list[Any]],
        *,
        run_id: UUID = NO_RUN_ID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        try:
            inputs = messages[0] if len(messages) == 1 else messages
            name, extra = model_run(serialized, kwargs, metadata, "chat_model", self._content_of)
            batch = kwargs.get("batch_size", 1)
            self._recorder.start(
                "chat_model", name, run_id, parent_run_id, tags, metadata, inputs, extra, batch
            )
        except Exception as exc:
            self._recorder.failed("on_chat_model_start", exc)

    def on_llm_new_token(
        self,
        token: Any,
        *,
        chunk: Any = None,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,  # named, as LangChain passes it: no dict per token
        **kwargs: Any,
    ) -> None:
        # The hottest hook (once per token): guarded inline.
        try:
            self._recorder.token(run_id, token)
        except Exception as exc:
            self._recorder.failed("on_llm_new_token", exc)

    @_guard
    def on_stream_event(self, event: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._recorder.first_output(run_id)

    def on_llm_end(
        self, response: Any, *, run_id: UUID = NO_RUN_ID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        try:
            rec = self._recorder
            run = rec.runs.get(run_id)
            outputs = None
            if self._content:
                generations = getattr(response, "generations", None) or []
                first = generations[0] if generations else []
                outputs = [getattr(g, "message", None) or getattr(g, "text", None) for g in first]
                outputs = outputs[0] if len(outputs) == 1 else outputs
            rec.end(run.run_type if run else "llm", run_id, parent_run_id, outputs, response=response)
        except Exception as exc:
            self._recorder.failed("on_llm_end", exc)

    @_guard
    def on_llm_error(
        self, error: BaseException, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        run = self._recorder.runs.get(run_id)
        extra: dict[str, Any] = {"model": run.model} if run is not None and run.model else {}
        usage, source = usage_of(kwargs.get("response"))  # a partial response may report usage
        if usage is not None:
            extra.update(usage=usage, usage_source=source)
        self._recorder.error(run.run_type if run else "llm", error, run_id, parent_run_id, extra or None)

    # -- tools and retrievers --------------------------------------------------------------

    def on_tool_start(
        self,
        serialized: dict[str, Any] | None,
        input_str: str,
        *,
        run_id: UUID = NO_RUN_ID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        inputs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        try:
            name = name_of(serialized, kwargs, "tool")
            args = inputs if inputs is not None else input_str
            self._recorder.start("tool", name, run_id, parent_run_id, tags, metadata, args)
        except Exception as exc:
            self._recorder.failed("on_tool_start", exc)

    def on_tool_end(
        self, output: Any, *, run_id: UUID = NO_RUN_ID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        try:
            self._recorder.end("tool", run_id, parent_run_id, output)
        except Exception as exc:
            self._recorder.failed("on_tool_end", exc)

    @_guard
    def on_tool_error(
        self, error: BaseException, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        self._recorder.error("tool", error, run_id, parent_run_id)

    def on_retriever_start(
        self,
        serialized: dict[str, Any] | None,
        query: str,
        *,
        run_id: UUID = NO_RUN_ID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        try:
            name = name_of(serialized, kwargs, "retriever")
            self._recorder.start("retriever", name, run_id, parent_run_id, tags, metadata, query)
        except Exception as exc:
            self._recorder.failed("on_retriever_start", exc)

    def on_retriever_end(
        self,
        documents: Sequence[Any],
        *,
        run_id: UUID = NO_RUN_ID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        try:
            extra = {"documents": len(documents)}
            self._recorder.end("retriever", run_id, parent_run_id, documents, extra)
        except Exception as exc:
            self._recorder.failed("on_retriever_end", exc)

    @_guard
    def on_retriever_error(
        self, error: BaseException, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        self._recorder.error("retriever", error, run_id, parent_run_id)

    # -- agents, retries, custom events, graphs, text ---------------------------------------

    @_guard
    def on_agent_action(
        self, action: Any, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        fields: dict[str, Any] = {"tool": getattr(action, "tool", None)}
        if self._content:
            fields["tool_input"] = self._content_of(getattr(action, "tool_input", None))
            fields["log"] = self._content_of(getattr(action, "log", None))
        self._recorder.point("info", "agent.action", run_id, parent_run_id, fields)

    @_guard
    def on_agent_finish(
        self, finish: Any, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        fields: dict[str, Any] = {}
        if self._content:
            fields["outputs"] = self._content_of(getattr(finish, "return_values", None))
            fields["log"] = self._content_of(getattr(finish, "log", None))
        self._recorder.point("info", "agent.finish", run_id, parent_run_id, fields)

    @_guard
    def on_retry(
        self, retry_state: Any, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        fields: dict[str, Any] = {"attempt": getattr(retry_state, "attempt_number", None)}
        outcome = getattr(retry_state, "outcome", None)
        if outcome is not None and outcome.failed:
            fields["error"] = self._recorder.events.error_fields(outcome.exception())
        sleep = getattr(getattr(retry_state, "next_action", None), "sleep", None)
        if isinstance(sleep, (int, float)):
            fields["wait_s"] = sleep
        self._recorder.point("warning", "retry", run_id, parent_run_id, fields)

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
            "custom_event": self._recorder.events.label_of(str(name)),
            "tags": self._recorder.events.tags(tags or []),
        }
        if self._content:
            fields["data"] = self._content_of(data)
        self._recorder.point("info", "custom", run_id, kwargs.get("parent_run_id"), fields)

    @_guard
    def on_interrupt(self, event: Any) -> None:
        """LangGraph paused the graph for human input (or another interrupt)."""
        self._recorder.graph_event("interrupt", event)

    @_guard
    def on_resume(self, event: Any) -> None:
        """LangGraph resumed the graph from a checkpoint."""
        self._recorder.graph_event("resume", event)

    @_guard
    def on_text(self, text: str, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any) -> None:
        fields = {"text": self._content_of(text)} if self._content else {}
        self._recorder.point("debug", "text", run_id, parent_run_id, fields)
