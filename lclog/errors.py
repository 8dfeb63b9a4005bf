"""The error lclog raises for a config it cannot use."""

from __future__ import annotations

__all__ = ["ConfigError"]


class ConfigError(ValueError):
    """A config that cannot be used; the message names the field and the fix."""
