"""The errors lclog raises: a config it cannot use, a log file the command line cannot read."""

from __future__ import annotations

__all__ = ["ConfigError", "InputError"]


class ConfigError(ValueError):
    """A config that cannot be used; the message names the field and the fix."""


class InputError(Exception):
    """A log file the command line cannot read: the message names it and why."""
