"""Field layouts: `default` (lclog's flat event), `ecs` (Elastic) and `otel` (OpenTelemetry),
and back (`normalize`: any layout as the default one)."""

from __future__ import annotations

from typing import Any

import orjson

from lclog.events import fields
from lclog.events.slots import ECS, ECS_VERSION, OTEL, lay_out, read_back, span_id, trace_hex
from lclog.pipeline import genai

__all__ = ["ECS_VERSION", "normalize", "schema_processor", "span_id", "to_ecs", "to_otel", "trace_hex"]

# Elasticsearch maps every new field; labels are capped so no event can add hundreds.
MAX_LABELS = 64
MAX_LABEL_CHARS = 1024
# lclog's own fields, kept under `lclog.*` in both layouts (a fixed set of fields, see fields.py):
# as they are, and structured content as JSON strings.
_LCLOG_FIELDS = frozenset(fields.LCLOG)
_LCLOG_JSON = frozenset(fields.LCLOG_JSON)


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


def _usage(fields: dict[str, Any], usage: Any) -> None:
    if isinstance(usage, dict):
        for key, name in genai.USAGE.items():
            if isinstance(usage.get(key), int):
                fields[f"usage.{name}"] = usage[key]


def _gen_ai(event: dict[str, Any], run_type: str, ecs: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the GenAI convention attributes, flat; what lclog keeps of them under `lclog.*`).

    Content goes where the conventions put it: model runs' messages in gen_ai.input/output.messages
    (history references stay lclog's, with their place), a tool's arguments and result, a
    retriever's query; a chain is no GenAI operation and its content stays lclog's.
    """
    fields: dict[str, Any] = {}
    kept: dict[str, Any] = {}
    operation = genai.OPERATIONS.get(run_type)
    if operation is not None:
        fields["operation.name"] = operation
    if event.get("thread_id") is not None:
        fields["conversation.id"] = event["thread_id"]
    if run_type in ("llm", "chat_model"):
        _model(event, ecs, fields, kept)
    elif run_type == "trace":  # trace.end: the request's token totals
        _usage(fields, event.get("usage"))
    elif run_type == "tool":
        _tool(event, ecs, fields, kept)
    else:
        inputs, outputs = event.get("inputs"), event.get("outputs")
        if run_type == "retriever" and isinstance(inputs, str):
            fields["retrieval.query.text"] = inputs
            inputs = None
        if inputs is not None:
            kept["inputs"] = _json(inputs)
        if outputs is not None:
            kept["outputs"] = _json(outputs)
    return fields, kept


def _model(event: dict[str, Any], ecs: bool, fields: dict[str, Any], kept: dict[str, Any]) -> None:
    """A model run's attributes: model, provider, usage, finish reason, messages."""
    phase = event.get("event", "").rsplit(".", 1)[-1]
    if event.get("model"):
        fields["request.model" if phase == "start" else "response.model"] = event["model"]
    provider = event.get("provider")
    if provider is not None:
        name = genai.provider_name(provider)
        if name is not None:
            fields["provider.name"] = name
        else:  # not one the conventions name
            kept["provider"] = provider
    _usage(fields, event.get("usage"))
    finish = event.get("finish_reason")
    if finish:
        if ecs:  # ECS types gen_ai.response.finish_reasons `nested`, OTel string[]: see docs/shipping.md
            kept["finish_reason"] = finish
        else:
            fields["response.finish_reasons"] = [finish]
    if not ecs and isinstance(event.get("ttft_ms"), (int, float)):
        fields["response.time_to_first_chunk"] = event["ttft_ms"] / 1000
    inputs, outputs = event.get("inputs"), event.get("outputs")
    if inputs is not None:
        fields["input.messages"], markers = genai.to_messages(inputs)
        if markers:
            kept["history"] = markers
    if outputs is not None:
        fields["output.messages"], markers = genai.to_output_messages(outputs, finish)
        if markers:
            kept["history"] = kept.get("history", []) + markers


def _tool(event: dict[str, Any], ecs: bool, fields: dict[str, Any], kept: dict[str, Any]) -> None:
    """A tool run's attributes: its name, arguments, call id and result."""
    fields["tool.name"] = event.get("name")
    inputs, outputs = event.get("inputs"), event.get("outputs")
    if inputs is not None:
        if isinstance(inputs, dict) or not ecs:  # ECS's field is `flattened`: an object
            fields["tool.call.arguments"] = inputs
        else:
            kept["inputs"] = _json(inputs)
    if outputs is None:
        return
    message = genai.is_message(outputs)  # a ToolMessage
    result = outputs.get("content") if message else outputs
    if message and outputs.get("tool_call_id"):
        fields["tool.call.id"] = outputs["tool_call_id"]
    if (isinstance(result, dict) or not ecs) and not genai.is_marker(outputs):
        fields["tool.call.result"] = result
        if message:  # the rest of the message (its name in the conversation's history)
            kept["tool_message"] = {k: v for k, v in outputs.items() if k != "content"}
    else:
        kept["outputs"] = _json(outputs)


# An event's field names -> those of them kept under `lclog.*`, and whether each is JSON: events
# of one kind have the same fields, so each shape is sorted out once.
_SHAPES: dict[tuple[str, ...], tuple[tuple[str, bool], ...]] = {}


def _lclog_fields(event: dict[str, Any]) -> dict[str, Any]:
    """The event's fields of lclog's own that are set, in its order: structured content as JSON."""
    shape = tuple(event)
    kept = _SHAPES.get(shape)
    if kept is None:
        kept = tuple((k, k in _LCLOG_JSON) for k in shape if k in _LCLOG_FIELDS or k in _LCLOG_JSON)
        if len(_SHAPES) < 1024:  # shapes a processor makes on the fly are not remembered without bound
            _SHAPES[shape] = kept
    out: dict[str, Any] = {}
    for key, as_json in kept:
        value = event[key]
        if value is not None:
            out[key] = _json(value) if as_json else value
    return out


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
    out = lay_out(ECS, event)
    flat, kept = _gen_ai(event, str(event.get("event", "")).split(".", 1)[0], ecs=True)
    if flat:
        out["gen_ai"] = _nest(flat)
    if event.get("tags"):
        out["tags"] = [str(t) for t in event["tags"]]
    labels = _labels(event.get("metadata"))
    if labels:
        out["labels"] = labels
    lclog = _lclog_fields(event)
    if "history" in kept:  # a list of objects: kept out of mappings, as lclog's other structures
        kept["history"] = _json(kept["history"])
    lclog.update(kept)
    out["lclog"] = lclog
    return out


def to_otel(event: dict[str, Any]) -> dict[str, Any]:
    """Returns event as an OpenTelemetry log record with GenAI semantic-convention attributes."""
    out = lay_out(OTEL, event)
    flat, kept = _gen_ai(event, str(event.get("event", "")).split(".", 1)[0], ecs=False)
    attributes: dict[str, Any] = {f"gen_ai.{k}": v for k, v in flat.items()}
    for key, value in kept.items():
        attributes[f"lclog.{key}"] = value
    for key, value in _lclog_fields(event).items():
        attributes[f"lclog.{key}"] = value
    if event.get("duration_ms") is not None:
        attributes["lclog.duration_ms"] = event["duration_ms"]
    error = event.get("error")
    if isinstance(error, dict):
        attributes["error.type"] = error.get("type")
        attributes["exception.type"] = error.get("type")
        attributes["exception.message"] = error.get("message")
        if error.get("stack_trace"):
            attributes["exception.stacktrace"] = error["stack_trace"]
    if event.get("tags"):
        attributes["lclog.tags"] = [str(t) for t in event["tags"]]
    for key, value in _labels(event.get("metadata")).items():
        attributes[f"lclog.metadata.{key}"] = value
    out["attributes"] = attributes
    return out


def schema_processor(schema: str) -> Any:
    """Returns the structlog processor for a layout, or None for `default`."""
    if schema == "default":
        return None
    layout = to_ecs if schema == "ecs" else to_otel

    def processor(logger: Any, method_name: str, event: dict[str, Any]) -> dict[str, Any]:
        return layout(event)

    processor.__qualname__ = f"schema_{schema}"
    return processor


# -- back: any layout as the default one ----------------------------------------------------


def _decoded(value: Any) -> Any:
    """Content a layout wrote as a JSON string, as the data it was."""
    if isinstance(value, str):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def _usage_from(gen_ai: dict[str, Any]) -> dict[str, Any] | None:
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
    out["usage"] = _usage_from(gen_ai)
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
    out = dict(lclog)
    for key in fields.LCLOG_JSON:
        if key in out:
            out[key] = _decoded(out[key])
    read_back(ECS, e, out)
    out["tags"] = e.get("tags")
    _common(out, gen_ai, str(out.get("event")).split(".", 1)[0])
    return out


def _otel(e: dict[str, Any]) -> dict[str, Any]:
    attrs = e.get("attributes") or {}
    out = {k[6:]: v for k, v in attrs.items() if k.startswith("lclog.")}
    for key in fields.LCLOG_JSON:
        if key in out:
            out[key] = _decoded(out[key])
    gen_ai = {k[7:]: v for k, v in attrs.items() if k.startswith("gen_ai.")}
    read_back(OTEL, e, out)
    out["event"] = out.get("event") or attrs.get("event.name")  # the attribute older records used
    has_error = "error.type" in attrs
    out["error"] = (
        {"type": attrs["error.type"], "message": attrs.get("exception.message")} if has_error else None
    )
    _common(out, gen_ai, str(out.get("event")).split(".", 1)[0])
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
