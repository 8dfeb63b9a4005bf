"""An output's options, as a config's `outputs` entry gives them."""

from __future__ import annotations

import importlib.util
import re
from typing import Literal

from pydantic import Field, model_validator

from lclog._options import Options
from lclog.events import fields

__all__ = ["OTLP_PACKAGES", "OutputSettings"]

# Event fields whose value changes per event: as Loki stream labels they would create a stream
# per run (Loki's cardinality limits); they belong in the line, queried with `| json`.
# Event fields a Loki stream label may not be named after: the label would take it out of lines.
_PER_EVENT_FIELDS = fields.PER_EVENT | {"span_id"}
_OUTPUT_KEYS = {
    "stdout": {"format"},
    "stderr": {"format"},
    "file": {"path"},
    "stdlib": {"logger", "formatter", "stream"},
    "structlog": {"logger"},
    "loki": {"url", "labels", "tenant", "headers", "batch_bytes", "flush_interval_s", "timeout_s",
             "retries", "max_buffer_bytes"},
    "otlp": {"endpoint", "protocol", "headers", "compression", "batch_bytes", "flush_interval_s",
             "timeout_s", "max_buffer_bytes"},
}  # fmt: skip
# An otlp output's protocol -> (the modules it needs, what installs them)
OTLP_PACKAGES = {
    "http/protobuf": (
        ("opentelemetry.proto",),
        'pip install opentelemetry-proto (or, in lclog\'s checkout, pip install ".[otlp]")',
    ),
    "grpc": (
        ("opentelemetry.proto", "grpc"),
        'pip install opentelemetry-proto grpcio (or, in lclog\'s checkout, pip install ".[otlp-grpc]")',
    ),
}


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


class OutputSettings(Options):
    """One destination for events; which keys apply depends on `type`."""

    type: Literal["stdout", "stderr", "file", "stdlib", "structlog", "loki", "otlp"] = "stdout"
    # stdout, stderr
    format: Literal["json", "pretty"] = "json"
    # file
    path: str | None = None
    # stdlib: a logger of the service's logging tree; structlog: the name given to get_logger
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
            modules, install = OTLP_PACKAGES[self.protocol]
            if not all(_installed(module) for module in modules):
                raise ValueError(
                    f"an otlp output ({self.protocol}) needs OpenTelemetry's protobuf definitions: {install}"
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
