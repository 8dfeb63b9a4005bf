"""The key rules inside text: a denylisted key's value where code, configs and headers write it."""

from __future__ import annotations

from collections.abc import Iterable

import re2

from lclog.redact.rules import QUOTE, Rule, not_placeholder

__all__ = ["key_value_rules", "split_words"]


# Between a key and its value: `=`, `:`, Go's `:=`, Make's `::=`, `:::=` and `?=`, `+=`, PHP's
# `.=`, `??=`, Ruby's and logstash's `=>`, also percent-encoded; or a type between a name and
# `=` (`var token string = "..."`, `String token = "..."`).
_ASSIGN = (
    r"(?:[ \t]|%20)*(?::{1,3}=|[.?+]=|\?\?=|=>|[:=]|%3[ad])"
    r"|[ \t]+[A-Za-z_][A-Za-z0-9_.\[\]<>]{0,40}[ \t]*="
)


def key_value_rules(keys: Iterable[str]) -> tuple[Rule, Rule]:
    """A denylisted key's value in text: `key=value`, `key: value`, `"key": "value"`, `key := "value"`,
    `<key>value</key>` (quotes escaped or percent-encoded too); and `("KEY", "value")`."""
    alternatives = sorted(  # longest first, so that a longer key wins over its suffix
        {"[-_ .]?".join(re2.escape(part) for part in split_words(k)) for k in keys},
        key=lambda name: (-len(name), name),
    )
    names = "|".join(alternatives)
    value = (
        r"(?:\"((?:[^\"\\\n]|\\.)+)\"|'((?:[^'\\\n]|\\.)+)'|`([^`\n]+)`"  # quoted
        # quotes escaped once or more: JSON inside a JSON string ({\"password\": \"...\"})
        r"|\\+\"((?:[^\"\\\n]|\\+[^\"\\\n])+)\\+\"|\\+'((?:[^'\\\n]|\\+[^'\\\n])+)\\+'"
        # unquoted, or after a quote that never closes
        rf"|(?:{QUOTE}|%2[27])?((?:(?:bearer|basic|token|digest)\s+)?[^\s,;&\"'}}\[\])<>\\][^\s,;&\"'}}\])<>]*))"
    )
    what = "values of denylisted keys written inside text"
    assigned = Rule(
        "key_value",
        rf"(?i)(?:{names})(?:(?:{QUOTE}|%2[27])?(?:{_ASSIGN})(?:[ \t]|%20)*|>\s*){value}",
        f"{what} (query strings, also URL-encoded, headers, JSON, .env, source code, XML elements)",
        validator=not_placeholder,
        group=-1,
    )
    # A call's first two arguments: setProperty("API_TOKEN", "value"). A rule of its own, so that
    # neither program carries the key names twice.
    argument = Rule(
        "key_value",
        rf"(?i)\(\s*{QUOTE}[A-Za-z0-9_.-]{{0,40}}(?:{names}){QUOTE}[ \t]*,[ \t]*"
        r"(?:\"([^\"\\\n]+)\"|'([^'\\\n]+)')",
        f"{what} (call arguments)",
        validator=not_placeholder,
        group=-1,
    )
    return assigned, argument


def split_words(key: str) -> list[str]:
    parts = [p for p in key.lower().replace("-", " ").replace("_", " ").split() if p]
    return parts or [key.lower()]
