"""Where rendered events go: stdout, stderr, files, memory; written by one background writer."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

from lclog.config import OutputSettings
from lclog.pretty import render_pretty
from lclog.stats import Stats

__all__ = ["FileOutput", "MemoryOutput", "Output", "StreamOutput", "Writer", "build_outputs"]

# An item is the processed event dict and its JSON line (bytes, newline included).
Item = tuple[dict[str, Any], bytes]
# Queued: a processed item, or what a hook captured (line None), which `process` turns into
# zero or more items.
Queued = tuple[Any, bytes | None]
Process = Callable[[Any], "Item | None"]


class Output:
    """A destination. `write` gets batches in order from a single thread."""

    name = "output"
    needs_events = False  # True: `write` reads the event dicts, not only the JSON lines

    def write(self, items: Sequence[Item]) -> None:
        raise NotImplementedError

    def flush(self) -> None:
        """Pushes buffered bytes to the OS."""

    def tick(self) -> None:
        """Called by the writer every flush interval; outputs that batch decide if it is time."""
        self.flush()

    def take_lost(self) -> int:
        """Events accepted earlier but lost in the failure just raised (buffered, then not written)."""
        return 0

    def close(self) -> None:
        self.flush()


class StreamOutput(Output):
    """stdout or stderr, looked up at write time so redirection and capture work."""

    def __init__(self, stream: str = "stdout", fmt: str = "json", color: bool | None = None) -> None:
        self.name = stream
        self._stream = stream
        self._format = fmt
        self.needs_events = fmt == "pretty"
        self._color = color
        self.broken = False

    def _target(self) -> IO[Any] | None:
        return getattr(sys, self._stream, None)

    def write(self, items: Sequence[Item]) -> None:
        stream = self._target()
        if stream is None or self.broken:
            raise OSError(f"{self._stream} is not available")
        if self._format == "pretty":
            color = self._color if self._color is not None else _isatty(stream)
            stream.write("".join([render_pretty(ev, color=color) + "\n" for ev, _ in items]))
            return
        data = b"".join([line for _, line in items])
        buffer = getattr(stream, "buffer", None)
        if buffer is not None:
            buffer.write(data)
        else:
            stream.write(data.decode())

    def flush(self) -> None:
        stream = self._target()
        if stream is not None and not self.broken:
            try:
                stream.flush()
            except BrokenPipeError:
                self.broken = True
                raise


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except Exception:
        return False


class FileOutput(Output):
    """Appends JSON lines to a file, opened once; parent directories are created."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.name = f"file:{self.path}"
        self._file: IO[bytes] | None = None
        self._buffered = 0  # lines written to the buffer since the last flush
        self._lost = 0

    def _open(self) -> IO[bytes]:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "ab", buffering=1 << 16)  # noqa: SIM115
        return self._file

    def write(self, items: Sequence[Item]) -> None:
        file = self._open()
        try:
            file.write(b"".join([line for _, line in items]))
        except OSError:
            self._lose()  # this batch is counted by the writer; earlier buffered lines here
            raise
        self._buffered += len(items)

    def flush(self) -> None:
        if self._file is not None:
            try:
                self._file.flush()
            except OSError:
                self._lost += self._buffered
                self._lose()
                raise
            self._buffered = 0

    def _lose(self) -> None:
        self._buffered = 0
        self._reset()

    def take_lost(self) -> int:
        lost, self._lost = self._lost, 0
        return lost

    def tick(self) -> None:
        self.flush()
        if self._file is not None and self._rotated():
            self._reset()  # the next write opens the file now at the path

    def _rotated(self) -> bool:
        """True when the path no longer names the open file (logrotate's move + create, deletion)."""
        try:
            return os.stat(self.path).st_ino != os.fstat(self._file.fileno()).st_ino  # type: ignore[union-attr]
        except (OSError, ValueError):
            return True

    def _reset(self) -> None:
        """Drops the handle after a failure so the next write reopens the file."""
        file, self._file = self._file, None
        if file is not None:
            with contextlib.suppress(OSError):
                file.close()

    def close(self) -> None:
        self.flush()
        self._reset()


class MemoryOutput(Output):
    """Keeps processed events in a list (see `lclog.testing`)."""

    name = "memory"
    needs_events = True

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.lines: list[bytes] = []

    def write(self, items: Sequence[Item]) -> None:
        for event, line in items:
            self.events.append(event)
            self.lines.append(line)


def build_outputs(settings: Sequence[OutputSettings], stats: Stats) -> list[Output]:
    """Returns the outputs a config names."""
    outputs: list[Output] = []
    for spec in settings:
        if spec.type == "file":
            outputs.append(FileOutput(spec.path or ""))
        elif spec.type == "stdlib":
            from lclog.stdlib import StdlibOutput

            outputs.append(StdlibOutput(spec.logger, spec.formatter, spec.stream))
        elif spec.type == "loki":
            from lclog.loki import LokiOutput

            outputs.append(
                LokiOutput(
                    spec.url or "",
                    spec.labels,
                    stats,
                    tenant=spec.tenant,
                    headers=spec.headers,
                    batch_bytes=spec.batch_bytes,
                    flush_interval_s=spec.flush_interval_s,
                    timeout_s=spec.timeout_s,
                    retries=spec.retries,
                    max_buffer_bytes=spec.max_buffer_bytes,
                )
            )
        else:
            outputs.append(StreamOutput(spec.type, spec.format))
    return outputs


