"""The redactor: key rules and value rules over every string of an event, and its processor."""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import re
import secrets
import sys
import threading
from dataclasses import dataclass
from typing import Any

import re2

from lclog._threads import restarted_after_fork
from lclog.errors import ConfigError
from lclog.events import fields
from lclog.events.serialize import DROP, KEEP, truncate
from lclog.redact._scanner import ACCEPT, LEAVE, REJECT, SHIELD, Scanner, compile_pattern
from lclog.redact.checks import settings_problems
from lclog.redact.key_rules import KeyNames, key_value_rules
from lclog.redact.options import RedactionSettings
from lclog.redact.rules import BUILTIN_RULES, KEEP_PATTERNS, PART_STARTS, Rule

__all__ = ["OVER_BUDGET", "Finding", "Redactor", "shared_redactor"]

_ANCHOR_BOTH = re2._Anchor.ANCHOR_BOTH
_NO_MATCH = -1

# How many custom patterns are searched as one RE2 program (the built-in rules are grouped by
# kind, rules.PART_STARTS). Text dense with new secrets makes one program over all patterns build
# DFA states for their product; each part builds its own. 2.5 KB holding 25 new secrets of 16
# kinds: 2.8 ms as one program, 1.2 ms in 3 parts, 0.53 ms in parts of 8, 0.51 ms of 4; clean
# text costs a pass per part: 4 KB in 6.4, 21, 41 and 79 us.
_PART = 8
# No budget: outside a content value (the writer thread, notifications, the command-line tools).
_NO_LIMIT = sys.maxsize
# What a string past the redaction budget is written as.
OVER_BUDGET = "[REDACTED:over_budget]"
# How much of the text before a match a rule's context check reads (a name the match began in).
_LEAD = 64
# Strings shorter than this cannot hold any built-in secret shape; they skip the scan.
_MIN_LEN = 5
# Distinct strings remembered per redactor (prompts repeat across a run's events).
_CACHE_ENTRIES = 4096
_CACHE_MAX_CHARS = 200_000
# A text longer than a limit is redacted this far past the cut before it is cut: every rule
# still matches the part of a secret inside that window (rules whose secret ends at a closing
# quote, tag or END line match to the window's end when it is cut off), and a longer text costs
# no more than this to redact.
CUT_LOOKAHEAD = 2048
# Event keys lclog fills itself with ids, numbers and fixed words: never user content.
_TRUSTED_KEYS = fields.TRUSTED


@dataclass(frozen=True, slots=True)
class Finding:
    """One rule match in a text: where, which rule, and a preview that reveals nothing."""

    rule: str
    start: int
    end: int
    preview: str


def _groups() -> dict[str, int]:
    """Each built-in rule's group of the fused search, by name: a group begins at each of
    `PART_STARTS`, in the rules' order (the key rules last)."""
    groups: dict[str, int] = {}
    for name in (*(r.name for r in BUILTIN_RULES), "key_value"):
        groups.setdefault(name, len(PART_STARTS & groups.keys()) + (name in PART_STARTS))
    return groups


_GROUPS = _groups()


def _parts(keep: int, custom: int, rules: list[Rule]) -> list[int]:
    """Where each part of the fused search begins: the kept shapes with the first rules, custom
    patterns in parts of `_PART`, the built-in rules by group (whichever of them are enabled)."""
    first = keep + custom
    starts = [*range(0, first, _PART), first] if custom else [0]
    group = None
    for i, rule in enumerate(rules, first):
        if group is not None and _GROUPS[rule.name] != group:
            starts.append(i)
        group = _GROUPS[rule.name]
    return starts


