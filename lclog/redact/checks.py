"""Checks of the redaction settings that need the rules: unknown rule names, patterns RE2 cannot
run, a hash mode whose hashes will not match across processes."""

from __future__ import annotations

import difflib
import os
from typing import Any

import re2

from lclog.redact._scanner import compile_pattern
from lclog.redact.options import RedactionSettings
from lclog.redact.rules import BUILTIN_RULES

__all__ = ["matches_empty", "random_hash_key_warning", "settings_problems"]

_ANCHOR_BOTH = re2._Anchor.ANCHOR_BOTH
_NO_MATCH = -1


def settings_problems(settings: RedactionSettings) -> list[str]:
    """Every problem of the settings, each naming its key and the fix; empty when there is none."""
    problems: list[str] = []
    known = {r.name for r in BUILTIN_RULES} | {"key_value"}
    custom_names = {p.name for p in settings.patterns}

    def unknown(name: str) -> str:
        close = difflib.get_close_matches(name, sorted(known | custom_names), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return f"unknown rule {name!r}; {hint}built-in rules are {', '.join(sorted(known))}"

    for i, name in enumerate(settings.disable):
        if name not in known:
            problems.append(f"redaction.disable[{i}]: {unknown(name)}")
    for name in settings.modes:
        if name not in known and name not in custom_names:
            problems.append(f"redaction.modes.{name}: {unknown(name)}")
    for p in settings.patterns:
        problem = _pattern_problem(p.regex)
        if problem:
            problems.append(f"redaction.patterns.{p.name}: {problem}")
    for i, allowed in enumerate(settings.allow.patterns):
        problem = _pattern_problem(allowed)
        if problem:
            problems.append(f"redaction.allow.patterns[{i}]: {problem}")
    return problems


def _pattern_problem(pattern: str) -> str | None:
    """Why RE2 cannot use a pattern, with the fix; None when it compiles and matches something."""
    try:
        compiled = compile_pattern(pattern)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        reason = reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)
        if "escape sequence: \\" in reason and reason.rstrip()[-1:].isdigit():
            fix = "backreferences (\\1) are not supported, since patterns run in linear time"
        elif "perl operator: (?=" in reason or "perl operator: (?!" in reason or "(?<" in reason:
            fix = "lookaround ((?=, (?!, (?<=, (?<!) is not supported, since patterns run in linear time"
        else:
            fix = "fix the pattern's syntax (RE2 syntax, as in Go and Rust)"
        return f"RE2 cannot compile `{pattern}`: {reason}; {fix}"
    if matches_empty(compiled):
        return (
            f"`{pattern}` matches the empty string (somewhere in a text, e.g. at a word boundary); "
            "make it match at least one character"
        )
    return None


# Whether an empty match is possible depends only on the characters either side (word, other,
# line break, or the edge of the text): these pairs cover every case RE2's assertions tell apart.
_SIDES = ("", "a", " ", "\n")
_EMPTY_PROBES = [((a + b).encode(), len(a)) for a in _SIDES for b in _SIDES]


def matches_empty(regexp: Any) -> bool:
    return any(regexp.Match(_ANCHOR_BOTH, probe, at, at)[0][0] != _NO_MATCH for probe, at in _EMPTY_PROBES)


def random_hash_key_warning(settings: RedactionSettings) -> str | None:
    """What to tell a user whose hashes will not match across processes, or None."""
    if not settings.hashes() or settings.hash_key or os.environ.get(settings.hash_key_env):
        return None
    return (
        f"redaction hashes values, but neither redaction.hash_key nor ${settings.hash_key_env} is "
        "set: each process draws a random key, so the same value hashes differently after a "
        f"restart and in every worker; set {settings.hash_key_env} (the same secret everywhere)"
    )
