"""Field layouts: `default` (lclog's flat event), `ecs` (Elastic) and `otel` (OpenTelemetry)."""

from __future__ import annotations

from typing import Any

import orjson

from lclog.events import fields

__all__ = ["ECS_VERSION", "schema_processor", "span_id", "to_ecs", "to_otel", "trace_hex"]

# ECS version the `ecs` layout follows (ecs-logging spec: `ecs.version` is required).
ECS_VERSION = "8.11.0"
# Elasticsearch maps every new field; labels are capped so no event can add hundreds.
MAX_LABELS = 64
MAX_LABEL_CHARS = 1024
# lclog's own fields, kept under `lclog.*` in both layouts (a fixed set of fields, see fields.py):
# as they are, and structured content as JSON strings.
_LCLOG_FIELDS = fields.LCLOG
_LCLOG_JSON = fields.LCLOG_JSON
_ECS_OUTCOME = {"ok": "success", "error": "failure"}
_OTEL_OPERATION = {"chat_model": "chat", "llm": "text_completion", "tool": "execute_tool",
                   "retriever": "retrieval", "chain": "invoke_chain"}  # fmt: skip
_SEVERITY = {"debug": 5, "info": 9, "warning": 13, "error": 17}


def trace_hex(value: str | None) -> str | None:
    """A run or trace UUID as 32 lowercase hex digits (W3C trace id width)."""
    return value.replace("-", "") if value else None


def span_id(run_id: str | None) -> str | None:
    """A run's span id: the random last 16 hex digits of its UUID (W3C span id width)."""
    return run_id.replace("-", "")[-16:] if run_id else None


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS, default=str).decode()


def _label_key(key: str) -> str:
    for bad in ".*\\ ":
        key = key.replace(bad, "_")
    return key[:128] or "_"


def _labels(metadata: Any) -> dict[str, str]:
    """Metadata as flat string labels: keys without `.`, `*`, `\\`, values strings, capped."""
    if not isinstance(metadata, dict):
        return {}
    labels: dict[str, str] = {}
    for i, (key, value) in enumerate(metadata.items()):
        if i >= MAX_LABELS:
            labels["lclog_labels_dropped"] = str(len(metadata) - MAX_LABELS)
            break
        text = value if isinstance(value, str) else _json(value)
        labels[_label_key(str(key))] = text[:MAX_LABEL_CHARS]
    return labels


