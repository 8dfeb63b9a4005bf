"""A correction of LangChain's async `on_llm_start` dispatch, applied only where it is broken.

`AsyncCallbackManager.on_llm_start` (langchain-core up to at least 1.8) sends the event to the
handlers that run inline *or*, when there are none, to the others (langchain-ai/langchain#39633).
lclog runs inline, so with it attached every other handler of an async completion-style LLM call
(`astream_events`, `astream_log`, run collectors, a user's own) would miss `on_llm_start` and
then fail on `on_llm_end`. Whether the installed langchain-core has the bug is found by trying
it once; once LangChain fixes it, nothing is patched.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from typing import Any
from uuid import UUID

from langchain_core.callbacks import AsyncCallbackHandler, BaseCallbackHandler
from langchain_core.callbacks.manager import AsyncCallbackManager, ahandle_event

from lclog._threads import fork_safe

__all__ = ["apply"]

_lock = fork_safe(threading.Lock())
_checked = False


class _Inline(BaseCallbackHandler):
    run_inline = True


class _Other(AsyncCallbackHandler):
    def __init__(self) -> None:
        self.started = False

    async def on_llm_start(self, *args: Any, **kwargs: Any) -> None:
        self.started = True


def _is_broken() -> bool:
    """True when a non-inline handler misses on_llm_start next to an inline one."""
    other = _Other()

    async def probe() -> None:
        await AsyncCallbackManager([_Inline(), other]).on_llm_start({}, ["probe"])

    def run() -> None:
        asyncio.run(probe())

    thread = threading.Thread(target=run, name="lclog-probe")  # the caller may be on a running loop
    try:
        thread.start()
    except RuntimeError:  # interpreter shutdown: no async call is coming
        return False
    thread.join(5)
    return not other.started


def _fixed(original: Any) -> Any:
    @functools.wraps(original)
    async def on_llm_start(
        self: AsyncCallbackManager,
        serialized: dict[str, Any],
        prompts: list[str],
        run_id: UUID | None = None,
        **kwargs: Any,
    ) -> Any:
        managers = await original(self, serialized, prompts, run_id, **kwargs)
        handlers = self.handlers
        if any(h.run_inline for h in handlers):
            skipped = [h for h in handlers if not h.run_inline]
            if skipped:
                await asyncio.gather(
                    *(
                        ahandle_event(
                            skipped,
                            "on_llm_start",
                            "ignore_llm",
                            serialized,
                            [prompt],
                            run_id=manager.run_id,
                            parent_run_id=self.parent_run_id,
                            tags=self.tags,
                            metadata=self.metadata,
                            **kwargs,
                        )
                        for prompt, manager in zip(prompts, managers, strict=True)
                    )
                )
        return managers

    on_llm_start.__lclog_fix__ = True  # type: ignore[attr-defined]
    return on_llm_start


def apply() -> None:
    """Patches AsyncCallbackManager.on_llm_start if (and only if) it drops non-inline handlers."""
    global _checked
    with _lock:
        if _checked:
            return
        _checked = True
        if getattr(AsyncCallbackManager.on_llm_start, "__lclog_fix__", False) or not _is_broken():
            return
        AsyncCallbackManager.on_llm_start = _fixed(AsyncCallbackManager.on_llm_start)  # type: ignore[method-assign]
