"""Process exit: live handlers deliver what they hold, within their flush_timeout_s, at
interpreter exit and on SIGTERM (whose default action would skip `atexit`)."""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import threading
import time
import weakref
from typing import Any

__all__ = ["close_all", "track", "untrack"]

_live: weakref.WeakSet[Any] = weakref.WeakSet()
_sigterm_installed = False


def track(handler: Any, *, sigterm: bool) -> None:
    """Closes `handler` at exit; with `sigterm`, on SIGTERM too (see _install_sigterm)."""
    _live.add(handler)
    if sigterm:
        _install_sigterm()


def untrack(handler: Any) -> None:
    _live.discard(handler)


def close_all() -> None:
    """Closes every live handler, all within the longest flush_timeout_s among them."""
    handlers = list(_live)
    if not handlers:
        return
    deadline = time.monotonic() + max(h.settings.flush_timeout_s for h in handlers)
    for handler in handlers:
        with contextlib.suppress(Exception):  # one handler's failure never stops the others closing
            handler._close_by(deadline)


atexit.register(close_all)


def _on_sigterm(signum: int, frame: Any) -> None:
    """Delivers what is queued, then ends the process as SIGTERM's default action would."""
    try:
        close_all()
    finally:
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
