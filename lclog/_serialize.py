"""Arbitrary Python and LangChain objects -> bounded, JSON-safe values. Never raises."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
import uuid
from collections.abc import Mapping
from typing import Any

__all__ = ["Limits", "to_jsonable", "truncate"]

# Largest int orjson writes as a number; bigger ones become strings.
_INT_MAX = 2**63 - 1
_INT_MIN = -(2**63)


@dataclasses.dataclass(frozen=True, slots=True)
class Limits:
    """Bounds applied while serializing one value."""

    max_depth: int = 8
    max_items: int = 100
    max_chars: int = 4000


def truncate(text: str, max_chars: int) -> str:
    """Returns text cut to max_chars with a visible marker saying how much was cut."""
    if len(text) <= max_chars:
        return text
    return f"{text[:max_chars]}…[truncated {len(text) - max_chars} chars]"


def _safe_repr(obj: Any, limits: Limits) -> str:
    try:
        text = repr(obj)
    except BaseException as exc:
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        return f"<{type(obj).__qualname__} (repr failed: {type(exc).__name__})>"
    if not isinstance(text, str):
        return f"<{type(obj).__qualname__}>"
    return truncate(str.__str__(text), limits.max_chars)


# Message chunk types (streaming) are logged under the role of the message they build.
_CHUNK_ROLES = {
    "AIMessageChunk": "ai",
    "HumanMessageChunk": "human",
    "SystemMessageChunk": "system",
    "ToolMessageChunk": "tool",
    "ChatMessageChunk": "chat",
    "FunctionMessageChunk": "function",
}


def _message(msg: Any, limits: Limits, depth: int, seen: set[int]) -> dict[str, Any]:
    role = getattr(msg, "type", "message")
    out: dict[str, Any] = {"role": _CHUNK_ROLES.get(role, role)}
    name = getattr(msg, "name", None)
    if name:
        out["name"] = name
    out["content"] = _walk(getattr(msg, "content", ""), limits, depth, seen)
    tool_calls = getattr(msg, "tool_calls", None)
    if tool_calls:
        out["tool_calls"] = [
            _walk(
                {"id": tc.get("id"), "name": tc.get("name"), "args": tc.get("args")},
                limits,
                depth,
                seen,
            )
            for tc in tool_calls[: limits.max_items]
        ]
    tool_call_id = getattr(msg, "tool_call_id", None)
    if tool_call_id:
        out["tool_call_id"] = tool_call_id
    return out


def _document(doc: Any, limits: Limits, depth: int, seen: set[int]) -> dict[str, Any]:
    return {
        "content": _walk(getattr(doc, "page_content", ""), limits, depth, seen),
        "metadata": _walk(getattr(doc, "metadata", {}), limits, depth, seen),
    }


def _object(obj: Any, limits: Limits, depth: int, seen: set[int]) -> Any:
    """Slow path: LangChain objects, pydantic models, dataclasses, anything else."""
    from langchain_core.documents import Document
    from langchain_core.messages import BaseMessage
    from langchain_core.prompt_values import PromptValue

    if isinstance(obj, BaseMessage):
        return _message(obj, limits, depth, seen)
    if isinstance(obj, Document):
        return _document(obj, limits, depth, seen)
    if isinstance(obj, PromptValue):
        return [_message(m, limits, depth, seen) for m in obj.to_messages()[: limits.max_items]]
    if isinstance(obj, str):
        return truncate(str.__str__(obj), limits.max_chars)
    if isinstance(obj, int) and not isinstance(obj, bool):
        return _walk(int(obj), limits, depth, seen)
    if isinstance(obj, float):
        return float(obj)
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return f"<{type(obj).__name__} len={len(obj)}>"
    if isinstance(obj, uuid.UUID):
        return str(obj)
    if isinstance(obj, (_dt.datetime, _dt.date, _dt.time)):
        return obj.isoformat()
    if isinstance(obj, _dt.timedelta):
        return obj.total_seconds()
    if isinstance(obj, enum.Enum):
        return _walk(obj.value, limits, depth, seen)
    if isinstance(obj, BaseException):
        return {"type": type(obj).__qualname__, "message": _safe_str(obj, limits)}
    if isinstance(obj, Mapping):
        return _walk(dict(obj.items()), limits, depth, seen)
    if isinstance(obj, (list, tuple, set, frozenset)) or type(obj).__name__ == "deque":
        return _walk(list(obj), limits, depth, seen)
    model_dump = getattr(obj, "model_dump", None)
    if callable(model_dump) and hasattr(type(obj), "model_fields"):
        return _walk(model_dump(), limits, depth, seen)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return _walk(
            {f.name: getattr(obj, f.name, None) for f in dataclasses.fields(obj)},
            limits,
            depth,
            seen,
        )
    return _safe_repr(obj, limits)


def _safe_str(obj: Any, limits: Limits) -> str:
    try:
        text = str(obj)
    except BaseException as exc:
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        return f"<{type(obj).__qualname__} (str failed: {type(exc).__name__})>"
    return truncate(str.__str__(text) if isinstance(text, str) else "", limits.max_chars)


def _walk(obj: Any, limits: Limits, depth: int, seen: set[int]) -> Any:
    t = type(obj)
    if t is str:
        return obj if len(obj) <= limits.max_chars else truncate(obj, limits.max_chars)
    if t is int:
        return obj if _INT_MIN <= obj <= _INT_MAX else truncate(_int_text(obj), 64)
    if obj is None or t is bool or t is float:
        return obj
    if depth >= limits.max_depth:
        return f"<{t.__qualname__} beyond max_depth>"
    if t is dict or t is list or t is tuple:
        key = id(obj)
        if key in seen:
            return "<cycle>"
        seen.add(key)
        try:
            if t is dict:
                out: Any = {}
                for i, (k, v) in enumerate(obj.items()):
                    if i >= limits.max_items:
                        out["…"] = f"[{len(obj) - i} more keys]"
                        break
                    out[k if type(k) is str else _key(k, limits)] = _walk(v, limits, depth + 1, seen)
                return out
            items = [_walk(v, limits, depth + 1, seen) for v in obj[: limits.max_items]]
            if len(obj) > limits.max_items:
                items.append(f"…[{len(obj) - limits.max_items} more items]")
            return items
        finally:
            seen.discard(key)
    key = id(obj)
    if key in seen:
        return "<cycle>"
    seen.add(key)
    try:
        return _object(obj, limits, depth, seen)
    except RecursionError:
        return f"<{t.__qualname__} too deep>"
    except Exception as exc:
        return f"<{t.__qualname__} (serialization failed: {type(exc).__name__})>"
    finally:
        seen.discard(key)


def _int_text(value: int) -> str:
    try:
        return str(value)
    except ValueError:  # beyond sys.get_int_max_str_digits()
        return f"<int with {value.bit_length()} bits>"


def _key(key: Any, limits: Limits) -> str:
    if isinstance(key, str):
        return truncate(str.__str__(key), 256)
    value = _walk(key, limits, limits.max_depth - 1, set())
    return value if isinstance(value, str) else _safe_repr(key, limits)[:256]


def to_jsonable(obj: Any, limits: Limits = Limits()) -> Any:
    """Returns obj as JSON-safe dicts, lists, strings and numbers, within limits; never raises."""
    try:
        return _walk(obj, limits, 0, set())
    except RecursionError:
        return f"<{type(obj).__qualname__} too deep>"
    except Exception as exc:
        return f"<{type(obj).__qualname__} (serialization failed: {type(exc).__name__})>"
