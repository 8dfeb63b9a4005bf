"""Per-run state kept between a run's start and its end: timing, tree position, stream counts."""

from __future__ import annotations

import itertools
import time
from typing import Any
from uuid import UUID

__all__ = ["NO_RUN_ID", "Run", "RunTable", "path", "stub"]

# What a hook's run_id defaults to when a caller passes none (LangChain always passes one): the
# nil UUID, which LangChain never makes. Such a call is counted as a failure and writes nothing.
NO_RUN_ID = UUID(int=0)


class Run:
    """What lclog remembers about one open run.

    The hook fills what it knows when the run starts; the ids are formatted as text once, when
    the first event of the run is built.
    """

    __slots__ = (
        "_id",
        "_parent_id",
        "_trace_id",
        "app",
        "chunks",
        "context",
        "depth",
        "failed_below",
        "first_token_ns",
        "interrupted",
        "label",
        "late",
        "local_root",
        "model",
        "model_below",
        "model_calls",
        "model_token",
        "name",
        "node",
        "otel",
        "parent",
        "parent_run_id",
        "provider",
        "root",
        "run_id",
        "run_type",
        "runs",
        "sampled",
        "start_ns",
        "step",
        "stream",
        "stream_chars",
        "tenant",
        "thread",
        "totals",
        "user",
        "verdict",
    )

    def __init__(
        self,
        run_id: UUID,
        run_type: str,
        name: str,
        depth: int = 0,
        parent: Run | None = None,
        parent_run_id: UUID | None = None,
    ) -> None:
        self.run_id = run_id
        self.run_type = run_type
        self.name = name
        self.depth = depth
        self.parent = parent
        # A parent lclog never saw (handler attached below the root): its id is the trace id.
        self.parent_run_id = parent_run_id
        self._id: str | None = None
        self._parent_id: str | None = None
        self._trace_id: str | None = None
        self.label: str | None = None  # the name as events write it (redacted), once built
        self.otel: dict[str, str] | None = None  # the OpenTelemetry span active at its start
        self.sampled = True
        self.node: Any = None  # LangGraph node and step, from metadata
        self.step: Any = None
        # The conversation (LangGraph thread, history session) the run belongs to, as a label.
        self.thread: str | None = parent.thread if parent is not None else None
        # Who the run is for (`user_keys`, `tenant_keys` in metadata), as labels; as the thread.
        self.user: str | None = parent.user if parent is not None else None
        self.tenant: str | None = parent.tenant if parent is not None else None
        # The top of the tree this handler saw, and (kept there) how many model runs it started.
        self.root: Run = parent.root if parent is not None else self
        self.model_calls = 0
        self.model_below = False  # another model run ran inside it (a wrapper's provider call)
        self.model_token: Any = None  # while a model run runs: its place in the caller's context
        self.runs = 0  # on a root: the runs of its tree it saw start, itself included
        self.root.runs += 1
        # The top of what this handler saw of the tree: its end closes the trace's failures.
        self.local_root = parent is None
        self.start_ns = time.monotonic_ns()
        self.first_token_ns = 0
        self.chunks = 0
        # With `stream_tokens`, content on: its tokens held until it ends, redacted as one text
        # (level, index, time, text), and their characters (capture/recorder.py).
        self.stream: list[tuple[str, int, float, str]] | None = None
        self.stream_chars = 0
        self.interrupted = False  # LangGraph paused it (on_interrupt): it ends `interrupted`
        self.failed_below = False  # a run below it failed: its end is written as a root's is
        self.late = False  # ends after it was reported orphaned
        self.model: str | None = None
        self.provider: str | None = None
        self.context: Any = None  # its ids in the caller's context, while it runs (capture/context.py)
        self.app: Any = None  # on a local root, with `app_context`: the app's structlog context
        self.totals: Any = None  # on a trace's root, until it ends: its TraceTotals (events/traces.py)
        # On a trace's root, with `sampling`: (kept, why, decided early), once decided (sampling.py).
        self.verdict: tuple[bool, str, bool] | None = None

    def _format(self) -> None:
        self._id = str(self.run_id)
        parent = self.parent
        if parent is not None:
            self._parent_id = parent.id
            self._trace_id = parent.trace_id
        elif self.parent_run_id is not None:
            self._parent_id = self._trace_id = str(self.parent_run_id)
        else:
            self._trace_id = self._id

    @property
    def id(self) -> str:
        """The run id as text."""
        if self._id is None:
            self._format()
        return self._id  # type: ignore[return-value]

    @property
    def parent_id(self) -> str | None:
        """The parent run's id as text; None for a root."""
        if self._id is None:
            self._format()
        return self._parent_id

    @property
    def trace_id(self) -> str:
        """The root run's id as text: shared by every run of the tree."""
        if self._id is None:
            self._format()
        return self._trace_id  # type: ignore[return-value]

    @property
    def trace_uuid(self) -> UUID:
        """The root run's id."""
        if self.parent is not None:
            return self.parent.trace_uuid
        return self.parent_run_id or self.run_id


def path(run: Run) -> list[Run]:
    """The runs from the local root down to run."""
    chain: list[Run] = []
    node: Run | None = run
    while node is not None and len(chain) < 64:
        chain.append(node)
        node = node.parent
    return chain[::-1]


class RunTable:
    """Open runs by run id, bounded: past `max_runs` the oldest open run is evicted."""

    def __init__(self, max_runs: int) -> None:
        self._runs: dict[UUID, Run] = {}
        self._max = max_runs

    def open(
        self, run_id: UUID, parent_run_id: UUID | None, run_type: str, name: str
    ) -> tuple[Run, Run | None]:
        """Records a run start; returns it and the run it evicted to stay bounded, if any."""
        if parent_run_id is None:
            run = Run(run_id, run_type, name)
        else:
            parent = self._runs.get(parent_run_id)
            if parent is not None:
                run = Run(run_id, run_type, name, parent.depth + 1, parent)
            else:
                # A parent lclog never saw still groups its children: they share its id as trace id.
                run = Run(run_id, run_type, name, 1, None, parent_run_id)
        evicted = None
        if len(self._runs) >= self._max:
            try:
                oldest = next(iter(self._runs))
                evicted = self._runs.pop(oldest, None)
            except (StopIteration, RuntimeError):  # emptied or resized by another thread
                evicted = None
        self._runs[run_id] = run
        return run, evicted

    def expire(self, started_before_ns: int) -> list[Run]:
        """Forgets and returns the open runs started before the given monotonic time."""
        ids = []
        try:
            for run_id, run in itertools.islice(self._runs.items(), 1000):  # oldest first
                if run.start_ns >= started_before_ns:
                    break
                ids.append(run_id)
        except RuntimeError:  # resized by another thread; try again later
            pass
        stale = []
        for run_id in ids:
            gone = self._runs.pop(run_id, None)
            if gone is not None:
                stale.append(gone)
        return stale

    def get(self, run_id: UUID) -> Run | None:
        return self._runs.get(run_id)

    def streaming(self) -> list[Run]:
        """The open runs holding streamed tokens."""
        while True:
            try:
                return [run for run in self._runs.values() if run.stream is not None]
            except RuntimeError:  # resized by another thread
                continue

    def close(self, run_id: UUID) -> Run | None:
        """Forgets a run at its end; None when it was never seen or already evicted."""
        return self._runs.pop(run_id, None)

    def __len__(self) -> int:
        return len(self._runs)


def stub(run_id: UUID, parent_run_id: UUID | None, name: str) -> Run:
    """A run lclog never saw start: ids only."""
    run = Run(run_id, name, name, 0, None, parent_run_id)
    run.local_root = False
    return run
