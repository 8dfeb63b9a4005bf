"""lclog's background threads: daemons, started so that interpreter shutdown cannot break a
caller, and the one kind of worker they run (Worker)."""

from __future__ import annotations

import os
import signal
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["Worker", "fork_safe", "restarted_after_fork", "start_daemon"]

_T = TypeVar("_T")
# Every lock lclog made, re-initialized in a forked child (see fork_safe).
_LOCKS: weakref.WeakSet[Any] = weakref.WeakSet()


def fork_safe(lock: _T) -> _T:
    """lock (a Lock, RLock, Condition or Event), re-initialized, unlocked, in a forked child: a
    thread of the parent may hold it at the fork, and no thread of the parent runs in the child
    to release it (a preforking server forks while its threads log)."""
    _LOCKS.add(lock)
    return lock


def _reinit_locks() -> None:
    for lock in list(_LOCKS):
        lock._at_fork_reinit()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reinit_locks)


# The signals an application handles, which lclog's threads never take. The kernel gives a
# process's signal to any thread not blocking it, but Python runs its handler in the main thread
# only: one landing on lclog's thread while the main thread waits in C (a pool's worker waiting
# for a task, terminated with SIGTERM) would be handled by nobody, and the process would not end.
_APP_SIGNALS = frozenset(
    getattr(signal, name)
    for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGCHLD")
    if hasattr(signal, name)
)


def start_daemon(target: Callable[[], object], name: str) -> threading.Thread | None:
    """Starts a daemon thread running target, blocking the application's signals (it inherits
    the mask it starts with); None when no thread can start (Python 3.12 and later refuse new
    threads once the interpreter is shutting down)."""
    thread = threading.Thread(target=target, name=name, daemon=True)
    masked = hasattr(signal, "pthread_sigmask")
    if masked:
        before = signal.pthread_sigmask(signal.SIG_BLOCK, _APP_SIGNALS)
    try:
        thread.start()
    except RuntimeError:
        return None
    finally:
        if masked:
            signal.pthread_sigmask(signal.SIG_SETMASK, before)
    return thread


def restarted_after_fork() -> weakref.WeakSet[Any]:
    """A set whose members get `_after_fork()` called in a forked child (their threads did not
    survive the fork: they start new ones there)."""
    members: weakref.WeakSet[Any] = weakref.WeakSet()
    if hasattr(os, "register_at_fork"):

        def restart() -> None:
            for member in list(members):
                member._after_fork()

        os.register_at_fork(after_in_child=restart)
    return members


class Worker:
    """A daemon thread that runs `step(flush)` in rounds: when woken, every `interval()` seconds
    (None: only when woken), and for each `flush` request — lclog's one background mechanism,
    behind the writer, the network outputs' senders and the notifier.

    Nothing starts until `start()`. `flush(deadline)` returns once a round that began after it was
    asked has ended (False: not by the deadline); where no thread can run (interpreter shutdown),
    it runs that round in the calling thread. `stop(deadline)` ends the thread after its round.
    In a forked child the thread and locks are new, `on_fork` resets the owner's state, and a
    worker that was started in the parent starts again.
    """

    def __init__(
        self,
        name: str,
        step: Callable[[bool], object],
        *,
        interval: Callable[[], float | None] = lambda: None,
        on_error: Callable[[Exception], object] | None = None,
        on_fork: Callable[[], object] | None = None,
    ) -> None:
        self.name = name
        self._step = step
        self._interval = interval
        self._on_error = on_error
        self._on_fork = on_fork
        self._started = False
        self._reset()
        _WORKERS.add(self)

    def _reset(self) -> None:
        # Reentrant, as every lock a flush takes: SIGTERM's handler flushes in the main thread,
        # which may hold one of them when the signal arrives.
        self._lock = threading.RLock()
        self._round_lock = threading.RLock()  # one round at a time, in the thread or a caller
        self._done = threading.Condition(self._lock)
        self._wake = threading.Event()
        self._requested = self._completed = 0
        self._stopping = False
        self.thread: threading.Thread | None = None

    def start(self) -> bool:
        """Starts the thread unless it runs; False when no thread can start."""
        self._started = True
        thread = self.thread
        if thread is None or not thread.is_alive():
            self._stopping = False
            self.thread = thread = start_daemon(self._run, self.name)
        return thread is not None

    def wake(self) -> None:
        """Starts a round now rather than at the next interval."""
        self._wake.set()

    def run_round(self, flush: bool) -> None:
        """One round, in the calling thread; a failure goes to `on_error`, never further."""
        with self._round_lock:
            try:
                self._step(flush)
            except Exception as exc:
                if self._on_error is not None:
                    self._on_error(exc)

    def _run(self) -> None:
        while True:
            self._wake.wait(self._interval())
            self._wake.clear()
            with self._lock:
                target = self._requested
                if self._stopping:
                    self._done.notify_all()
                    return
            self.run_round(flush=target > self._completed)
            with self._done:
                self._completed = max(self._completed, target)
                self._done.notify_all()

    def flush(self, deadline: float) -> bool:
        """Has a whole round run after this call (flushing); waits until `deadline` at most."""
        if threading.current_thread() is self.thread:
            self.run_round(flush=True)
            return True
        if self.start():
            with self._done:
                self._requested += 1
                target = self._requested
                self._wake.set()
                return self._done.wait_for(
                    lambda: self._completed >= target, timeout=max(0.0, deadline - time.monotonic())
                )
        # No thread can start (interpreter shutdown): the round runs here.
        if not self._round_lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            return False
        try:
            self.run_round(flush=True)
        finally:
            self._round_lock.release()
        return True

    def stop(self, deadline: float) -> bool:
        """Ends the thread once its round ends; True if it ended by `deadline`."""
        thread = self.thread
        self._started = False  # nor started again in a forked child
        with self._lock:
            self._stopping = True
        self._wake.set()
        if thread is None or thread is threading.current_thread():
            return True
        thread.join(max(0.0, deadline - time.monotonic()))
        return not thread.is_alive()

    def _after_fork(self) -> None:
        started = self._started
        self._reset()
        if self._on_fork is not None:
            self._on_fork()
        if started:
            self.start()


_WORKERS: weakref.WeakSet[Worker] = restarted_after_fork()
