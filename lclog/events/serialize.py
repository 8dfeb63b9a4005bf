"""Arbitrary Python and LangChain objects -> bounded, JSON-safe values. Never raises."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
import itertools
import re
import sys
import types
import uuid
import weakref
from collections.abc import Callable, Mapping
from typing import Any, Protocol

__all__ = ["Limits", "Message", "Scrubber", "to_jsonable", "truncate"]

# Largest int orjson writes as a number; bigger ones become strings.
_INT_MAX = 2**63 - 1
_INT_MIN = -(2**63)


def truncate(text: str, max_chars: int) -> str:
    """Returns text cut to max_chars with a visible marker saying how much was cut."""
    if len(text) <= max_chars:
        return text
    return f"{text[:max_chars]}…[truncated {len(text) - max_chars} chars]"


@dataclasses.dataclass(frozen=True, slots=True)
class Limits:
    """Bounds applied while serializing one value."""

    max_depth: int = 8
    max_items: int = 100
    max_chars: int = 4000
    # A list of messages longer than this keeps its leading system message(s) and the newest.
    max_messages: int = 100
    # Shortens a text to max_chars. Where redaction is on, it must redact first
    # (`Redactor.cut`): a secret cut in two loses the part its rule needs and is written as is.
    cut: Callable[[str, int], str] = truncate


class Message(dict):
    """A LangChain message as serialized (`role`, `content`, `id` ...): a dict, marked so that
    the conversation's history can find it (see events/history.py), with `source`: a number
    naming the message object it was read from for as long as that object lives (who it is,
    never what it says; None for an object that takes no weak reference)."""

    __slots__ = ("source",)
    source: int | None


class _Ref(weakref.ref[Any]):
    __slots__ = ("key",)
    key: int


# id() of a live message object -> (a weak reference to it, its number). An entry leaves with
# its object, before the address can be reused; numbers are never reused.
_objects: dict[int, tuple[_Ref, int]] = {}
_numbers = itertools.count(1)


def _forget(ref: _Ref) -> None:
    found = _objects.get(ref.key)
    if found is not None and found[0] is ref:
        del _objects[ref.key]


def _object_number(obj: Any, new: bool = True) -> int | None:
    """A number for obj, the same for as long as it lives, never another object's; with `new`
    false, only the number it already has (None when it has none)."""
    key = id(obj)
    found = _objects.get(key)
    if found is not None and found[0]() is obj:
        return found[1]
    if not new:
        return None
    try:
        ref = _Ref(obj, _forget)
    except TypeError:
        return None
    ref.key = key
    number = next(_numbers)
    _objects[key] = (ref, number)
    return number


class Scrubber(Protocol):
    """Redacts while serializing (see `Redactor`), so content is walked once, not twice."""

    def scrub_text(self, text: str) -> str: ...

    def cut(self, text: str, max_chars: int) -> str:
        """text redacted, then shortened to max_chars (redaction first, so no secret is cut)."""
        ...

    def scrub_key(self, key: str, value: Any) -> Any:
        """Returns the replacement for a secret key's value, `DROP`, or `KEEP` to walk it."""
        ...


KEEP = object()
DROP = object()


def _text(text: str, limits: Limits, scrub: Scrubber | None) -> str:
    """A string as written: redacted (with a scrubber), then cut to max_chars, in that order."""
    if len(text) > limits.max_chars:
        return scrub.cut(text, limits.max_chars) if scrub is not None else limits.cut(text, limits.max_chars)
    return text if scrub is None else scrub.scrub_text(text)


def _safe_repr(obj: Any, limits: Limits, scrub: Scrubber | None) -> str:
    try:
        text = repr(obj)
    except BaseException as exc:
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        return f"<{type(obj).__qualname__} (repr failed: {type(exc).__name__})>"
    if not isinstance(text, str):
        return f"<{type(obj).__qualname__}>"
    return _text(str.__str__(text), limits, scrub)


# Message chunk types (streaming) are logged under the role of the message they build.
_CHUNK_ROLES = {
    "AIMessageChunk": "ai",
    "HumanMessageChunk": "human",
    "SystemMessageChunk": "system",
    "ToolMessageChunk": "tool",
    "ChatMessageChunk": "chat",
    "FunctionMessageChunk": "function",
}
# A message's `type` -> the role it is logged under.
_ROLE_OF = {**{r: r for r in [*_CHUNK_ROLES.values(), "message", "remove"]}, **_CHUNK_ROLES}


