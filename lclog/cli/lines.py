"""Reading lclog's JSON lines back, in any layout (default, ecs, otel), as default-layout dicts."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import IO, Any

import orjson

from lclog.events import fields
from lclog.pipeline import genai

__all__ = ["follow", "normalize", "parse"]


def _decoded(value: Any) -> Any:
    """Content a layout wrote as a JSON string, as the data it was."""
    if isinstance(value, str):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def _usage(gen_ai: dict[str, Any]) -> dict[str, Any] | None:
    usage = {key: gen_ai[f"usage.{name}"] for key, name in genai.USAGE.items() if f"usage.{name}" in gen_ai}
    return usage or None


def _content(out: dict[str, Any], gen_ai: dict[str, Any], run_type: str) -> None:
    """inputs and outputs, from where the layout put them (gen_ai.* or lclog.*)."""
    history = _decoded(out.pop("history", None))
    markers = [m for m in history if isinstance(m, dict)] if isinstance(history, list) else []
    if "input.messages" in gen_ai:
        out["inputs"] = genai.from_messages(gen_ai["input.messages"], markers)
        markers = []
    elif "tool.call.arguments" in gen_ai:
        out["inputs"] = gen_ai["tool.call.arguments"]
    elif "retrieval.query.text" in gen_ai:
        out["inputs"] = gen_ai["retrieval.query.text"]
    else:
        out["inputs"] = _decoded(out.get("inputs"))
    if "output.messages" in gen_ai:
        outputs = genai.from_messages(gen_ai["output.messages"], markers)
        out["outputs"] = outputs[0] if isinstance(outputs, list) and len(outputs) == 1 else outputs
    elif "tool.call.result" in gen_ai:
        shell = out.pop("tool_message", None)
        result = gen_ai["tool.call.result"]
        if isinstance(shell, dict):  # a ToolMessage, its content in the conventions' field
            head = {k: shell[k] for k in ("role", "name") if k in shell}
            out["outputs"] = {**head, "content": result, **{k: v for k, v in shell.items() if k not in head}}
        else:
            out["outputs"] = result
    else:
        out["outputs"] = _decoded(out.get("outputs"))


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    """ECS's nested gen_ai object as OTel's dotted attribute names."""
    out: dict[str, Any] = {}
    if isinstance(value, dict) and not (prefix.endswith(("messages.", "arguments.", "result."))):
        for k, v in value.items():
            out.update(_flat(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: value}


def _common(out: dict[str, Any], gen_ai: dict[str, Any], run_type: str) -> None:
    out["model"] = gen_ai.get("response.model") or gen_ai.get("request.model")
    out["usage"] = _usage(gen_ai)
    if "provider" not in out and gen_ai.get("provider.name"):
        out["provider"] = gen_ai["provider.name"]
    reasons = gen_ai.get("response.finish_reasons")
    if "finish_reason" not in out and isinstance(reasons, list) and reasons:
        out["finish_reason"] = reasons[0]
    if gen_ai.get("conversation.id") is not None:
        out["thread_id"] = gen_ai["conversation.id"]
    _content(out, gen_ai, run_type)


def _ecs(e: dict[str, Any]) -> dict[str, Any]:
    lclog = e.get("lclog") or {}
    gen_ai = _flat(e.get("gen_ai") or {})
    duration = (e.get("event") or {}).get("duration")
    out = dict(lclog)
    for key in fields.LCLOG_JSON:
        if key in out:
            out[key] = _decoded(out[key])
    action = (e.get("event") or {}).get("action")
    out.update(
        timestamp=e.get("@timestamp"),
        level=e.get("log.level"),
        event=action,
        service=(e.get("service") or {}).get("name"),
        trace_id=(e.get("trace") or {}).get("id"),
        duration_ms=duration / 1e6 if isinstance(duration, (int, float)) else None,
        error=e.get("error"),
        tags=e.get("tags"),
    )
    _common(out, gen_ai, str(action).split(".", 1)[0])
    return out


def _otel(e: dict[str, Any]) -> dict[str, Any]:
    attrs = e.get("attributes") or {}
    out = {k[6:]: v for k, v in attrs.items() if k.startswith("lclog.")}
    for key in fields.LCLOG_JSON:
        if key in out:
            out[key] = _decoded(out[key])
    gen_ai = {k[7:]: v for k, v in attrs.items() if k.startswith("gen_ai.")}
    name = e.get("event_name") or attrs.get("event.name")
    out.update(
        timestamp=e.get("timestamp"),
        level=str(e.get("severity_text") or "info").lower(),
        event=name,
        service=(e.get("resource") or {}).get("service.name"),
        trace_id=e.get("trace_id"),
        error={"type": attrs["error.type"], "message": attrs.get("exception.message")}
        if "error.type" in attrs
        else None,
    )
    _common(out, gen_ai, str(name).split(".", 1)[0])
    return out


def normalize(event: Any) -> dict[str, Any] | None:
    """Returns an lclog event (any layout) as a default-layout dict, or None if it is not one."""
    if not isinstance(event, dict):
        return None
    if "run_id" in event and "event" in event and isinstance(event.get("event"), str):
        return event
    if "ecs.version" in event and isinstance(event.get("lclog"), dict):
        return _ecs(event)
    if isinstance(event.get("attributes"), dict) and (
        "event_name" in event or "event.name" in event["attributes"]
    ):
        return _otel(event)
    return None


def parse(line: bytes | str) -> dict[str, Any] | None:
    """Returns the normalized event on a line, or None for anything else."""
    stripped = line.strip()
    if not stripped or stripped[:1] not in (b"{", "{"):
        return None
    try:
        return normalize(orjson.loads(stripped))
    except orjson.JSONDecodeError:
        return None


def follow(stream: IO[bytes], *, poll_s: float = 0.25) -> Iterator[bytes]:
    """Yields lines of a file as it grows (tail -f), reopening it if it is rotated."""
    name = getattr(stream, "name", None)
    while True:
        line = stream.readline()
        if line:
            yield line
            continue
        time.sleep(poll_s)
        if isinstance(name, str) and os.path.exists(name):
            try:
                if os.stat(name).st_ino != os.fstat(stream.fileno()).st_ino:
                    stream = open(name, "rb")  # noqa: SIM115 - replaced the rotated one
            except OSError:
                pass


def open_inputs(paths: Iterable[str]) -> Iterator[tuple[str, IO[bytes]]]:
    """Yields (name, binary stream) for each path; `-` or no paths means stdin."""
    names = list(paths) or ["-"]
    for name in names:
        if name == "-":
            yield "<stdin>", sys.stdin.buffer
        else:
            with open(name, "rb") as f:
                yield name, f
