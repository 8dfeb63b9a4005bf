"""Process exit: live handlers deliver what they hold, within their flush_timeout_s, at
interpreter exit and on SIGTERM (whose default action would skip `atexit`)."""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import sys
import threading
import time
import weakref
from typing import Any

from lclog._threads import start_daemon

__all__ = ["close_all", "track", "untrack"]

_live: weakref.WeakSet[Any] = weakref.WeakSet()
_sigterm_installed = False
_atexit_registered = False


def track(handler: Any, *, sigterm: bool) -> None:
    """Closes `handler` at exit; with `sigterm`, on SIGTERM too (see _install_sigterm). The exit
    hook is registered with the first handler, not when lclog is imported."""
    global _atexit_registered
    _live.add(handler)
    if not _atexit_registered:
        atexit.register(close_all)
        _atexit_registered = True
    if sigterm:
        _install_sigterm()


def untrack(handler: Any) -> None:
    _live.discard(handler)


# A close_all under way, and a SIGTERM that came during it (see _on_sigterm).
_closing = False
_sigterm_pending = False
# Whether _on_sigterm has run in this process (see _watch_sigterm).
_sigterm_seen = False
# How long a SIGTERM may wait for its handler before the main thread is woken for it.
_UNHANDLED_S = 0.1


def close_all() -> None:
    """Closes every live handler, all within the longest flush_timeout_s among them."""
    global _closing
    handlers = list(_live)
    if not handlers or _closing:
        return
    _closing = True
    try:
        deadline = time.monotonic() + max(h.settings.flush_timeout_s for h in handlers)
        for handler in handlers:
            with contextlib.suppress(Exception):  # one handler's failure never stops the others
                handler._close_by(deadline)
    finally:
        _closing = False
        if _sigterm_pending:
            _end_by_sigterm()


class _Forked:
    """What multiprocessing's after-fork registry holds for lclog (it keeps its keys weakly)."""


_FORKED = _Forked()


def _in_forked_child() -> None:
    """A multiprocessing child (the fork start method, Pool workers) ends with os._exit, which
    skips atexit: its own exit function closes lclog's handlers instead. Registered through
    multiprocessing's after-fork hooks, which run after the child clears the finalizers its
    parent had."""
    global _closing, _sigterm_pending, _sigterm_seen
    _closing = _sigterm_pending = _sigterm_seen = False  # the parent's close is the parent's
    util = sys.modules.get("multiprocessing.util")
    if util is not None:
        util.register_after_fork(_FORKED, _close_at_child_exit)
    if _sigterm_installed and signal.getsignal(signal.SIGTERM) is _on_sigterm:
        _watch_sigterm()


def _watch_sigterm() -> None:
    """In a forked child: a thread that sees each SIGTERM (through Python's wakeup fd, unless
    the process has one already) and wakes the main thread until its handler has run.

    Python runs a signal's handler in the main thread, between bytecodes or when a wait of its
    is interrupted. A SIGTERM that arrives just before the main thread blocks in C without a
    timeout (a pool's worker waiting for a task as the pool terminates it) interrupts nothing,
    and its handler would never run: the worker would never end, nor the pool's `with` block.
    """
    read, write = os.pipe()
    os.set_blocking(write, False)
    try:
        inherited = signal.set_wakeup_fd(write, warn_on_full_buffer=False)
    except ValueError:  # not the main thread
        inherited = None
    if inherited != -1:  # the application's own (or none could be set): left as it is
        if inherited is not None:
            signal.set_wakeup_fd(inherited)
        os.close(read)
        os.close(write)
        return
    main = threading.main_thread().ident
    if start_daemon(lambda: _wake_main_for_sigterm(read, main), "lclog-sigterm") is None:
        signal.set_wakeup_fd(-1)
        os.close(read)
        os.close(write)


def _wake_main_for_sigterm(read: int, main: int | None) -> None:
    while True:
        try:
            received = os.read(read, 64)
        except OSError:
            return
        if not received:
            return
        if signal.SIGTERM not in received:
            continue
        time.sleep(_UNHANDLED_S)
        while not _sigterm_seen and signal.getsignal(signal.SIGTERM) is _on_sigterm and main:
            signal.pthread_kill(main, signal.SIGTERM)  # interrupts its wait: the handler runs
            time.sleep(_UNHANDLED_S)


def _close_at_child_exit(_: object) -> None:
    import multiprocessing.util

    multiprocessing.util.Finalize(None, close_all, exitpriority=10)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_in_forked_child)


def _on_sigterm(signum: int, frame: Any) -> None:
    """Delivers what is queued, then ends the process as SIGTERM's default action would. During
    a close already under way (the exit of a multiprocessing worker that a pool terminates), that
    close finishes first, then the process ends."""
    global _sigterm_pending, _sigterm_seen
    _sigterm_seen = True
    if _closing:
        _sigterm_pending = True
        return
    try:
        close_all()
    finally:
        _end_by_sigterm()


def _end_by_sigterm() -> None:
    if signal.getsignal(signal.SIGTERM) is _on_sigterm:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


def _install_sigterm() -> None:
    """Takes SIGTERM only where the process still has its default action (an application's own
    handler is left alone: its graceful exit runs `atexit`), and only from the main thread."""
    global _sigterm_installed
    if _sigterm_installed or not hasattr(signal, "SIGTERM"):
        return
    if threading.current_thread() is not threading.main_thread():
        return
    try:
        if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
            return
        signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError):  # not the main interpreter, or no signals here
        return
    _sigterm_installed = True
