"""load_config: settings from a YAML/TOML file, a dict or defaults, with env vars; ConfigError."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from lclog._imports import import_callable
from lclog.errors import ConfigError
from lclog.redact.redactor import shared_redactor
from lclog.settings import (
    AllowSettings,
    CallableTarget,
    LogTarget,
    NotifySettings,
    OutputSettings,
    PatternRule,
    RedactionSettings,
    Settings,
    WebhookTarget,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # the same parser, published for older Pythons
    import tomli as tomllib

# The models are importable from here too (`lclog.config.RedactionSettings`).
__all__ = [
    "AllowSettings",
    "CallableTarget",
    "ConfigError",
    "LogTarget",
    "NotifySettings",
    "OutputSettings",
    "PatternRule",
    "RedactionSettings",
    "Settings",
    "WebhookTarget",
    "load_config",
]

#: Env var naming a config file, read when `load_config()` gets no path.
CONFIG_ENV = "LCLOG_CONFIG"
#: Prefix of env vars that override top-level scalar settings (`LCLOG_SERVICE=api`).
ENV_PREFIX = "LCLOG_"

# ${NAME}, or ${NAME:-default} used when NAME is not set.
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


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


def _format_errors(exc: ValidationError, source: str, from_env: frozenset[str] = frozenset()) -> str:
    lines = []
    for err in exc.errors(include_url=False, include_input=False):
        field = ".".join(str(p) for p in err["loc"]) or "(top level)"
        top = str(err["loc"][0]) if err["loc"] else ""
        if top in from_env:  # set by an env var, not by the file: say which one to fix
            field = f"{field} (from the env var {ENV_PREFIX}{top.upper()})"
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
    label = "(keyword arguments)" if overrides else "(defaults)"
    data: dict[str, Any] = {}
    if source is None and os.environ.get(CONFIG_ENV):
        source = os.environ[CONFIG_ENV]
    if isinstance(source, dict):
        data, label = dict(source), "(dict)"
    elif source is not None:
        path = Path(source)
        data, label = _read_file(path), str(path)
    env = _env_overrides(dict(os.environ))
    data.update(env)
    data.update(overrides)
    from_env = frozenset(env) - frozenset(overrides)
    try:
        data = _expand_env(data, "")
    except ConfigError as exc:
        raise _from(label, exc) from None
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, label, from_env)) from None
    # Rules compile and processors import at load time, so a bad config fails here.
    try:
        shared_redactor(settings.redaction)  # compiles the rules (once); a bad pattern raises here
        for processor in settings.processors:
            import_callable(processor)
        for i, target in enumerate(settings.notify.targets):
            if isinstance(target, CallableTarget):
                import_callable(target.target, f"notify.targets.{i}.target")
    except ConfigError as exc:
        raise _from(label, exc) from None
    return settings


def _from(label: str, exc: ConfigError) -> ConfigError:
    """The same error, naming the config it came from."""
    return ConfigError(str(exc).replace("invalid lclog config:", f"invalid lclog config {label}:", 1))
