"""The settings models: every key lclog reads from a config, with its type, default and checks.

Plain data: the config as a whole, made of each component's own options (redact/options.py,
outputs/options.py, notify/options.py); `config.py` loads it from files and env vars.
"""

from __future__ import annotations

import re
from typing import Literal, get_args

from pydantic import Field, field_validator, model_validator

from lclog._imports import IMPORT_PATH
from lclog._options import Options
from lclog.notify.options import CallableTarget, LogTarget, NotifySettings, WebhookTarget
from lclog.outputs.options import OTLP_PACKAGES, OutputSettings
from lclog.redact.options import AllowSettings, PatternRule, RedactionSettings

__all__ = [
    "OTLP_PACKAGES",
    "AllowSettings",
    "CallableTarget",
    "LogTarget",
    "NotifySettings",
    "OutputSettings",
    "PatternRule",
    "PriceSettings",
    "RedactionSettings",
    "SamplingSettings",
    "Settings",
    "WebhookTarget",
]


class PriceSettings(Options):
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


Level = Literal["debug", "info", "warning", "error"]


class SamplingSettings(Options):
    """Whole-trace sampling by outcome: traces kept whole when they failed, paused, ran slow or
    cost much, the rest at `rate` (1: every trace, no waiting); see events/sampling.py."""

    rate: float = Field(1.0, ge=0, le=1)
    keep_failed: bool = True
    keep_interrupted: bool = True
    slower_than_ms: float | None = Field(None, gt=0)
    cost_over_usd: float | None = Field(None, ge=0)
    tokens_over: int | None = Field(None, ge=0)
    max_trace_bytes: int = Field(1 << 20, ge=1 << 10)
    max_bytes: int = Field(16 << 20, ge=1 << 16)

    @property
    def enabled(self) -> bool:
        return self.rate < 1


class Settings(Options):
    """Everything lclog reads from a config file; every key has a safe default."""

    service: str = "langchain"
    content: Literal["redacted", "none"] = "redacted"
    schema_: Literal["default", "ecs", "otel"] = Field("default", alias="schema")
    level: Level = "info"
    verbosity: Literal["minimal", "standard", "full"] = "standard"
    events: dict[str, Level | Literal["drop"]] = {}
    sample_rate: float = Field(1.0, ge=0, le=1)
    sampling: SamplingSettings = SamplingSettings()
    run_ttl_s: float = Field(3600.0, gt=0)
    max_field_chars: int = Field(4000, ge=64, le=10_000_000)
    max_depth: int = Field(8, ge=1, le=64)
    max_items: int = Field(100, ge=1, le=100_000)
    history: Literal["once", "full"] = "once"
    thread_keys: list[str] = Field(["thread_id", "session_id", "conversation_id"], min_length=1)
    user_keys: list[str] = ["user_id", "user"]
    tenant_keys: list[str] = ["tenant_id", "tenant", "org_id", "organization_id"]
    stream_tokens: bool = False
    run_context: bool | Literal["auto"] = "auto"
    app_context: bool = False
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
            if not re.fullmatch(IMPORT_PATH, item):
                raise ValueError(f"{item!r} is not an import path; write it as 'package.module:callable'")
        return value

    @model_validator(mode="after")
    def _sampling_writes_trace_end(self) -> Settings:
        levels = get_args(Level)  # lowest first
        trace_end = self.events.get("trace.end", "info")
        if self.sampling.enabled and (
            trace_end == "drop" or levels.index(trace_end) < levels.index(self.level)
        ):
            raise ValueError(
                "sampling.rate below 1 writes every trace's `trace.end` (the exact counts, cost and "
                f"latency of the traces it drops), which `level: {self.level}` and `events` leave out: "
                "give `trace.end` a level at or above `level`, or set sampling.rate to 1"
            )
        return self
