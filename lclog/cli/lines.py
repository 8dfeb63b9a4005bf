"""Reading lclog's JSON lines back, in any layout (default, ecs, otel), as default-layout dicts."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import IO, Any

import orjson

from lclog.events import fields

__all__ = ["follow", "normalize", "parse"]


def _decoded(value: Any) -> Any:
    """Content a layout wrote as a JSON string, as the data it was."""
    if isinstance(value, str):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def _ecs(e: dict[str, Any]) -> dict[str, Any]:
    lclog = e.get("lclog") or {}
    gen_ai = e.get("gen_ai") or {}
    usage = gen_ai.get("usage")
    duration = (e.get("event") or {}).get("duration")
    out = dict(lclog)
    for key in fields.LCLOG_JSON:
        if key in out:
            out[key] = _decoded(out[key])
    out.update(
        timestamp=e.get("@timestamp"),
        level=e.get("log.level"),
        event=(e.get("event") or {}).get("action"),
        service=(e.get("service") or {}).get("name"),
        trace_id=(e.get("trace") or {}).get("id"),
        duration_ms=duration / 1e6 if isinstance(duration, (int, float)) else None,
        model=(gen_ai.get("response") or {}).get("model") or (gen_ai.get("request") or {}).get("model"),
        usage=usage,
        error=e.get("error"),
        inputs=_decoded((gen_ai.get("input") or {}).get("messages")),
        outputs=_decoded((gen_ai.get("output") or {}).get("messages")),
        tags=e.get("tags"),
    )
    return out


def _otel(e: dict[str, Any]) -> dict[str, Any]:
    attrs = e.get("attributes") or {}
    out = {k[6:]: v for k, v in attrs.items() if k.startswith("lclog.")}
    for key in fields.LCLOG_JSON:
        if key in out:
            out[key] = _decoded(out[key])
    usage = {
        k: attrs[f"gen_ai.usage.{k}"]
        for k in ("input_tokens", "output_tokens")
        if f"gen_ai.usage.{k}" in attrs
    }
    out.update(
        timestamp=e.get("timestamp"),
        level=str(e.get("severity_text") or "info").lower(),
        event=attrs.get("event.name"),
        service=(e.get("resource") or {}).get("service.name"),
        trace_id=e.get("trace_id"),
        model=attrs.get("gen_ai.response.model") or attrs.get("gen_ai.request.model"),
        usage=usage or None,
        error={"type": attrs["error.type"], "message": attrs.get("exception.message")}
        if "error.type" in attrs
        else None,
        inputs=_decoded(attrs.get("gen_ai.input.messages")),
        outputs=_decoded(attrs.get("gen_ai.output.messages")),
    )
    return out


def normalize(event: Any) -> dict[str, Any] | None:
    """Returns an lclog event (any layout) as a default-layout dict, or None if it is not one."""
    if not isinstance(event, dict):
        return None
    if "run_id" in event and "event" in event and isinstance(event.get("event"), str):
        return event
    if "ecs.version" in event and isinstance(event.get("lclog"), dict):
        return _ecs(event)
    if isinstance(event.get("attributes"), dict) and "event.name" in event["attributes"]:
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
