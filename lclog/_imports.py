"""Resolving the `package.module:callable` paths a config names (processors, notify targets)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from lclog.errors import ConfigError

__all__ = ["IMPORT_PATH", "import_callable"]

# What a config's `package.module:callable` must look like.
IMPORT_PATH = r"[\w.]+:[\w.]+"


def import_callable(path: str, field: str = "processors") -> Callable[..., Any]:
    """Resolves 'package.module:callable'; raises ConfigError naming the config field."""
    module_name, _, attr = path.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            target = getattr(target, part)
    except Exception as exc:
        raise ConfigError(
            f"invalid lclog config: {field}: cannot import {path!r} "
            f"({type(exc).__name__}: {exc}); check the module is installed and the name exists"
        ) from None
    if not callable(target):
        raise ConfigError(f"invalid lclog config: {field}: {path!r} is not callable")
    return target
