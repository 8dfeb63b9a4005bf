"""Settings: the validated model, loading from YAML/TOML files and env vars, ConfigError."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from lclog._imports import import_callable
from lclog.errors import ConfigError
from lclog.events import fields

if sys.version_info >= (3, 11):
    import tomllib
else:  # the same parser, published for older Pythons
    import tomli as tomllib

__all__ = ["ConfigError", "Settings", "load_config"]

#: Env var naming a config file, read when `load_config()` gets no path.
CONFIG_ENV = "LCLOG_CONFIG"
#: Prefix of env vars that override top-level scalar settings (`LCLOG_SERVICE=api`).
ENV_PREFIX = "LCLOG_"

# ${NAME}, or ${NAME:-default} used when NAME is not set.
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


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
}  # fmt: skip


class OutputSettings(_Model):
    """One destination for events; which keys apply depends on `type`."""

    type: Literal["stdout", "stderr", "file", "stdlib", "loki"] = "stdout"
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


_IMPORT_PATH = r"[\w.]+:[\w.]+"


class WebhookTarget(_Model):
    """POST each notification as JSON."""

    type: Literal["webhook"]
    url: str = Field(pattern=r"^https?://")
    format: Literal["generic", "slack"] = "generic"
    headers: dict[str, str] = {}
    timeout_s: float = Field(5.0, gt=0, le=120)
    retries: int = Field(3, ge=0, le=10)
    backoff_s: float = Field(0.5, ge=0, le=60)


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
    stream_tokens: bool = False
    include_stacktrace: bool = False
    max_open_runs: int = Field(10_000, ge=16)
    queue_size: int = Field(100_000, ge=1)
    flush_interval_s: float = Field(0.2, gt=0, le=60)
    flush_timeout_s: float = Field(5.0, ge=0, le=300)
    flush_on_sigterm: bool = True
    outputs: list[OutputSettings] = [OutputSettings()]
    processors: list[str] = []
    redaction: RedactionSettings = RedactionSettings()
    notify: NotifySettings = NotifySettings()

    @field_validator("processors")
    @classmethod
    def _import_paths(cls, value: list[str]) -> list[str]:
        for item in value:
            if not re.fullmatch(_IMPORT_PATH, item):
                raise ValueError(f"{item!r} is not an import path; write it as 'package.module:callable'")
        return value


# Hints shown with pydantic's error types: what to write instead.
_HINTS = {
    "extra_forbidden": "remove it or check its spelling against config/default.yaml",
    "literal_error": "use one of the values listed",
    "missing": "add it",
    "bool_parsing": "use true or false",
    "int_parsing": "use a whole number",
    "float_parsing": "use a number",
}


# Keys that moved: where they are now.
_MOVED = {
    "notify.flush_timeout_s": "moved to the top level: `flush_timeout_s` bounds events and "
    "notifications alike",
}


def _format_errors(exc: ValidationError, source: str) -> str:
    lines = []
    for err in exc.errors(include_url=False, include_input=False):
        field = ".".join(str(p) for p in err["loc"]) or "(top level)"
        message = err["msg"].removeprefix("Value error, ")
        hint = _MOVED.get(field) or _HINTS.get(err["type"])
        lines.append(f"{field}: {message}" + (f" ({hint})" if hint else ""))
    return f"invalid lclog config {source}:\n  " + "\n  ".join(lines)


def _expand_env(value: Any, path: str) -> Any:
    """Replaces `${NAME}` in string values with the env var; a missing var is a ConfigError."""
    if isinstance(value, str) and "${" in value:

        def sub(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            if name not in os.environ and default is not None:
                return default
            if name not in os.environ:
                raise ConfigError(
                    f"invalid lclog config: {path}: env var {name} is not set "
                    f"(export {name}=... or remove ${{{name}}})"
                )
            return os.environ[name]

        return _ENV_REF.sub(sub, value)
    if isinstance(value, dict):
        return {k: _expand_env(v, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_env(v, f"{path}.{i}") for i, v in enumerate(value)]
    return value


class _YamlLoader(yaml.SafeLoader):
    """YAML 1.2 booleans: only true/false. In YAML 1.1 `on`, `off`, `yes` and `no` are booleans,
    which would turn the `notify.on` key into True."""


_YamlLoader.yaml_implicit_resolvers = {
    first: [r for r in resolvers if r[0] != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _read_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read lclog config {path}: {exc.strerror}") from None
    try:
        if path.suffix == ".toml":
            data: Any = tomllib.loads(text)
            data = data.get("tool", {}).get("lclog", data) if "tool" in data else data
        else:
            data = yaml.load(text, Loader=_YamlLoader)
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"lclog config {path} is not valid {path.suffix[1:].upper()}: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"lclog config {path} must be a mapping of keys, got {type(data).__name__}")
    return data


def _env_overrides(environ: dict[str, str]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for field in Settings.model_fields:
        raw = environ.get(ENV_PREFIX + field.upper())
        if raw is None or field in ("outputs", "redaction", "notify", "processors", "events"):
            continue
        overrides[field] = yaml.load(raw, Loader=_YamlLoader) if raw.strip() else raw
    return overrides


def load_config(
    source: str | os.PathLike[str] | dict[str, Any] | Settings | None = None,
    **overrides: Any,
) -> Settings:
    """Returns validated settings from a YAML/TOML file, a dict, or defaults.

    With no source, the file named by `LCLOG_CONFIG` is used when set. `LCLOG_<KEY>` env vars
    override top-level scalar keys; keyword arguments override both. Raises ConfigError.
    """
    if isinstance(source, Settings):
        if not overrides:
            return source
        source = source.model_dump(by_alias=True, exclude_unset=True)  # validated again below
    label = "(defaults)"
    data: dict[str, Any] = {}
    if source is None and os.environ.get(CONFIG_ENV):
        source = os.environ[CONFIG_ENV]
    if isinstance(source, dict):
        data, label = dict(source), "(dict)"
    elif source is not None:
        path = Path(source)
        data, label = _read_file(path), str(path)
    data.update(_env_overrides(dict(os.environ)))
    data.update(overrides)
    try:
        data = _expand_env(data, "")
    except ConfigError as exc:
        raise _from(label, exc) from None
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, label)) from None
    # Rules compile and processors import at load time, so a bad config fails here.
    from lclog.redact.redactor import Redactor  # redaction reads its settings from here

    try:
        Redactor(settings.redaction)  # compiles the rules; a bad pattern raises here
        for path in settings.processors:
            import_callable(path)
        for i, target in enumerate(settings.notify.targets):
            if isinstance(target, CallableTarget):
                import_callable(target.target, f"notify.targets.{i}.target")
    except ConfigError as exc:
        raise _from(label, exc) from None
    return settings


def _from(label: str, exc: ConfigError) -> ConfigError:
    """The same error, naming the config it came from."""
    return ConfigError(str(exc).replace("invalid lclog config:", f"invalid lclog config {label}:", 1))