# Events written per batch at most; a longer queue is written in several batches.
_CHUNK = 1024


class Writer:
    """A bounded queue of rendered events and the background thread that writes them.

    `put` never blocks: a full queue drops the event and counts it. Batches are written
    every `interval` seconds, and on `flush()`/`close()` in the calling thread.
    """

    def __init__(
        self,
        outputs: Sequence[Output],
        stats: Stats,
        *,
        capacity: int,
        interval: float,
        process: Process | None = None,
    ) -> None:
        self.outputs = list(outputs)
        self.needs_events = any(o.needs_events for o in self.outputs)
        # Captured events (built and processed here, off the request path) waiting at most. Past
        # this the producer helps drain: a producer faster than this thread (which also yields
        # the GIL at every RE2 call) slows down instead of dropping events.
        self.defer_limit = min(256, capacity)
        self._stats = stats
        self._process = process or _nothing
        self._queue: deque[Queued] = deque()
        self._capacity = capacity
        self._interval = interval
        self._closed = False
        self._start()
        _writers.add(self)

    def _start(self) -> None:
        """(Re)creates the thread and its locks: at construction, and in a forked child, where
        the parent's writer thread does not exist and its locks may be held forever."""
        self._drain_lock = threading.RLock()  # a metrics read inside a processor drains again
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lclog-writer", daemon=True)
        self._thread.start()

    def backlog(self) -> int:
        return len(self._queue)

    def put(self, item: Queued) -> bool:
        """Queues item; True when the queue is long enough that the producer should help drain."""
        queue = self._queue
        if len(queue) >= self._capacity:
            self._stats.add("dropped")
            self._stats.report("queue full", f"event dropped (queue_size={self._capacity})")
            return True
        queue.append(item)
        return len(queue) >= self.defer_limit

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self._interval)
            self._wake.clear()
            self.drain(tick=True)

    def drain(self, *, flush: bool = False, tick: bool = False) -> None:
        """Writes everything queued so far to every output; never raises."""
        with self._drain_lock:
            self._drain_locked(flush=flush, tick=tick)

    def help_drain(self) -> None:
        """Called by a producer that is ahead: drains here unless the writer thread is at it.

        Past half the capacity the producer waits for the writer's current chunk (at most 0.1 s)
        rather than let the queue fill and drop events.
        """
        if len(self._queue) >= self._capacity // 2:
            acquired = self._drain_lock.acquire(timeout=0.1)
        else:
            acquired = self._drain_lock.acquire(blocking=False)
        if acquired:
            try:
                self._drain_locked()
            finally:
                self._drain_lock.release()

    def _drain_locked(self, *, flush: bool = False, tick: bool = False) -> None:
        queue, process = self._queue, self._process
        # What is queued now, not what arrives meanwhile (a drain chasing the producer would
        # never write), in chunks, so that every chunk is written as soon as it is ready.
        pending = len(queue)
        while pending > 0:
            batch: list[Item] = []
            for _ in range(min(pending, _CHUNK)):
                event, line = queue.popleft()
                if line is not None:
                    batch.append((event, line))
                    continue
                try:
                    item = process(event)
                    if item is not None:
                        batch.append(item)
                except Exception as exc:
                    self._stats.add("internal_errors")
                    self._stats.report("processing failed", type(exc).__name__)
            pending -= _CHUNK
            if batch:
                for output in self.outputs:
                    if not self._call(output, output.write, batch):
                        self._stats.add("dropped", len(batch))
                self._stats.add("emitted", len(batch))
        if flush or tick:
            for output in self.outputs:
                self._call(output, output.flush if flush else output.tick)

    def _call(self, output: Output, method: Any, *args: Any) -> bool:
        try:
            method(*args)
            return True
        except Exception as exc:  # one failing output never stops the others
            self._stats.add("output_errors")
            lost = output.take_lost()
            if lost:
                self._stats.add("dropped", lost)
            self._stats.report(f"output {output.name} failed", type(exc).__name__ + _errno(exc))
            return False

    def flush(self) -> None:
        self.drain(flush=True)

    def close(self) -> None:
        self._closed = True
        self._wake.set()
        self.flush()
        for output in self.outputs:
            self._call(output, output.close)
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=1.0)


def _nothing(captured: Any) -> Item | None:
    return None


_writers: weakref.WeakSet[Writer] = weakref.WeakSet()


def _restart_after_fork() -> None:
    for writer in list(_writers):
        if not writer._closed:
            writer._start()


if hasattr(os, "register_at_fork"):  # gunicorn --preload and other pre-fork servers
    os.register_at_fork(after_in_child=_restart_after_fork)


def _errno(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f" ({exc.strerror})"
    return ""