class Redactor:
    """Replaces secrets in strings and nested values by the configured rules; never raises."""

    def __init__(self, settings: RedactionSettings | None = None) -> None:
        settings = settings or RedactionSettings()
        self.enabled = settings.enabled
        self.default_mode = settings.mode
        key = settings.hash_key or os.environ.get(settings.hash_key_env)
        # Without a configured key, hashes correlate within this process only.
        self._hash_key = (key or secrets.token_hex(32)).encode()
        self.hash_key_is_random = key is None
        self._mac = hmac.new(self._hash_key, digestmod=hashlib.sha256)
        self._names = KeyNames.build(settings.keys, settings.remove_keys)
        self._field_rules = dict(settings.fields)

        problems = settings_problems(settings)
        if problems:  # every problem at once, each under its own key, so one edit fixes them all
            raise ConfigError("invalid lclog config:\n  " + "\n  ".join(problems))
        rules: list[Rule] = []
        for rule in (*BUILTIN_RULES, *key_value_rules(self._names)):
            if rule.name in settings.disable:
                continue
            rules.append(rule)
        custom = [Rule(p.name, p.regex, "custom pattern", mode=p.mode) for p in settings.patterns]
        self.rules: tuple[Rule, ...] = (*custom, *rules)
        self._modes = {r.name: settings.modes.get(r.name, r.mode or self.default_mode) for r in self.rules}

        self._allow_values = frozenset(settings.allow.values)
        self._allow_sources = list(settings.allow.patterns)
        self._allow = [compile_pattern(p) for p in self._allow_sources]

        patterns = [*KEEP_PATTERNS, *(r.pattern for r in self.rules)]
        groups = [0] * len(KEEP_PATTERNS) + [r.group for r in self.rules]
        self._n_keep = len(KEEP_PATTERNS)
        # Per pattern: what to check on a match (None: nothing), and its fixed mask if any.
        needs_text = bool(self._allow_values or self._allow)
        nothing: list[Any] = [None] * self._n_keep
        self._checks: list[tuple[Any, bool, str, Any] | None] = nothing + [
            (r.validator, bool(r.group), SHIELD if r.shield else REJECT, r.context)
            if (r.validator or r.group or needs_text)
            else None
            for r in self.rules
        ]
        self._masks: list[bytes | None] = nothing + [
            f"[REDACTED:{r.name}]".encode() if self._modes[r.name] == "mask" else None for r in self.rules
        ]
        try:
            shorter = [False] * len(KEEP_PATTERNS) + [r.shorter for r in self.rules]
            parts = _parts(self._n_keep, len(custom), rules)
            leads = [0] * len(KEEP_PATTERNS) + [_LEAD if r.context else 0 for r in self.rules]
            self._scanner_args = (patterns, groups, self._verdict, shorter, parts, leads)
            self._scanner: Scanner | _Rebuilt = Scanner(*self._scanner_args)
        except re2.error:
            raise ConfigError(
                "invalid lclog config: redaction.patterns: the rules together are too large for "
                "RE2's 64 MiB program bound; shorten the custom patterns (fewer or smaller "
                "repetitions, narrower character classes)"
            ) from None
        _redactors.add(self)
        self._cache: dict[str, str] = {}
        # What this thread may still redact of new text for the value being serialized (begin).
        self._budget = settings.max_chars_per_value
        self._local = threading.local()
        self._key_cache: dict[str, tuple[str, bool] | None] = {}
        self._key_mode = self._modes.get("key_value", self.default_mode)

    def _after_fork(self) -> None:
        """In a forked child: RE2 programs of its own, built at the first use. A thread of the
        parent may have been inside one at the fork, leaving its mutex held in the child."""
        self._scanner = _Rebuilt(self)
        self._allow = [compile_pattern(p) for p in self._allow_sources]

    def digest(self, data: bytes) -> str:
        """A keyed hash of data (HMAC-SHA256 with the hash key), as 16 hex digits: the same data
        gives the same digest wherever the key is the same, and nothing to anyone without it."""
        mac = self._mac.copy()  # the keyed state, set up once
        mac.update(data)
        return mac.digest()[:8].hex()

    # -- strings ---------------------------------------------------------------------------

    def _replacement(self, rule: str, secret: str, mode: str | None = None) -> str:
        mode = mode or self._modes.get(rule, self.default_mode)
        if mode == "hash":
            digest = hmac.new(self._hash_key, secret.encode("utf-8", "surrogatepass"), hashlib.sha256)
            return f"[{rule}:{digest.hexdigest()[:12]}]"
        if mode == "partial":
            tail = "".join(c for c in secret if c.isalnum())[-4:]
            if len(secret) >= 12 and len(tail) == 4:
                return f"[REDACTED:{rule}:…{tail}]"
        if mode == "drop":
            return ""
        return f"[REDACTED:{rule}]"

    def _scan(self, data: bytes) -> list[tuple[int, int, int]]:
        """Returns (start, end, pattern index) byte spans of secrets, left to right, not overlapping.

        The leftmost match wins, then the earlier pattern (keep shapes, custom, built-in rules).
        """
        return self._scanner.scan(data)

    def _verdict(self, data: bytes, index: int, s: int, e: int, start: int) -> str:
        """A match is a secret, a span to leave as it is (kept shape, allowed), or not a match."""
        if index < self._n_keep:
            return LEAVE
        check = self._checks[index]
        if check is None:
            return ACCEPT
        secret = data[s:e].decode("utf-8", "surrogatepass")
        validator, grouped, rejected, context = check
        if validator is not None and not validator(secret):
            return rejected
        if context is not None and not context(
            data[max(0, start - _LEAD) : start].decode("utf-8", "replace"),
            data[start:s].decode("utf-8", "replace"),
            secret,
        ):
            return rejected
        if (
            (grouped and _is_marker(secret))
            or (self._allow_values and secret in self._allow_values)
            or (self._allow and self._allowed(data, s, e))
        ):
            return LEAVE
        return ACCEPT

    def _allowed(self, data: bytes, s: int, e: int) -> bool:
        return any(a.Match(_ANCHOR_BOTH, data, s, e)[0][0] != _NO_MATCH for a in self._allow)

    @property
    def budget(self) -> tuple[threading.local, int]:
        """(this redactor's per-thread budget state, max_chars_per_value). Before serializing a
        content value a caller sets `state.left = max_chars_per_value` and `state.over = 0`:
        until it sets `state.left` back to `sys.maxsize`, new text past the budget is not redacted
        but replaced whole by `[REDACTED:over_budget]`, and `state.over` counts those strings,
        so that no value, however crafted, holds the caller longer (EventBuilder.content_of)."""
        return self._local, self._budget

    def redact_text(self, text: str) -> str:
        """Returns text with every secret replaced; fails closed to a marker."""
        if len(text) < _MIN_LEN or not self.enabled:
            return text
        cached = self._cache.get(text)
        if cached is not None:
            return cached
        local = self._local
        left = getattr(local, "left", _NO_LIMIT)
        if len(text) > left:  # never written unredacted, never cached: the next hook may redact it
            local.over += 1
            return OVER_BUDGET
        if left < _NO_LIMIT:
            local.left = left - len(text)
        try:
            redacted = self._redacted(text.encode("utf-8", "surrogatepass"), "surrogatepass")
            result = text if redacted is None else redacted.decode("utf-8", "surrogatepass")
        except Exception:
            result = "[REDACTED:redaction_failed]"
        if len(text) <= _CACHE_MAX_CHARS:
            if len(self._cache) >= _CACHE_ENTRIES:
                self._cache.clear()
            self._cache[text] = result
        return result

    def redact_bytes(self, data: bytes) -> bytes:
        """`redact_text` for UTF-8 bytes (text that is not valid UTF-8 included), without decoding
        them first; fails closed to a marker."""
        if not self.enabled:
            return data
        try:
            redacted = self._redacted(data, "replace")
        except Exception:
            return b"[REDACTED:redaction_failed]"
        return data if redacted is None else redacted

    def redact_lines(self, data: bytes, final: bool) -> tuple[bytes, int]:
        """The whole lines at the start of data, redacted, and how many bytes of data they were.

        Text that follows may belong to a secret that reaches the last line's end (a PEM block, a
        quoted value), so such a secret's lines are held back, for the caller to pass again with
        what follows; with `final`, data is redacted whole."""
        if not self.enabled:
            return data, len(data)
        try:
            spans = self._scan(data)
            cut = len(data) if final else data.rfind(b"\n") + 1
            for s, e, _ in () if final else reversed(spans):
                if e < cut:
                    break
                if s < cut:  # runs across the last line's end, maybe on into what is not read yet
                    cut = data.rfind(b"\n", 0, s) + 1
            redacted = self._redacted(data[:cut], "replace", [span for span in spans if span[1] <= cut])
        except Exception:
            return b"[REDACTED:redaction_failed]\n", len(data)
        return (data[:cut] if redacted is None else redacted), cut

    def _redacted(
        self, data: bytes, errors: str, spans: list[tuple[int, int, int]] | None = None
    ) -> bytes | None:
        """data with every secret replaced (at `spans`, else those found), or None when it holds none."""
        out: list[bytes] = []
        last = 0
        masks = self._masks
        for s, e, index in self._scan(data) if spans is None else spans:
            out.append(data[last:s])
            out.append(masks[index] or self._mask(index, data[s:e], errors))
            last = e
        if not out:
            return None
        out.append(data[last:])
        return b"".join(out)

    def _mask(self, index: int, secret: bytes, errors: str) -> bytes:
        """What replaces a secret found by pattern `index` whose replacement is not fixed."""
        rule = self.rules[index - self._n_keep].name
        return self._replacement(rule, secret.decode("utf-8", errors)).encode()

    def redact_stream(self, pieces: list[str], max_chars: int) -> list[str]:
        """The pieces of one text (a model's streamed tokens), redacted as that text, each then
        cut to max_chars: a secret spelled over several pieces is replaced in the piece where it
        starts, and the pieces it runs through keep only what lies outside it. Fails closed to a
        marker per piece."""
        encoded = [p.encode("utf-8", "surrogatepass") for p in pieces]
        data = b"".join(encoded)
        try:
            out: list[str] = []
            spans = iter(self._scan(data) if self.enabled else ())
            span = next(spans, None)
            start = covered = 0
            for piece in encoded:
                end = start + len(piece)
                parts: list[bytes] = []
                pos = max(start, covered)
                while span is not None and span[0] < end:
                    s, e, index = span
                    mask = self._masks[index] or self._mask(index, data[s:e], "surrogatepass")
                    parts += (data[pos:s], mask)
                    pos = covered = e
                    span = next(spans, None)
                parts.append(data[pos:end])  # empty where a secret runs past the piece's end
                out.append(b"".join(parts).decode("utf-8", "surrogatepass"))
                start = end
        except Exception:
            return ["[REDACTED:redaction_failed]"] * len(pieces)
        text = "".join(pieces)
        if self.enabled and len(text) <= _CACHE_MAX_CHARS:  # the run's end event holds this text
            if len(self._cache) >= _CACHE_ENTRIES:
                self._cache.clear()
            self._cache[text] = "".join(out)
        return [p if len(p) <= max_chars else _shortened(p, max_chars, len(p)) for p in out]

    def explain(self, text: str) -> list[Finding]:
        """Lists which rule matched where (character offsets), with masked previews."""
        data = text.encode("utf-8", "surrogatepass")
        findings = []
        for s, e, index in self._scan(data):
            rule = self.rules[index - self._n_keep].name
            secret = data[s:e].decode("utf-8", "surrogatepass")
            start = len(data[:s].decode("utf-8", "surrogatepass"))
            findings.append(Finding(rule, start, start + len(secret), _preview(secret)))
        return findings

    # -- values ----------------------------------------------------------------------------

    def key_rule(self, key: str) -> tuple[str, bool] | None:
        """(the secret word or phrase a key holds, whether any value of it is a secret), else None:
        a weaker key (`token_count`, `cacheKey`) marks only a credential-like string."""
        try:
            return self._key_cache[key]
        except KeyError:
            pass
        found = self._names.classify(key)
        if len(self._key_cache) >= _CACHE_ENTRIES:
            self._key_cache.clear()
        self._key_cache[key] = found
        return found

    def _secret_of(self, key: str, value: Any) -> str | None:
        """The rule a key's value is replaced by (None: the value is walked like any other)."""
        rule = self._key_cache[key] if key in self._key_cache else self.key_rule(key)
        if rule is None or value is None:
            return None
        name, any_value = rule
        if any_value or (type(value) is str and self._names.credential_for(name, value)):
            return name
        return None

    def redact_value(self, value: Any) -> Any:
        """Returns value with key rules and value rules applied at any depth."""
        t = type(value)
        if t is str:
            return self._text(value)
        if t is dict:
            return self._dict(value)
        if t is list or t is tuple:
            return [self.redact_value(v) for v in value]
        if isinstance(value, dict):  # a subclass (a serialized message): redacted all the same
            return self._dict(value)
        return value

    def _text(self, text: str) -> str:
        # The hot path: most strings are short or already seen.
        if len(text) < _MIN_LEN:
            return text
        cached = self._cache.get(text)
        return cached if cached is not None else self.redact_text(text)

    # Scrubber protocol (lclog._serialize): redaction fused into serialization.
    scrub_text = _text

    def cut(self, text: str, max_chars: int) -> str:
        """text redacted, then cut to max_chars with a marker saying how much was cut: no secret
        is cut before its rule has seen it. Costs at most max_chars + CUT_LOOKAHEAD of redaction."""
        if len(text) <= max_chars:
            return self._text(text)
        if not self.enabled:
            return truncate(text, max_chars)
        window = text[: max_chars + CUT_LOOKAHEAD]
        redacted = self._text(window)
        return _shortened(redacted, max_chars, len(text) - len(window) + len(redacted))

    def scrub_key(self, key: str, value: Any) -> Any:
        rule = self._secret_of(key, value)
        if rule is None:
            return KEEP
        if self._key_mode == "drop":
            return DROP
        return self._replacement(rule, value if isinstance(value, str) else repr(value), self._key_mode)

    def _dict(self, value: dict[Any, Any]) -> dict[str, Any]:
        out = {}
        text = self._text
        for k, v in value.items():
            if type(k) is not str:
                k = str(k)
            rule = self._secret_of(k, v)
            if rule is not None:
                if self._key_mode == "drop":
                    continue
                v = self._replacement(rule, v if isinstance(v, str) else repr(v), self._key_mode)
            else:
                tv = type(v)
                if tv is str:
                    v = text(v)
                elif tv is dict:
                    v = self._dict(v)
                elif tv is list or tv is tuple:
                    v = [self.redact_value(x) for x in v]
                elif isinstance(v, dict):  # a subclass (a serialized message)
                    v = self._dict(v)
            out[text(k)] = v
        if type(value) is not dict:  # keeps its class (lclog's `Message` marks a message)
            try:
                return type(value)(out)
            except Exception:
                return out
        return out

    def redact_record(self, record: dict[str, Any]) -> dict[str, Any]:
        """A JSON object from outside lclog (a log line): `fields` rules first, then every key
        and value, as `redact_value` redacts them."""
        if not self.enabled:
            return record
        kept = self._apply_field_rules(record) if self._field_rules else {}
        out = self.redact_value(record)
        _restore(out, kept)
        return out

    def _apply_field_rules(self, event: dict[str, Any]) -> dict[str, Any]:
        kept: dict[str, Any] = {}
        for path, mode in self._field_rules.items():
            *parents, leaf = path.split(".")
            node: Any = event
            for part in parents:
                node = node.get(part) if isinstance(node, dict) else None
            if not isinstance(node, dict) or leaf not in node:
                continue
            if mode == "drop":
                del node[leaf]
            elif mode == "keep":
                kept[path] = node[leaf]
            else:
                value = node[leaf]
                node[leaf] = self._field_replacement(leaf, mode, value)
        return kept

    def _field_replacement(self, name: str, mode: str, value: Any) -> str:
        rule = re.sub(r"[^a-z0-9_]", "_", name.lower()) or "field"
        return self._replacement(rule, value if isinstance(value, str) else repr(value), mode)

    def __call__(self, logger: Any, method_name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        """structlog processor: the event with every untrusted value redacted."""
        return self.redact_event(event_dict)

    @property
    def fuses(self) -> bool:
        """True when content may be redacted while it is serialized (no per-field rules)."""
        return self.enabled and not self._field_rules

    trusted = _TRUSTED_KEYS

    def redact_event(
        self, event_dict: dict[str, Any], skip: frozenset[str] = _TRUSTED_KEYS
    ) -> dict[str, Any]:
        """Returns the event redacted, but for keys in `skip` (lclog's own fields, by default)."""
        if not self.enabled:
            return event_dict
        kept = self._apply_field_rules(event_dict) if self._field_rules else {}
        out = event_dict  # redacted in place: values are replaced, keys stay
        for k in event_dict.keys() - skip:
            v = event_dict[k]
            if v is not None:
                out[k] = self._text(v) if type(v) is str else self.redact_value(v)
        _restore(out, kept)
        return out


def _restore(out: dict[str, Any], kept: dict[str, Any]) -> None:
    """Puts back the values `keep` field rules kept, by their paths."""
    for path, value in kept.items():
        *parents, leaf = path.split(".")
        node: Any = out
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node[leaf] = value


class _Rebuilt:
    """A redactor's scanner after a fork: the first scan builds new programs and takes its place."""

    def __init__(self, redactor: Redactor) -> None:
        self._redactor = redactor

    def _scanner(self) -> Scanner:
        scanner = Scanner(*self._redactor._scanner_args)
        self._redactor._scanner = scanner
        return scanner

    def scan(self, data: bytes) -> list[tuple[int, int, int]]:
        return self._scanner().scan(data)

    def scan_each(self, data: bytes) -> list[tuple[int, int, int]]:
        return self._scanner().scan_each(data)


_redactors: Any = restarted_after_fork()

_MARKER = re.compile("|".join(KEEP_PATTERNS[:2]))
_MAX_MARKER = 80  # the longest marker: [REDACTED:<40 chars>:<24 chars>]


def _is_marker(text: str) -> bool:
    return text.startswith("[") and _MARKER.fullmatch(text) is not None


def _shortened(redacted: str, max_chars: int, length: int) -> str:
    """Redacted text, of a text whose redaction is `length` characters long, cut to max_chars
    with a marker saying how much was cut (never inside a redaction marker)."""
    end = _marker_end(redacted, max_chars)
    left_out = length - end
    if left_out <= 0:
        return redacted
    return f"{redacted[:end]}…[truncated {left_out} chars]"


def _marker_end(text: str, cut: int) -> int:
    """Where to cut text at `cut` or just after it, so that no marker is cut in two."""
    start = text.rfind("[", max(0, cut - _MAX_MARKER), cut)
    if start >= 0:
        marker = _MARKER.match(text, start)
        if marker is not None and marker.end() > cut:
            return marker.end()
    return cut


def _preview(secret: str) -> str:
    """A masked preview: at most the first 3 characters and the length."""
    head = secret[:3] if len(secret) >= 12 else secret[:1]
    return f"{head}…({len(secret)} chars)"


@functools.lru_cache(maxsize=16)
def _shared(settings_json: str, hash_key: str | None) -> Redactor:
    return Redactor(RedactionSettings.model_validate_json(settings_json))


def shared_redactor(settings: RedactionSettings) -> Redactor:
    """The Redactor for these settings, compiled once per process: `load_config` checks the rules
    with it and every handler built from the same settings uses it (one hash key between them)."""
    return _shared(settings.model_dump_json(), os.environ.get(settings.hash_key_env))
