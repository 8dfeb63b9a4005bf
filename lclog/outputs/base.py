"""Where rendered events go: the Output interface, and stdout, stderr, files and memory.

Outputs are written by the writer thread (`writer.py`) and shared by destination (`registry.py`)."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from lclog.outputs.pretty import render_pretty, terminal_width

__all__ = ["FileOutput", "Item", "MemoryOutput", "Output", "ReaderGone", "StreamOutput"]

# An item is the processed event dict and its JSON line (bytes, newline included).
Item = tuple[dict[str, Any], bytes]


class Output:
    """A destination. `write` gets batches in order from the writer thread only."""

    name = "output"
    needs_events = False  # True: `write` reads the event dicts, not only the JSON lines
    # True: the dicts `write` gets are lclog's fields before the `schema` layout (the lines are
    # laid out all the same), for outputs that render or lay out events themselves.
    needs_fields = False
    # True: events should carry the app's structlog context at their request's start (`context`).
    needs_context = False
    # Set before close(): the monotonic time by which close() must return (None: no limit).
    deadline: float | None = None

    def write(self, items: Sequence[Item]) -> None:
        raise NotImplementedError

    def flush(self) -> None:
        """Pushes buffered bytes to the OS, or hands them to the output's own sender."""

    def tick(self) -> None:
        """Called by the writer every flush interval; outputs that batch decide if it is time."""
        self.flush()

    def wait(self, deadline: float) -> bool:
        """Waits (until `deadline` at most) for what was flushed to reach its destination, for
        outputs that send from a thread of their own; True when nothing is left in flight."""
        return True

    def take_losses(self) -> tuple[int, int]:
        """(failures, events) since the last call: sends that failed in a thread of the output's
        own, and events accepted earlier but then lost (buffered, not delivered)."""
        return 0, 0

    def close(self) -> None:
        self.flush()


class ReaderGone(OSError):
    """The reader of a pipe left (`lclog demo | head`): not a failure, though what was not
    written is counted as dropped."""


class StreamOutput(Output):
    """stdout or stderr, looked up at write time so redirection and capture work."""

    def __init__(self, stream: str = "stdout", fmt: str = "json", color: bool | None = None) -> None:
        self.name = stream
        self._stream = stream
        self._format = fmt
        self.needs_events = self.needs_fields = fmt == "pretty"  # pretty reads lclog's fields
        self._color = color
        self.broken = False

    def _target(self) -> IO[Any] | None:
        return getattr(sys, self._stream, None)

    def write(self, items: Sequence[Item]) -> None:
        stream = self._target()
        if self.broken:
            raise ReaderGone(f"{self._stream} was closed by its reader")
        if stream is None:
            raise OSError(f"{self._stream} is not available")
        try:
            if self._format == "pretty":
                color = self._color if self._color is not None else _isatty(stream)
                width = terminal_width(stream)
                stream.write("".join([render_pretty(ev, color=color, width=width) + "\n" for ev, _ in items]))
                return
            data = b"".join([line for _, line in items])
            buffer = getattr(stream, "buffer", None)
            if buffer is not None:
                buffer.write(data)
            else:
                stream.write(data.decode())
        except BrokenPipeError:
            self.broken = True
            raise ReaderGone(f"{self._stream} was closed by its reader") from None

    def flush(self) -> None:
        stream = self._target()
        if stream is not None and not self.broken:
            try:
                stream.flush()
            except BrokenPipeError:
                self.broken = True
                raise ReaderGone(f"{self._stream} was closed by its reader") from None


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except Exception:
        return False


class FileOutput(Output):
    """Appends JSON lines to a file; parent directories are created.

    Lines wait in memory until the next flush (every flush interval or 64 KB); before each write
    the path is checked, so a file deleted or moved away (logrotate, an operator) is reopened at
    the path first and no line goes into a file nobody can read. Lines that cannot be written
    are counted as lost, each once. A write cut short (a full disk) leaves no half line for the
    next one to be glued to: the rest of the line it cut is written first once there is room.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.name = f"file:{self.path}"
        self._fd: int | None = None
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._lost = 0
        # The rest of a line a failed write cut, and the file (inode) it belongs to.
        self._carry = b""
        self._carry_ino = 0

    def write(self, items: Sequence[Item]) -> None:
        lines = [line for _, line in items]
        self._pending += lines
        self._pending_bytes += sum(map(len, lines))
        if self._pending_bytes >= 1 << 16:
            try:
                self.flush()
            except OSError:
                # The writer counts this call's lines as dropped when write raises: the flush
                # counted them among its own.
                self._lost -= min(self._lost, len(lines))
                raise

    def flush(self) -> None:
        if not self._pending and not self._carry:
            return
        lines, self._pending, self._pending_bytes = self._pending, [], 0
        carry = self._carry
        data = carry + b"".join(lines)
        written = 0
        try:
            fd = self._current()
            if carry and os.fstat(fd).st_ino != self._carry_ino:  # rotated: its line is lost
                self._lost += 1
                data, carry = data[len(carry) :], b""
            self._carry = b""
            view = memoryview(data)
            while written < len(data):
                written += os.write(fd, view[written:])
        except OSError:
            self._cut_short(data, written, len(carry), lines)
            self._reset()
            raise

    def _cut_short(self, data: bytes, written: int, carried: int, lines: list[bytes]) -> None:
        """Counts the lines a failed write lost, each once, and keeps the rest of the line it cut
        (written first once there is room, so the next line is not glued to half of it)."""
        if written < carried:  # the line carried over is still not whole: keep its rest
            self._carry = data[written:carried]
            self._lost += len(lines)
            return
        lost, done = 0, carried
        for line in lines:
            start, done = done, done + len(line)
            if done <= written:
                continue  # written whole
            if start < written:  # cut in two
                self._carry, fd = data[written:done], self._fd
                if fd is not None:
                    with contextlib.suppress(OSError):
                        self._carry_ino = os.fstat(fd).st_ino
            else:
                lost += 1
        self._lost += lost

    def _current(self) -> int:
        """The descriptor of the file now at the path, reopened if it was deleted or replaced."""
        fd = self._fd
        if fd is not None:
            try:
                if os.stat(self.path).st_ino == os.fstat(fd).st_ino:
                    return fd
            except OSError:
                pass
            self._reset()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        return self._fd

    def _reset(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)

    def take_losses(self) -> tuple[int, int]:
        lost, self._lost = self._lost, 0
        return 0, lost  # the failure itself was raised to the writer, which counted it

    def close(self) -> None:
        try:
            self.flush()
        finally:
            if self._carry:  # no room came back: the line it cut is lost
                self._carry = b""
                self._lost += 1
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
