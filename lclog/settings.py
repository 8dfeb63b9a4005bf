"""The settings models: every key lclog reads from a config, with its type, default and checks.

Plain data, importing nothing of lclog's machinery; `config.py` loads them from files and env vars.
"""

from __future__ import annotations

import importlib.util
import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lclog.events import fields

__all__ = [
    "AllowSettings",
    "CallableTarget",
    "LogTarget",
    "NotifySettings",
    "OutputSettings",
    "PatternRule",
    "PriceSettings",
    "RedactionSettings",
    "Settings",
    "WebhookTarget",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# Event fields whose value changes per event: as Loki stream labels they would create a stream
# per run (Loki's cardinality limits); they belong in the line, queried with `| json`.
# Event fields a Loki stream label may not be named after: the label would take it out of lines.
_PER_EVENT_FIELDS = fields.PER_EVENT | {"span_id"}
_OUTPUT_KEYS = {
    "stdout": {"format"},
    "stderr": {"format"},
    "file": {"path"},
    "stdlib": {"logger", "formatter", "stream"},
    "loki": {"url", "labels", "tenant", "headers", "batch_bytes", "flush_interval_s", "timeout_s",
             "retries", "max_buffer_bytes"},
    "otlp": {"endpoint", "protocol", "headers", "compression", "batch_bytes", "flush_interval_s",
             "timeout_s", "max_buffer_bytes"},
}  # fmt: skip
# An otlp output's protocol -> (the OpenTelemetry exporter's module, what installs it)
OTLP_EXPORTERS = {
    "http/protobuf": ("opentelemetry.exporter.otlp.proto.http._log_exporter", 'pip install "lclog[otlp]"'),
    "grpc": ("opentelemetry.exporter.otlp.proto.grpc._log_exporter", 'pip install "lclog[otlp-grpc]"'),
}


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


class OutputSettings(_Model):
    """One destination for events; which keys apply depends on `type`."""

    type: Literal["stdout", "stderr", "file", "stdlib", "loki", "otlp"] = "stdout"
    # stdout, stderr
    format: Literal["json", "pretty"] = "json"
    # file
    path: str | None = None
    # stdlib: a logger of the service's logging tree
    logger: str = "lclog"
    formatter: Literal["none", "json"] = "none"
    stream: Literal["stdout", "stderr"] = "stdout"
    # loki: direct push to /loki/api/v1/push
    url: str | None = Field(None, pattern=r"^https?://")
    labels: dict[str, str] = {}
    tenant: str | None = None
    headers: dict[str, str] = {}
    batch_bytes: int = Field(1 << 20, ge=1024, le=64 << 20)
    flush_interval_s: float = Field(1.0, gt=0, le=300)
    timeout_s: float = Field(5.0, gt=0, le=120)
    retries: int = Field(3, ge=0, le=10)
    max_buffer_bytes: int = Field(8 << 20, ge=1024)
    # otlp: OpenTelemetry log records to a collector (unset keys: the OTEL_EXPORTER_OTLP_* env vars)
    endpoint: str | None = Field(None, pattern=r"^https?://")
    protocol: Literal["http/protobuf", "grpc"] = "http/protobuf"
    compression: Literal["gzip", "none"] | None = None

    @model_validator(mode="after")
    def _keys_fit_the_type(self) -> OutputSettings:
        extra = (self.model_fields_set - {"type"}) - _OUTPUT_KEYS[self.type]
        if extra:
            raise ValueError(
                f"{', '.join(sorted(extra))} does not apply to a {self.type} output "
                f"(its keys: {', '.join(sorted(_OUTPUT_KEYS[self.type]))})"
            )
        if self.type == "file" and not self.path:
            raise ValueError("a file output needs a path, e.g. `path: logs/lclog.jsonl`")
        if self.type == "loki":
            if not self.url:
                raise ValueError("a loki output needs `url: http://loki:3100/loki/api/v1/push`")
            self._check_labels()
        if self.type == "otlp":
            module, install = OTLP_EXPORTERS[self.protocol]
            if not _installed(module):
                raise ValueError(
                    f"an otlp output ({self.protocol}) needs the OpenTelemetry exporter: {install}"
                )
        return self

    def _check_labels(self) -> None:
        if len(self.labels) > 15:
            raise ValueError(f"labels: {len(self.labels)} labels; Loki allows at most 15 per stream")
        for name in self.labels:
            if not re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]*", name):
                raise ValueError(f"labels: {name!r} is not a Loki label name ([a-zA-Z_][a-zA-Z0-9_]*)")
            if name in _PER_EVENT_FIELDS:
                raise ValueError(
                    f"labels: {name!r} changes with every event and would make one Loki stream per "
                    f"value; keep it in the log line and query it with `| json | {name}=...`"
                )


