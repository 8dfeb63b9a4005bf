"""load_config: settings from a YAML/TOML file, a dict or defaults, with env vars; ConfigError."""

from __future__ import annotations

import difflib
import os
import re
import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from lclog._imports import import_callable
from lclog.errors import ConfigError
from lclog.events.cost import Prices
from lclog.redact.redactor import shared_redactor
from lclog.settings import (
    AllowSettings,
    CallableTarget,
    LogTarget,
    NotifySettings,
    OutputSettings,
    PatternRule,
    PriceSettings,
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
    "bool_parsing": "use true or false",
    "int_parsing": "use a whole number",
    "float_parsing": "use a number",
}


# Keys that moved: where they are now.
_MOVED = {
    "notify.flush_timeout_s": "moved to the top level: `flush_timeout_s` bounds events and "
    "notifications alike",
}


def _in_our_words(err: Any) -> str:
    """pydantic's message for an error, said as lclog says things (with the fix)."""
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        bound = {"greater_than_equal": "at least", "greater_than": "more than"}.get(kind)
        bound = bound or {"less_than_equal": "at most", "less_than": "less than"}[kind]
        limit = next(iter(ctx.values()), "?")
        return f"must be {bound} {limit}"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected', '?')}"
    if kind == "union_tag_invalid":
        tag, expected = ctx.get("tag"), ctx.get("expected_tags")
        key = str(ctx.get("discriminator", "type")).strip("'")
        return f"unknown {key} {tag!r}: use one of {expected}"
    if kind == "string_pattern_mismatch":
        url = " (an http:// or https:// URL)" if "http" in str(ctx) else ""
        return f"must match {ctx.get('pattern')}{url}"
    if kind == "missing":
        return "is required: add it"
    if kind == "extra_forbidden":
        return "is not a key lclog knows"
    return str(err["msg"]).removeprefix("Value error, ")


def _known_keys(loc: tuple[Any, ...]) -> list[str]:
    """The keys a config may set where `loc` points (the parent of the key at its end)."""
    model: Any = Settings
    for part in loc[:-1]:
        if isinstance(part, int) or model is None:
            continue
        fields = getattr(model, "model_fields", {})
        by_alias = {(f.alias or n): f for n, f in fields.items()}
        field = by_alias.get(part)
        if field is None:  # a dict key (prices.<model>) or a union member's tag
            continue
        model = _model_in(field.annotation)
    fields = getattr(model, "model_fields", {}) if model is not None else {}
    return [(f.alias or n) for n, f in fields.items()]


def _model_in(annotation: Any) -> Any:
    """The settings model an annotation holds (itself, or in a list, dict or union)."""
    if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _suggestion(loc: tuple[Any, ...]) -> str:
    key = str(loc[-1]) if loc else ""
    known = _known_keys(loc)
    close = difflib.get_close_matches(key, known, n=1)
    if close:
        return f"did you mean `{close[0]}`?"
    return f"remove it; the keys here: {', '.join(known)}" if known else "remove it"


def _format_errors(exc: ValidationError, from_env: frozenset[str] = frozenset()) -> list[str]:
    """One line per schema error: the field, what is wrong, and the fix."""
    lines = []
    for err in exc.errors(include_url=False, include_input=False):
        field = ".".join(str(p) for p in err["loc"]) or "(top level)"
        top = str(err["loc"][0]) if err["loc"] else ""
        if top in from_env:  # set by an env var, not by the file: say which one to fix
            field = f"{field} (from the env var {ENV_PREFIX}{top.upper()})"
        message = _in_our_words(err)
        hint = _MOVED.get(field) or _HINTS.get(err["type"])
        if err["type"] == "extra_forbidden" and hint is None:
            hint = _suggestion(tuple(err["loc"]))
        lines.append(f"{field}: {message}" + (f" ({hint})" if hint else ""))
    return lines


