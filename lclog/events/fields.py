"""Every field lclog writes in an event, declared once with its role.

Redaction, the fallback event, the `ecs` and `otel` layouts, Loki's line trimming and the config's
label check all derive their field lists from `FIELDS`; `tests/events/test_fields.py` fails when an
event carries a field that is not declared here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "BULKY",
    "CONTENT",
    "FIELDS",
    "LABELS",
    "LCLOG",
    "LCLOG_JSON",
    "MINIMAL",
    "PER_EVENT",
    "TRUSTED",
    "Field",
]

# What a field's value is, which decides how redaction treats it:
#   trusted - ids, numbers, clocks, fixed words and settings lclog fills in itself: never redacted
#   label   - names, labels and error text from the caller's code or LangChain: redacted by
#             `EventBuilder` as it puts them in the event
#   content - prompts, outputs, arguments, metadata: serialized by `EventBuilder.content_of` in
#             the hook, and redacted as they are serialized
# When redaction fuses with serialization (no per-field rules), that is the only time anything is
# redacted: the pipeline's redaction pass runs only without fusing, over every field not trusted.
Kind = Literal["trusted", "label", "content"]
# How the `ecs` and `otel` layouts carry it:
#   core       - mapped by each layout to its own fields (`@timestamp`, `gen_ai.*`, `error.*` ...)
#   lclog      - as it is, under `lclog.<name>`
#   lclog_json - as a JSON string under `lclog.<name>` (structured content, kept out of mappings)
Layout = Literal["core", "lclog", "lclog_json"]


@dataclass(frozen=True, slots=True)
class Field:
    """One event field: its name, what its value is, and how layouts carry it."""

    name: str
    kind: Kind
    layout: Layout
    description: str
    per_event: bool = True  # changes from event to event (never a Loki stream label)
    minimal: bool = False  # kept in the event when redaction itself fails
    bulky: int = 0  # > 0: dropped from an over-long Loki line, lowest first


FIELDS: tuple[Field, ...] = (
    # -- every event
    Field("timestamp", "trusted", "core", "when the event happened (ISO 8601, UTC)", minimal=True),
    Field("level", "trusted", "core", "debug, info, warning or error", minimal=True),
    Field(
        "event", "trusted", "core", "the event: `<run type>.<phase>` or a point event's name", minimal=True
    ),
    Field("service", "trusted", "core", "the `service` setting", per_event=False, minimal=True),
    Field("run_id", "trusted", "lclog", "the run's id", minimal=True),
    Field("parent_run_id", "trusted", "lclog", "the parent run's id", minimal=True),
    Field("trace_id", "trusted", "core", "the root run's id: one per trace", minimal=True),
    Field("depth", "trusted", "lclog", "0 for a root run, 1 for its children ...", minimal=True),
    Field("name", "label", "lclog", "the run's name"),
    Field("otel", "trusted", "core", "the active OpenTelemetry span's trace and span ids"),
    Field("user_id", "label", "lclog", "who the request is for: a `user_keys` key of its metadata"),
    Field("tenant_id", "label", "lclog", "whose account: a `tenant_keys` key of its metadata"),
    Field("node", "label", "lclog", "the LangGraph node the run belongs to"),
    Field("step", "label", "lclog", "the LangGraph step the run belongs to"),
    Field(
        "thread_id",
        "label",
        "lclog",
        "the conversation: LangGraph thread_id, or session_id / conversation_id",
    ),
    Field(
        "history_writer",
        "trusted",
        "lclog",
        "names the numbering (`seq`) of the conversation's messages this event writes and refers to",
    ),
    Field(
        "history_messages",
        "trusted",
        "lclog",
        "earlier messages of the conversation the event's references stand for",
    ),
    # -- starts
    Field("tags", "label", "core", "the run's tags"),
    Field(
        "context",
        "content",
        "lclog_json",
        "with `app_context`: the app's structlog context at the request's start",
    ),
    Field("metadata", "content", "core", "the caller's metadata (LangChain's own hints left out)", bulky=4),
    Field("inputs", "content", "core", "the run's inputs: prompts, messages, arguments", bulky=1),
    Field("run_type", "trusted", "lclog", "LangChain's run_type of a chain run (e.g. `parser`)"),
    Field("model", "label", "core", "the model requested, then the model that answered"),
    Field("provider", "label", "core", "the model's provider (`ls_provider`)"),
    Field("params", "content", "lclog_json", "invocation parameters: temperature, max_tokens, tools"),
    # -- ends and errors
    Field("outputs", "content", "core", "the run's outputs", bulky=2),
    Field("outcome", "trusted", "lclog", "ok, error, interrupted or cancelled", minimal=True),
    Field("reason", "trusted", "lclog", "the interrupt or cancellation behind the outcome"),
    Field("duration_ms", "trusted", "core", "the run's duration", minimal=True),
    Field("ttft_ms", "trusted", "lclog", "time to the first streamed token"),
    Field("chunks", "trusted", "lclog", "streamed chunks"),
    Field("usage", "trusted", "core", "token usage as the model reported it; null when unknown"),
    Field("usage_source", "trusted", "lclog", "where usage came from: usage_metadata or llm_output"),
    Field("finish_reason", "label", "core", "why the model stopped"),
    Field(
        "cost", "trusted", "lclog", "what a model call cost in USD: input, output, total, currency, source"
    ),
    Field(
        "counted_below",
        "trusted",
        "lclog",
        "a model run whose model calls are its own runs: their usage and cost, counted once there",
    ),
    Field("documents", "trusted", "lclog", "documents a retriever returned"),
    Field("error", "label", "core", "type, message and (optionally) stack trace", bulky=7),
    Field("late", "trusted", "lclog", "true: the run ended after its `*.orphaned` event"),
    # -- trace.end
    Field("runs", "trusted", "lclog", "trace.end: the trace's runs by type (chat_model, tool, chain ...)"),
    Field("errors", "label", "lclog", "trace.end: how many runs failed, the first one's error type and run"),
    Field("slowest_llm", "label", "lclog", "trace.end: the slowest model call (run, name, model, duration)"),
    Field(
        "sampled", "trusted", "lclog", "trace.end, with `sampling`: kept or not, because of what, the rate"
    ),
    # -- events inside a run
    Field("age_ms", "trusted", "lclog", "how long an orphaned run had been open"),
    Field("index", "trusted", "lclog", "a streamed token's position"),
    Field("token", "content", "lclog_json", "a streamed token (stream_tokens)"),
    Field("tool", "label", "lclog", "the tool an agent chose"),
    Field("tool_input", "content", "lclog_json", "the input an agent gave the tool"),
    Field("log", "content", "lclog_json", "an agent's reasoning log"),
    Field("attempt", "trusted", "lclog", "a retry's attempt number"),
    Field("wait_s", "trusted", "lclog", "the wait before the next attempt"),
    Field("custom_event", "label", "lclog", "a custom event's name"),
    Field("data", "content", "lclog_json", "a custom event's data", bulky=3),
    Field("status", "label", "lclog", "a LangGraph interrupt's or resume's status"),
    Field("checkpoint_id", "label", "lclog", "the checkpoint a graph paused at or resumed from"),
    Field("checkpoint_ns", "label", "lclog", "the checkpoint's namespace"),
    Field("interrupts", "content", "lclog_json", "the values a graph was interrupted with"),
    Field("text", "content", "lclog_json", "`on_text` output"),
    # -- lclog's own trouble
    Field("lclog_error", "trusted", "lclog", "redaction failed: the content was withheld"),
    Field("lclog_processor_error", "label", "lclog", "the processor that raised on this event"),
)

BY_NAME = {f.name: f for f in FIELDS}
TRUSTED = frozenset(f.name for f in FIELDS if f.kind == "trusted")
LABELS = frozenset(f.name for f in FIELDS if f.kind == "label")
CONTENT = frozenset(f.name for f in FIELDS if f.kind == "content")
PER_EVENT = frozenset(f.name for f in FIELDS if f.per_event)
MINIMAL = tuple(f.name for f in FIELDS if f.minimal)
LCLOG = tuple(f.name for f in FIELDS if f.layout == "lclog")
LCLOG_JSON = tuple(f.name for f in FIELDS if f.layout == "lclog_json")
BULKY = tuple(f.name for f in sorted(FIELDS, key=lambda f: f.bulky) if f.bulky)
