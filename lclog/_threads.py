"""lclog's background threads: daemons, started so that interpreter shutdown cannot break a caller."""

from __future__ import annotations

import threading
from collections.abc import Callable

__all__ = ["start_daemon"]


def start_daemon(target: Callable[[], object], name: str) -> threading.Thread | None:
    """Starts a daemon thread running target; None when no thread can start (Python 3.12 and
    later refuse new threads once the interpreter is shutting down)."""
    thread = threading.Thread(target=target, name=name, daemon=True)
    try:
        thread.start()
    except RuntimeError:
        return None
    return thread
