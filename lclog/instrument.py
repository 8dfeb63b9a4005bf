"""Process-wide logging: one handler added to every LangChain run, no `callbacks=` needed."""

from __future__ import annotations

import os
import threading
from typing import Any

from langchain_core.tracers.context import register_configure_hook

from lclog._threads import fork_safe
from lclog.capture.handler import LoggingCallbackHandler
from lclog.settings import Settings

__all__ = ["instrument", "instrumented_handler", "uninstrument"]


class _Slot:
    """Holds the installed handler for every thread and task.

    LangChain's configure hooks only call `.get()` on the variable they are given; a ContextVar
    would not reach threads started before `instrument()`, this does.
    """

    def __init__(self) -> None:
        self.handler: LoggingCallbackHandler | None = None

    def get(self) -> LoggingCallbackHandler | None:
        return self.handler


_slot = _Slot()
_lock = fork_safe(threading.Lock())
_registered = False


def instrument(
    config: Settings | str | os.PathLike[str] | dict[str, Any] | None = None, **overrides: Any
) -> LoggingCallbackHandler:
    """Logs every LangChain run in the process through one handler, and returns it.

    Calling it again replaces (and closes) the previous handler, so runs are never logged twice.
    """
    global _registered
    handler = LoggingCallbackHandler(config, **overrides)
    with _lock:
        if not _registered:
            register_configure_hook(_slot, True)  # type: ignore[arg-type]
            _registered = True
        previous, _slot.handler = _slot.handler, handler
    if previous is not None:
        previous.close()
    return handler


def uninstrument() -> None:
    """Stops process-wide logging and closes its handler."""
    with _lock:
        previous, _slot.handler = _slot.handler, None
    if previous is not None:
        previous.close()


def instrumented_handler() -> LoggingCallbackHandler | None:
    """Returns the process-wide handler, or None when not instrumented."""
    return _slot.handler