def _message(msg: Any, limits: Limits, depth: int, seen: set[int], scrub: Scrubber | None) -> Message:
    # Fields are read from __dict__: getattr on a field another message type lacks would raise
    # inside pydantic, which is slow.
    fields = getattr(msg, "__dict__", None) or {}
    kind = fields.get("type") or getattr(msg, "type", "message")
    role = _ROLE_OF.get(kind) if type(kind) is str else None
    if role is None:  # a subclass's own type: content like any other
        role = _walk(kind, limits, depth, seen, scrub)
    out = Message(role=role)
    # Who it is: numbered when it has no id yet (LangGraph may give it one in place, later);
    # with an id, only the number it got before it had one.
    out.source = _object_number(msg, fields.get("id") is None)
    name = fields.get("name")
    if name:
        out["name"] = _walk(name, limits, depth, seen, scrub)
    content = fields.get("content", "")
    if type(content) is str:
        if len(content) <= limits.max_chars:  # the common case, without a call
            out["content"] = content if scrub is None else scrub.scrub_text(content)
        else:
            out["content"] = _text(content, limits, scrub)
    else:
        out["content"] = _walk(content, limits, depth, seen, scrub)
    tool_calls = fields.get("tool_calls")
    if tool_calls:
        out["tool_calls"] = _tool_calls(tool_calls, limits, depth + 1, seen, scrub)
    tool_call_id = fields.get("tool_call_id")
    if tool_call_id:
        out["tool_call_id"] = _walk(tool_call_id, limits, depth, seen, scrub)
    msg_id = fields.get("id")
    if type(msg_id) is str:  # a label, kept short; LangChain's and LangGraph's own need no redaction
        out["id"] = msg_id if _own_id(msg_id) else _key(msg_id, limits, scrub)
    return out


def _tool_calls(
    calls: list[Any], limits: Limits, depth: int, seen: set[int], scrub: Scrubber | None
) -> list[Any]:
    # LangChain's own keys, never a secret's name: only the values are walked and redacted.
    return [
        {
            "id": _walk(tc.get("id"), limits, depth, seen, scrub),
            "name": _walk(tc.get("name"), limits, depth, seen, scrub),
            "args": _walk(tc.get("args"), limits, depth, seen, scrub),
        }
        for tc in calls[: limits.max_items]
    ]


# Message ids LangChain (`lc_run--<run id>-<n>`, `run-…`) and LangGraph (a UUID) make.
_OWN_ID = re.compile(
    r"(?:lc_run--|run-)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?:-\d{1,4})?"
)
# Own ids already matched: a conversation's messages recur in every event that carries it.
_OWN_IDS: set[str] = set()


def _own_id(msg_id: str) -> bool:
    if msg_id in _OWN_IDS:
        return True
    if _OWN_ID.fullmatch(msg_id) is None:
        return False
    if len(_OWN_IDS) >= 4096:
        _OWN_IDS.clear()
    _OWN_IDS.add(msg_id)
    return True


def _is_message(obj: Any) -> bool:
    return _langchain_kind(obj) == "message"


def _messages(
    msgs: list[Any], limits: Limits, depth: int, seen: set[int], scrub: Scrubber | None
) -> list[Any]:
    """A message list longer than max_messages: its leading system messages, a marker saying how
    many were left out, and the newest messages (the current turn is never what is cut)."""
    keep = max(1, limits.max_messages)
    head = 0
    while head < len(msgs) and head < keep // 2 and getattr(msgs[head], "type", None) == "system":
        head += 1
    tail = keep - head
    omitted = len(msgs) - head - tail
    items = [_walk(m, limits, depth + 1, seen, scrub) for m in msgs[:head]]
    items.append({"role": "omitted", "messages": omitted})
    items.extend(_walk(m, limits, depth + 1, seen, scrub) for m in msgs[len(msgs) - tail :])
    return items


def _document(doc: Any, limits: Limits, depth: int, seen: set[int], scrub: Scrubber | None) -> dict[str, Any]:
    return {
        "content": _walk(getattr(doc, "page_content", ""), limits, depth, seen, scrub),
        "metadata": _walk(getattr(doc, "metadata", {}), limits, depth, seen, scrub),
    }


# LangChain's types by the module defining them: an object can be one only once that module is
# loaded, so looking them up there (never importing) keeps the command-line tools free of LangChain.
_LANGCHAIN_TYPES = (
    ("langchain_core.messages.base", "BaseMessage", "message"),
    ("langchain_core.documents.base", "Document", "document"),
    ("langchain_core.prompt_values", "PromptValue", "prompt"),
)


# The answer per type: a class can derive from one of LangChain's only once that is loaded.
_KINDS: dict[type, str | None] = {}


