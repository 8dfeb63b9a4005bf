"""What lclog reads of LangChain's hook arguments: run names, models, parameters, tool names,
the conversation."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.runnables.config import var_child_runnable_config

from lclog.events.build import MAX_NAME
from lclog.events.serialize import Limits, to_jsonable
from lclog.redact.redactor import CUT_LOOKAHEAD

__all__ = [
    "MAX_NAME",
    "PARAMS",
    "THREAD_KEYS",
    "configured_thread",
    "model_of",
    "model_run",
    "name_of",
    "thread_of",
    "tool_name_of",
]

# Keys that name a conversation, first found wins (the `thread_keys` setting's default), in a
# run's metadata (LangGraph copies `thread_id` there) or in the `configurable` of the config
# LangChain runs it with (`RunnableWithMessageHistory`'s `session_id`).
THREAD_KEYS = ("thread_id", "session_id", "conversation_id")
# Invocation parameters worth logging; the rest (headers, keys, clients) never are.
# A name that is not a string, as text long enough to be redacted before it is cut.
_NAME_WINDOW = Limits(max_depth=1, max_items=8, max_chars=MAX_NAME + CUT_LOOKAHEAD)
PARAMS = ("temperature", "max_tokens", "max_completion_tokens", "top_p", "top_k", "stop", "seed")


def name_of(serialized: dict[str, Any] | None, kwargs: dict[str, Any], default: str) -> str:
    """The run's name (the `name` kwarg, else the serialized name or class), bounded; events
    carry it redacted and cut to MAX_NAME."""
    name: Any = kwargs.get("name")
    if not name and isinstance(serialized, dict):
        ids = serialized.get("id")
        name = serialized.get("name") or (ids[-1] if isinstance(ids, list) and ids else None)
    if not name:
        return default
    if type(name) is str and len(name) <= MAX_NAME:
        return name
    # Cut to MAX_NAME only once redacted, where the event is built (EventBuilder.label_of).
    text = str.__str__(name) if isinstance(name, str) else str(to_jsonable(name, _NAME_WINDOW))
    return text[: MAX_NAME + CUT_LOOKAHEAD]


def model_of(
    serialized: dict[str, Any] | None, params: dict[str, Any], metadata: dict[str, Any]
) -> str | None:
    """The model requested: invocation params, then LangSmith's `ls_model_name`, then the model's
    serialized kwargs; None when none says."""
    for key in ("model", "model_name", "model_id", "deployment_name"):
        if isinstance(params.get(key), str):
            return params[key]
    if isinstance(metadata.get("ls_model_name"), str):
        return metadata["ls_model_name"]
    kwargs = (serialized or {}).get("kwargs") or {}
    for key in ("model", "model_name", "model_id"):
        if isinstance(kwargs.get(key), str):
            return kwargs[key]
    return None


def model_run(
    serialized: dict[str, Any] | None,
    kwargs: dict[str, Any],
    metadata: dict[str, Any] | None,
    run_type: str,
    content_of: Callable[[Any], Any],
) -> tuple[str, dict[str, Any]]:
    """An LLM or chat model run's name and what its start says of the model: `model`, `provider`
    and the `params` worth logging (serialized as content with `content_of`)."""
    params = kwargs.get("invocation_params") or {}
    meta = metadata or {}
    extra: dict[str, Any] = {"model": model_of(serialized, params, meta)}
    if meta.get("ls_provider"):
        extra["provider"] = meta["ls_provider"]
    chosen = {k: params[k] for k in PARAMS if params.get(k) is not None}
    tools = params.get("tools")
    if isinstance(tools, list):
        chosen["tools"] = [tool_name_of(t) for t in tools[:64]]
    if chosen:
        extra["params"] = content_of(chosen)
    return name_of(serialized, kwargs, str(params.get("_type") or run_type)), extra


def tool_name_of(tool: Any) -> str:
    """A bound tool's name, whatever shape the model's params give it in."""
    if isinstance(tool, dict):
        fn = tool.get("function")
        if isinstance(fn, dict) and fn.get("name"):
            return str(fn["name"])
        return str(tool.get("name") or tool.get("title") or "tool")
    return str(getattr(tool, "name", type(tool).__name__))


def thread_of(metadata: dict[str, Any], keys: Sequence[str] = THREAD_KEYS) -> tuple[str, str | int] | None:
    """The metadata key naming the run's conversation, and its value; None when none does."""
    for key in keys:
        value = metadata.get(key)
        if type(value) is str or type(value) is int:
            return key, value
    return None


def configured_thread(keys: Sequence[str] = THREAD_KEYS) -> str | int | None:
    """The conversation named in the `configurable` of the config LangChain runs the current
    run's parent with (a run started by the application itself has none)."""
    config = var_child_runnable_config.get()
    configurable = config.get("configurable") if config else None
    if not configurable:
        return None
    found = thread_of(configurable, keys)
    return found[1] if found is not None else None