def _expand_env(value: Any, path: str, missing: list[str]) -> Any:
    """Replaces `${NAME}` in string values with the env var; each one missing is added to
    `missing` as an error line."""
    if isinstance(value, str) and "${" in value:

        def sub(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            if name in os.environ:
                return os.environ[name]
            if default is not None:
                return default
            missing.append(f"{path}: env var {name} is not set (export {name}=... or remove ${{{name}}})")
            return ""

        return _ENV_REF.sub(sub, value)
    if isinstance(value, dict):
        return {k: _expand_env(v, f"{path}.{k}" if path else str(k), missing) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_env(v, f"{path}.{i}", missing) for i, v in enumerate(value)]
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
            if path.name == "pyproject.toml" or "tool" in data:
                if "lclog" not in data.get("tool", {}):
                    raise ConfigError(
                        f"lclog config {path} has no [tool.lclog] table: put lclog's keys under "
                        '[tool.lclog] (e.g. service = "api"), or name a config file of its own'
                    )
                data = data["tool"]["lclog"]
        else:
            data = yaml.load(text, Loader=_YamlLoader)
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        detail = str(exc).replace('"<unicode string>"', str(path))  # YAML names its input so
        raise ConfigError(
            f"lclog config {path} is not valid {path.suffix[1:].upper() or 'YAML'}: {detail}"
        ) from None
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
    # Every problem of the config in one pass: env vars, the schema, then what only loading
    # shows (rules that do not compile, imports, prices naming an unknown model).
    problems: list[str] = []
    data = _expand_env(data, "", problems)
    settings = None
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        problems += _format_errors(exc, from_env)
    problems += _load_checks(settings, data)
    if problems:
        raise ConfigError(f"invalid lclog config {label}:\n  " + "\n  ".join(dict.fromkeys(problems)))
    assert settings is not None
    return settings


def _load_checks(settings: Settings | None, data: dict[str, Any]) -> list[str]:
    """What validating the schema cannot show: redaction rules compile, processors and callable
    targets import, `same_as` prices name a model genai-prices knows. Checked on what of the
    config is valid, when the rest is not."""
    problems = []
    redaction = (
        settings.redaction if settings is not None else _part(RedactionSettings, data.get("redaction"))
    )
    checks: list[tuple[Any, tuple[Any, ...]]] = []
    if redaction is not None:
        checks.append((shared_redactor, (redaction,)))
    processors = settings.processors if settings is not None else data.get("processors")
    for processor in processors if isinstance(processors, list) else ():
        if isinstance(processor, str) and ":" in processor:
            checks.append((import_callable, (processor,)))
    notify = settings.notify if settings is not None else _part(NotifySettings, data.get("notify"))
    for i, target in enumerate(notify.targets if notify is not None else ()):
        if isinstance(target, CallableTarget):
            checks.append((import_callable, (target.target, f"notify.targets.{i}.target")))
    for check, args in checks:
        try:
            check(*args)
        except ConfigError as exc:
            for line in str(exc).splitlines():
                line = line.removeprefix("invalid lclog config:").strip()
                if line:
                    problems.append(line)
    if settings is not None:
        prices = settings.prices
    else:
        raw = data.get("prices")
        valid = (_part(PriceSettings, v) for v in (raw.values() if isinstance(raw, dict) else ()))
        prices = {name: p for name, p in zip(raw or {}, valid, strict=False) if p is not None}
    problems += _unknown_same_as(prices)
    return problems


def _part(model: Any, value: Any) -> Any:
    """A section of a config that failed validation, validated alone without its keys in error
    (reported already), so that what only loading shows is checked too; None if it cannot be."""
    value = dict(value) if isinstance(value, dict) else {}
    for _ in range(2):
        try:
            return model.model_validate(value)
        except ValidationError as exc:
            for err in exc.errors(include_url=False, include_input=False):
                if err["loc"]:
                    value.pop(err["loc"][0], None)
    return None


def _unknown_same_as(prices: dict[str, Any]) -> list[str]:
    """`same_as` entries that name a model genai-prices does not know: calls would go unpriced."""
    aliases = {name: price.same_as for name, price in prices.items() if price.same_as}
    if not aliases:
        return []
    known = Prices({})
    return [
        f"prices.{name}.same_as: genai-prices knows no model {other!r}: name one it prices "
        "(e.g. gpt-4o-mini, claude-3-5-haiku), or give `input` and `output` prices"
        for name, other in aliases.items()
        if not known.knows(other)
    ]