def _langchain_kind(obj: Any) -> str | None:
    """The LangChain object obj is: "message", "document" or "prompt"; else None."""
    cls = type(obj)
    try:
        return _KINDS[cls]
    except KeyError:
        pass
    found = None
    for module, name, kind in _LANGCHAIN_TYPES:
        loaded = sys.modules.get(module)
        if loaded is not None and issubclass(cls, getattr(loaded, name)):
            found = kind
            break
    if len(_KINDS) < 4096:  # classes made on the fly are not remembered without bound
        _KINDS[cls] = found
    return found


def _object(obj: Any, limits: Limits, depth: int, seen: set[int], scrub: Scrubber | None) -> Any:
    """Slow path: LangChain objects, pydantic models, dataclasses, anything else."""
    kind = _langchain_kind(obj)
    if kind == "message":
        return _message(obj, limits, depth, seen, scrub)
    if kind == "document":
        return _document(obj, limits, depth, seen, scrub)
    if kind == "prompt":
        return _walk(list(obj.to_messages()), limits, depth, seen, scrub)
    value = _value(obj, limits, scrub)
    if value is not _NO_VALUE:
        return value if type(value) is not _Data else _walk(value.data, limits, depth, seen, scrub)
    data = _data(obj)
    if data is not _NO_VALUE:
        return _walk(data, limits, depth, seen, scrub)
    return _safe_repr(obj, limits, scrub)


_NO_VALUE = object()


class _Data:
    """A value still to walk (an int subclass's int, an enum's value)."""

    __slots__ = ("data",)

    def __init__(self, data: Any) -> None:
        self.data = data


def _value(obj: Any, limits: Limits, scrub: Scrubber | None) -> Any:
    """A scalar-like object as JSON data (`_Data`: to walk), or `_NO_VALUE`."""
    if isinstance(obj, int) and not isinstance(obj, bool):
        return _Data(int(obj))
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
        return _Data(obj.value)
    if isinstance(obj, BaseException):
        kind = type(obj).__qualname__
        return {
            "type": kind if scrub is None else scrub.scrub_text(kind),
            "message": _text(_safe_str(obj), limits, scrub),
        }
    return _NO_VALUE


def _data(obj: Any) -> Any:
    """The data a container, model or other object holds, to walk (`_NO_VALUE`: none)."""
    if isinstance(obj, Mapping):
        return dict(obj.items())
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # a named tuple: its fields by name
        return dict(zip(obj._fields, obj, strict=True))
    if isinstance(obj, (list, tuple, set, frozenset)) or type(obj).__name__ == "deque":
        return list(obj)
    model_dump = getattr(obj, "model_dump", None)
    if callable(model_dump) and hasattr(type(obj), "model_fields"):
        return model_dump()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name, None) for f in dataclasses.fields(obj)}
    attributes = _attributes(obj)
    if attributes:  # any other object holding data (LangGraph's `Send`): its public attributes
        return _named(obj, attributes)
    return _NO_VALUE


# Objects whose attributes are code, not data: written as their repr.
_CODE = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.MethodType)


def _attributes(obj: Any) -> list[str]:
    """The public attribute names of an object's instance dict and slots ([] for code objects)."""
    if isinstance(obj, _CODE):
        return []
    names = [n for n in getattr(obj, "__dict__", None) or () if type(n) is str and not n.startswith("_")]
    for cls in type(obj).__mro__:
        slots = cls.__dict__.get("__slots__", ())
        for n in (slots,) if isinstance(slots, str) else slots:
            if not n.startswith("_") and n not in names and hasattr(obj, n):
                names.append(n)
    return names


def _named(obj: Any, names: list[str]) -> dict[str, Any]:
    """An object as a dict: `_type` (its class, which its repr showed) first, then the attributes."""
    out: dict[str, Any] = {"_type": type(obj).__qualname__}
    for n in names:
        out[n] = getattr(obj, n, None)
    return out


def _safe_str(obj: Any) -> str:
    try:
        text = str(obj)
    except BaseException as exc:
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        return f"<{type(obj).__qualname__} (str failed: {type(exc).__name__})>"
    return str.__str__(text) if isinstance(text, str) else ""