class PatternRule(_Model):
    """A user-defined value pattern."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")
    regex: str
    mode: Literal["mask", "hash", "partial", "drop"] | None = None


class AllowSettings(_Model):
    values: list[str] = []
    patterns: list[str] = []


class RedactionSettings(_Model):
    """Redaction rules; on by default."""

    enabled: bool = True
    mode: Literal["mask", "hash", "partial", "drop"] = "mask"
    hash_key: str | None = None
    hash_key_env: str = "LCLOG_HASH_KEY"
    keys: list[str] = []
    remove_keys: list[str] = []
    disable: list[str] = []
    modes: dict[str, Literal["mask", "hash", "partial", "drop"]] = {}
    patterns: list[PatternRule] = []
    allow: AllowSettings = AllowSettings()
    fields: dict[str, Literal["mask", "hash", "partial", "drop", "keep"]] = {}
    # Characters of new text (not redacted before) one content value (a hook's inputs, outputs,
    # a tool's input ...) may redact; a string past it is written as `[REDACTED:over_budget]`
    # and counted in `handler.stats.redaction_over_budget`.
    max_chars_per_value: int = Field(500_000, ge=10_000)

    def hashes(self) -> bool:
        """True when some value is replaced by a keyed hash (`mode: hash` anywhere)."""
        return self.enabled and (
            self.mode == "hash"
            or "hash" in self.modes.values()
            or "hash" in self.fields.values()
            or any(p.mode == "hash" for p in self.patterns)
        )


_IMPORT_PATH = r"[\w.]+:[\w.]+"


class WebhookTarget(_Model):
    """POST each notification as JSON."""

    type: Literal["webhook"]
    url: str = Field(pattern=r"^https?://")
    format: Literal["generic", "slack"] = "generic"
    headers: dict[str, str] = {}
    # Every attempt and pause of one notification fits in the default flush_timeout_s (5 s):
    # 3 attempts of 1 s and pauses of 0.25 s and 0.5 s.
    timeout_s: float = Field(1.0, gt=0, le=120)
    retries: int = Field(2, ge=0, le=10)
    backoff_s: float = Field(0.25, ge=0, le=60)


class LogTarget(_Model):
    """Log each notification on a stdlib logger at ERROR."""

    type: Literal["log"]
    logger: str = "lclog.notify"


class CallableTarget(_Model):
    """Call "module:function" with each notification dict."""

    type: Literal["callable"]
    target: str = Field(pattern=_IMPORT_PATH)


NotifyTarget = Annotated[WebhookTarget | LogTarget | CallableTarget, Field(discriminator="type")]


class NotifySettings(_Model):
    """Error notifications: off until a target is configured."""

    targets: list[NotifyTarget] = []
    on: list[Literal["llm", "chat_model", "tool", "retriever", "chain", "root"]] = [
        "llm",
        "chat_model",
        "tool",
        "retriever",
        "root",
    ]
    recovered: bool = False
    slow_ms: float | None = Field(None, gt=0)
    min_interval_s: float = Field(60.0, ge=0)
    queue_size: int = Field(1000, ge=1)


class PriceSettings(_Model):
    """A model's prices in USD per million tokens (yours win over genai-prices' database), or
    `same_as: <model>` to price it like a model the database knows (an Azure deployment name)."""

    input: float | None = Field(None, ge=0)
    output: float | None = Field(None, ge=0)
    cache_read: float | None = Field(None, ge=0)  # default: the input price
    cache_write: float | None = Field(None, ge=0)  # default: the input price
    same_as: str | None = None

    @model_validator(mode="after")
    def _complete(self) -> PriceSettings:
        if self.same_as is None and (self.input is None or self.output is None):
            raise ValueError(
                "a price needs `input` and `output` (USD per million tokens), e.g. {input: 2.5, output: 10}, "
                "or `same_as: <a model genai-prices knows>`"
            )
        if self.same_as is not None and (self.input is not None or self.output is not None):
            raise ValueError("`same_as` prices the model like another: leave input and output out")
        return self


class Settings(_Model):
    """Everything lclog reads from a config file; every key has a safe default."""

    service: str = "langchain"
    content: Literal["redacted", "none"] = "redacted"
    schema_: Literal["default", "ecs", "otel"] = Field("default", alias="schema")
    level: Literal["debug", "info", "warning", "error"] = "info"
    verbosity: Literal["minimal", "standard", "full"] = "full"
    events: dict[str, Literal["debug", "info", "warning", "error", "drop"]] = {}
    sample_rate: float = Field(1.0, ge=0, le=1)
    run_ttl_s: float = Field(3600.0, gt=0)
    max_field_chars: int = Field(4000, ge=64, le=10_000_000)
    max_depth: int = Field(8, ge=1, le=64)
    max_items: int = Field(100, ge=1, le=100_000)
    history: Literal["once", "full"] = "once"
    thread_keys: list[str] = Field(["thread_id", "session_id", "conversation_id"], min_length=1)
    stream_tokens: bool = False
    include_stacktrace: bool = False
    max_open_runs: int = Field(10_000, ge=16)
    queue_size: int = Field(100_000, ge=1)
    max_queue_bytes: int = Field(16 << 20, ge=1 << 20)
    flush_interval_s: float = Field(0.2, gt=0, le=60)
    flush_timeout_s: float = Field(5.0, ge=0, le=300)
    flush_on_sigterm: bool = True
    outputs: list[OutputSettings] = [OutputSettings()]
    processors: list[str] = []
    redaction: RedactionSettings = RedactionSettings()
    notify: NotifySettings = NotifySettings()
    prices: dict[str, PriceSettings] = {}

    @field_validator("processors")
    @classmethod
    def _import_paths(cls, value: list[str]) -> list[str]:
        for item in value:
            if not re.fullmatch(_IMPORT_PATH, item):
                raise ValueError(f"{item!r} is not an import path; write it as 'package.module:callable'")
        return value
