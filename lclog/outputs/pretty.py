"""One readable, terminal-safe line per event, indented by run depth, optionally coloured."""

from __future__ import annotations

import os
import re
from typing import Any

import orjson

__all__ = ["render_pretty", "safe_text", "terminal_width"]

_COLORS = {"start": "\x1b[36m", "end": "\x1b[32m", "error": "\x1b[31m", "other": "\x1b[35m"}
_DIM, _RESET = "\x1b[2m", "\x1b[0m"
# C0/C1 control characters (ANSI escapes, \r, \n ...) in content must not reach a terminal raw.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_PREVIEW_CHARS = 120


def safe_text(text: str) -> str:
    """text with control characters shown escaped, safe to print on a terminal."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


def _compact(value: Any, depth: int = 0) -> Any:
    """value with history references and left-out markers as short texts."""
    if type(value) is dict:
        role = value.get("role")
        if role == "history" and "messages" in value:
            count = value.get("messages")
            return f"…{count} earlier message{'' if count == 1 else 's'}"
        if role == "omitted":
            return f"…{value.get('messages')} messages left out"
        return {k: _compact(v, depth + 1) for k, v in value.items()} if depth < 8 else value
    if type(value) is list and depth < 8:
        return [_compact(v, depth + 1) for v in value]
    return value


def _preview(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        text = value
    else:
        text = orjson.dumps(_compact(value), option=orjson.OPT_NON_STR_KEYS, default=str).decode()
    text = safe_text(text)
    return text if len(text) <= _PREVIEW_CHARS else text[: _PREVIEW_CHARS - 1] + "…"


def render_pretty(event: dict[str, Any], *, color: bool = False, width: int | None = None) -> str:
    """Returns event as one line (no newline inside): time, event, name, LangGraph node and step,
    timing, usage, content; cut to `width` columns when given (a terminal's width)."""
    name = str(event.get("event", "?"))
    phase = name.rsplit(".", 1)[-1] if "." in name else "other"
    indent = "  " * min(int(event.get("depth") or 0), 20)
    parts = [f"{indent}{name:<18}", safe_text(str(event.get("name") or ""))]
    if event.get("node") is not None:  # a graph's nodes often share names with their runs
        step = event.get("step")
        parts.append(safe_text(f"[{event['node']}" + (f":{step}]" if step is not None else "]")))
    if event.get("model"):
        parts.append(f"model={safe_text(str(event['model']))}")
    if event.get("duration_ms") is not None:
        parts.append(f"{event['duration_ms']:.1f}ms")
    if event.get("ttft_ms") is not None:
        parts.append(f"ttft={event['ttft_ms']:.1f}ms chunks={event.get('chunks')}")
    usage = event.get("usage")
    if isinstance(usage, dict):
        parts.append(f"tokens={usage.get('input_tokens')}→{usage.get('output_tokens')}")
    cost = event.get("cost")
    if isinstance(cost, dict) and isinstance(cost.get("total"), (int, float)):
        parts.append(f"${cost['total']:.6f}")
    error = event.get("error")
    if isinstance(error, dict):
        parts.append(f"{safe_text(str(error.get('type')))}: {_preview(error.get('message'))}")
    for key in ("inputs", "outputs", "data", "documents"):
        if event.get(key) not in (None, "", [], {}):
            parts.append(f"{key[0:3]}={_preview(event[key])}")
    ts = str(event.get("timestamp") or "")[11:23]
    line = " ".join(p for p in parts if p)
    if width is not None and len(ts) + 1 + len(line) > width:
        line = line[: max(0, width - len(ts) - 2)] + "…"
    if not color:
        return f"{ts} {line}"
    return f"{_DIM}{ts}{_RESET} {_COLORS.get(phase, _COLORS['other'])}{line}{_RESET}"


def terminal_width(stream: Any) -> int | None:
    """The width of the terminal a stream writes to, or None when it is not a terminal."""
    try:
        return os.get_terminal_size(stream.fileno()).columns if stream.isatty() else None
    except (AttributeError, OSError, ValueError):
        return None
