"""The redactor's options: the config's `redaction` section."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from lclog._options import Options

__all__ = ["AllowSettings", "PatternRule", "RedactionSettings"]


class PatternRule(Options):
    """A user-defined value pattern."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")
    regex: str
    mode: Literal["mask", "hash", "partial", "drop"] | None = None


class AllowSettings(Options):
    values: list[str] = []
    patterns: list[str] = []


class RedactionSettings(Options):
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
