"""lclog's background threads: daemons, started so that interpreter shutdown cannot break a caller."""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["fork_safe", "restarted_after_fork", "start_daemon"]

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


def start_daemon(target: Callable[[], object], name: str) -> threading.Thread | None:
    """Starts a daemon thread running target; None when no thread can start (Python 3.12 and
    later refuse new threads once the interpreter is shutting down)."""
    thread = threading.Thread(target=target, name=name, daemon=True)
    try:
        thread.start()
    except RuntimeError:
        return None
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