def _gen_ai(event: dict[str, Any], run_type: str) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if run_type in ("llm", "chat_model"):
        phase = event.get("event", "").rsplit(".", 1)[-1]
        if event.get("model"):
            fields["request.model" if phase == "start" else "response.model"] = event["model"]
        if event.get("provider"):
            fields["provider.name"] = event["provider"]
        usage = event.get("usage")
        if isinstance(usage, dict):
            for key in ("input_tokens", "output_tokens"):
                if isinstance(usage.get(key), int):
                    fields[f"usage.{key}"] = usage[key]
        if event.get("finish_reason"):
            fields["response.finish_reasons"] = [event["finish_reason"]]
    elif run_type == "tool":
        fields["tool.name"] = event.get("name")
    if run_type in _OTEL_OPERATION:
        fields["operation.name"] = _OTEL_OPERATION[run_type]
    return fields


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    """{"a.b": 1} -> {"a": {"b": 1}}."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        node = out
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


def to_ecs(event: dict[str, Any]) -> dict[str, Any]:
    """Returns event laid out as ECS: `@timestamp`, `log.level`, `message` first, then nested fields."""
    name = str(event.get("event", ""))
    run_type = name.split(".", 1)[0]
    timestamp = str(event.get("timestamp") or "")
    out: dict[str, Any] = {
        "@timestamp": timestamp[:23] + "Z" if len(timestamp) >= 23 else timestamp,
        "log.level": event.get("level", "info"),
        "message": f"{name} {event.get('name') or ''}".strip(),
        "ecs.version": ECS_VERSION,
        "service": {"name": event.get("service")},
    }
    ecs_event: dict[str, Any] = {"action": name, "kind": "event", "dataset": "lclog.langchain"}
    if event.get("duration_ms") is not None:
        ecs_event["duration"] = int(event["duration_ms"] * 1_000_000)
    if event.get("outcome"):
        ecs_event["outcome"] = _ECS_OUTCOME.get(event["outcome"], "unknown")
    out["event"] = ecs_event
    otel = event.get("otel")
    out["trace"] = {"id": (otel or {}).get("trace_id") or trace_hex(event.get("trace_id"))}
    out["span"] = {"id": (otel or {}).get("span_id") or span_id(event.get("run_id"))}
    if event.get("parent_run_id"):
        out["parent"] = {"id": span_id(event["parent_run_id"])}
    error = event.get("error")
    if isinstance(error, dict):
        out["error"] = {k: v for k, v in error.items() if k in ("type", "message", "stack_trace")}
    gen_ai = _nest(_gen_ai(event, run_type))
    if event.get("inputs") is not None:
        gen_ai.setdefault("input", {})["messages"] = _json(event["inputs"])
    if event.get("outputs") is not None:
        gen_ai.setdefault("output", {})["messages"] = _json(event["outputs"])
    if gen_ai:
        out["gen_ai"] = gen_ai
    if event.get("tags"):
        out["tags"] = [str(t) for t in event["tags"]]
    labels = _labels(event.get("metadata"))
    if labels:
        out["labels"] = labels
    lclog = {k: event[k] for k in _LCLOG_FIELDS if event.get(k) is not None}
    for key in _LCLOG_JSON:
        if event.get(key) is not None:
            lclog[key] = _json(event[key])
    out["lclog"] = lclog
    return out


def to_otel(event: dict[str, Any]) -> dict[str, Any]:
    """Returns event as an OpenTelemetry log record with GenAI semantic-convention attributes."""
    name = str(event.get("event", ""))
    run_type = name.split(".", 1)[0]
    level = event.get("level", "info")
    otel = event.get("otel") or {}
    attributes: dict[str, Any] = {"event.name": name}
    attributes.update({f"gen_ai.{k}": v for k, v in _gen_ai(event, run_type).items()})
    for key in _LCLOG_FIELDS:
        if event.get(key) is not None:
            attributes[f"lclog.{key}"] = event[key]
    if event.get("duration_ms") is not None:
        attributes["lclog.duration_ms"] = event["duration_ms"]
    error = event.get("error")
    if isinstance(error, dict):
        attributes["error.type"] = error.get("type")
        attributes["exception.message"] = error.get("message")
        if error.get("stack_trace"):
            attributes["exception.stacktrace"] = error["stack_trace"]
    if event.get("inputs") is not None:
        attributes["gen_ai.input.messages"] = _json(event["inputs"])
    if event.get("outputs") is not None:
        attributes["gen_ai.output.messages"] = _json(event["outputs"])
    for key in _LCLOG_JSON:
        if event.get(key) is not None:
            attributes[f"lclog.{key}"] = _json(event[key])
    if event.get("tags"):
        attributes["lclog.tags"] = [str(t) for t in event["tags"]]
    for key, value in _labels(event.get("metadata")).items():
        attributes[f"lclog.metadata.{key}"] = value
    return {
        "timestamp": event.get("timestamp"),
        "severity_text": level.upper(),
        "severity_number": _SEVERITY.get(level, 9),
        "body": f"{name} {event.get('name') or ''}".strip(),
        "trace_id": otel.get("trace_id") or trace_hex(event.get("trace_id")),
        "span_id": otel.get("span_id") or span_id(event.get("run_id")),
        "resource": {"service.name": event.get("service")},
        "attributes": attributes,
    }


def schema_processor(schema: str) -> Any:
    """Returns the structlog processor for a layout, or None for `default`."""
    if schema == "default":
        return None
    layout = to_ecs if schema == "ecs" else to_otel

    def processor(logger: Any, method_name: str, event: dict[str, Any]) -> dict[str, Any]:
        return layout(event)

    processor.__qualname__ = f"schema_{schema}"
    return processor