def _dict(obj: dict[Any, Any], limits: Limits, depth: int, seen: set[int], scrub: Scrubber | None) -> Any:
    out: dict[str, Any] = {}
    items: Any = obj.items()
    if len(obj) > limits.max_items:
        items = itertools.islice(items, limits.max_items)
        out_of = len(obj) - limits.max_items
    else:
        out_of = 0
    max_chars = limits.max_chars
    for k, v in items:
        if type(k) is not str or len(k) > _MAX_KEY:
            k = _key(k, limits, scrub)
        if scrub is None:
            out[k] = _walk(v, limits, depth + 1, seen)
            continue
        # A secret key's value is replaced whole, whatever its type.
        replaced = scrub.scrub_key(k, v)
        if replaced is KEEP:
            if type(v) is str and len(v) <= max_chars:  # the common case, without a call
                replaced = scrub.scrub_text(v)
            else:
                replaced = _walk(v, limits, depth + 1, seen, scrub)
        if replaced is not DROP:
            out[scrub.scrub_text(k) if len(k) <= _MAX_KEY else k] = replaced
    if out_of:
        out["…"] = f"[{out_of} more keys]"
    return out


# Lists are walked here, apart from `_walk`: on Python 3.10 and 3.11 a comprehension makes every
# variable it reads a cell in the function around it, at every call of that function.
def _list(
    obj: list[Any] | tuple[Any, ...], limits: Limits, depth: int, seen: set[int], scrub: Scrubber | None
) -> Any:
    if len(obj) > limits.max_items:
        if _is_message(obj[-1]) and _is_message(obj[0]):
            if len(obj) > limits.max_messages:
                return _messages(list(obj), limits, depth, seen, scrub)
            return [_walk(v, limits, depth + 1, seen, scrub) for v in obj]
        items = [_walk(v, limits, depth + 1, seen, scrub) for v in obj[: limits.max_items]]
        items.append(f"…[{len(obj) - limits.max_items} more items]")
        return items
    return [_walk(v, limits, depth + 1, seen, scrub) for v in obj]


def _walk(obj: Any, limits: Limits, depth: int, seen: set[int], scrub: Scrubber | None = None) -> Any:
    t = type(obj)
    if t is str:
        if len(obj) <= limits.max_chars:  # the common case, without a call
            return obj if scrub is None else scrub.scrub_text(obj)
        return _text(obj, limits, scrub)
    if t is dict or t is list or t is tuple:
        if depth >= limits.max_depth:
            return f"<{t.__qualname__} beyond max_depth>"
        key = id(obj)
        if key in seen:
            return "<cycle>"
        seen.add(key)
        try:
            return (
                _dict(obj, limits, depth, seen, scrub)
                if t is dict
                else _list(obj, limits, depth, seen, scrub)
            )
        finally:
            seen.discard(key)
    if _KINDS.get(t) == "message" and depth < limits.max_depth:  # the most common object
        try:
            return _message(obj, limits, depth, seen, scrub)
        except RecursionError:
            return f"<{t.__qualname__} too deep>"
        except Exception as exc:
            return f"<{t.__qualname__} (serialization failed: {type(exc).__name__})>"
    if t is int:
        return obj if _INT_MIN <= obj <= _INT_MAX else truncate(_int_text(obj), 64)
    if obj is None or t is bool or t is float:
        return obj
    return _other(obj, t, limits, depth, seen, scrub)


def _other(obj: Any, t: type, limits: Limits, depth: int, seen: set[int], scrub: Scrubber | None) -> Any:
    """`_walk` of any object not of a JSON type (nor a message): a str subclass's text, or what
    `_object` makes of it, within max_depth and without cycles."""
    if isinstance(obj, str):  # a str subclass (LangChain's TextAccessor): its text, not its repr
        return _text(str.__str__(obj), limits, scrub)
    if depth >= limits.max_depth:
        return f"<{t.__qualname__} beyond max_depth>"
    key = id(obj)
    if key in seen:
        return "<cycle>"
    seen.add(key)
    try:
        # Texts made from an object (its repr) are redacted where they are made, before any cut.
        return _object(obj, limits, depth, seen, scrub)
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


# Dict keys are labels: kept this short, redacted before they are cut.
_MAX_KEY = 256


def _key(key: Any, limits: Limits, scrub: Scrubber | None) -> str:
    keys = dataclasses.replace(limits, max_chars=_MAX_KEY)
    if isinstance(key, str):
        return _text(str.__str__(key), keys, scrub)
    value = _walk(key, keys, limits.max_depth - 1, set(), scrub)
    return value if isinstance(value, str) else _safe_repr(key, keys, scrub)


def to_jsonable(obj: Any, limits: Limits = Limits(), scrub: Scrubber | None = None) -> Any:
    """Returns obj as JSON-safe dicts, lists, strings and numbers, within limits; never raises.

    With a scrubber, every string and every secret key's value is redacted on the way.
    """
    try:
        return _walk(obj, limits, 0, set(), scrub)
    except RecursionError:
        return f"<{type(obj).__qualname__} too deep>"
    except Exception as exc:
        return f"<{type(obj).__qualname__} (serialization failed: {type(exc).__name__})>"
