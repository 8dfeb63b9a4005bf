"""The key rules: which names hold secrets, and their values where code, configs and headers write them.

A name holds a secret when one of its words is a secret word (or its words contain a secret
phrase): `OPENAI_API_KEY_PROD`, `client_secret_2`, `apiKeyProd`, `DB_PASS`. Words are split at
`_ - .`, spaces, digits and camelCase humps, so `passenger`, `keyboard` and `monkey` hold none.

Two strengths. A password-like word (`password`, `secret`, `credential` ...) or a known key
phrase ending the name (`api_key`, `access_token`) marks its value a secret whatever it is. A
token-like word that does not end the name (`token_count`, `session_timeout`), or the generic
words `key` and `auth` (`KEY=`, `cacheKey`), marks it a secret only when the value looks like a
credential, so that `token_count: 2`, `key: value` and `token_type: bearer` stay.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from lclog.redact.rules import QUOTE, Rule, not_placeholder, placeholder

__all__ = ["KeyNames", "credential_like", "key_value_rules", "split_words"]

# Words that make any value of their name a secret, wherever they stand in the name. Sources:
# sentry-python's DEFAULT_DENYLIST, detect-secrets' KeywordDetector (abbreviations as people write
# them: pass, pwd, pw, creds, and the misspelling secrete), RFC 7235/6265 headers.
PASSWORD_WORDS = (
    "password", "passwords", "passwd", "passphrase", "pass", "pwd", "pw", "secret", "secrets",
    "secrete", "credential", "credentials", "creds", "authorization", "cookie", "dsn", "bearer",
    "sig",
)  # fmt: skip
# Words that mark a credential only when its value looks like one (see credential_like).
TOKEN_WORDS = ("token", "apikey", "session", "sessionid", "jwt")
# Words too common in names to say anything alone: a credential-like value is still redacted.
WEAK_WORDS = ("key", "auth")
# Phrases (words in a row) whose name marks a secret: with the password words when they end the
# name, as token words otherwise.
PHRASES = (
    "api key", "api token", "private key", "access key", "secret key", "account key",
    "shared access key", "connection string", "set cookie", "proxy authorization",
    "amz signature", "goog signature", "art api", "master key", "encryption key", "signing key",
    "client secret", "access token", "refresh token", "id token", "auth token", "session id",
)  # fmt: skip
# A name whose last word says it holds something about a secret, not the secret: `secret_name`,
# `kms_key_id`, `passwordVariable`, `token_url`, `key_length`, `TokenFile`.
METADATA_WORDS = frozenset({
    "id", "ids", "name", "names", "length", "len", "size", "count", "file", "files", "path", "dir",
    "url", "uri", "endpoint", "type", "types", "variable", "var", "source", "chars", "field",
    "label", "format", "policy", "hint", "prefix", "suffix", "vault", "manager", "provider", "arn",
    "ref", "header", "param", "expiry", "expires", "expiration", "ttl", "timeout", "enabled",
    "required", "pressed", "pair", "usage", "limit", "location", "version", "store", "mode",
})  # fmt: skip

_CAMEL = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


def split_words(name: str) -> list[str]:
    """The lowercase words of a name: `OPENAI_API_KEY_PROD` -> openai api key prod, `apiKeyV2` ->
    api key v 2 (digits are words of their own)."""
    return [w.lower() for w in _CAMEL.findall(name)]


@dataclass(frozen=True, slots=True)
class KeyNames:
    """The secret words and phrases in force (the built-in ones plus `keys`, less `remove_keys`)."""

    strong: frozenset[tuple[str, ...]]  # any value, wherever they stand
    token: frozenset[tuple[str, ...]]  # any value when they end the name; else a credential
    weak: frozenset[tuple[str, ...]]  # a credential-like value only
    # What judge found of each name run (see _named).
    _runs: dict[str, tuple[bool, tuple[str, bool] | None]] = field(
        default_factory=dict, compare=False, repr=False
    )

    @classmethod
    def build(cls, extra: Iterable[str] = (), removed: Iterable[str] = ()) -> KeyNames:
        gone = {tuple(split_words(k)) for k in removed}

        def phrases(names: Iterable[str]) -> frozenset[tuple[str, ...]]:
            return frozenset(p for p in (tuple(split_words(n)) for n in names) if p and p not in gone)

        return cls(
            strong=phrases([*PASSWORD_WORDS, *extra]),
            token=phrases([*TOKEN_WORDS, *PHRASES]),
            weak=phrases(WEAK_WORDS),
        )

    def classify(self, name: str) -> tuple[str, bool] | None:
        """(the phrase a name holds, joined by `_`; whether any value of it is a secret), or None."""
        words = split_words(name)
        if words and words[-1] in METADATA_WORDS and tuple(words[-2:]) not in self.token:
            return None
        found: tuple[str, bool] | None = None
        for size in (3, 2, 1):  # the longest phrase names the rule
            for i in range(len(words) - size + 1):
                phrase = tuple(words[i : i + size])
                ends = i + size == len(words)
                if phrase in self.strong or (phrase in self.token and ends):
                    return "_".join(phrase), True
                if found is None and (phrase in self.token or phrase in self.weak):
                    found = "_".join(phrase), False
        return found

    def all(self) -> list[tuple[str, ...]]:
        return sorted(self.strong | self.token | self.weak)

    def judge(self, lead: str, prefix: str, value: str) -> bool:
        """Whether a key rule's match in text is a secret, by its whole name and its value.

        `prefix` is the match up to the value, `lead` the text just before the match (the start
        of a name the match began inside: `mon|key = 3`, `OPENAI_|API_KEY_PROD=`). Not a secret:
        a name holding no secret word (`monkey`), one describing a secret (`secret_name`), and a
        token-like name whose value does not look like a credential (`token_count: 2`)."""
        i = len(lead.rstrip(_NAME_CHARS))  # where the name the match began inside starts
        head = lead[i:]
        if i and lead[i - 1] == "%":  # a percent-encoded byte (`%3Ftoken`) is not part of the name
            head = head[2:]
        for run in reversed(_NAME_RUNS.findall(head + prefix)):
            holds, named = self._named(run)
            if holds:
                return named is not None and (named[1] or self.credential_for(named[0], value))
        return False

    def _named(self, run: str) -> tuple[bool, tuple[str, bool] | None]:
        """(whether run holds a secret word, classify(run)); remembered per run."""
        try:
            return self._runs[run]
        except KeyError:
            pass
        holds = self._holds(run)
        named = (holds, self.classify(run) if holds else None)
        if len(self._runs) >= 4096:
            self._runs.clear()
        self._runs[run] = named
        return named

    @staticmethod
    def credential_for(phrase: str, value: str) -> bool:
        """Whether a value is a credential under a name whose phrase marks only credentials: it
        looks like one, and under `key` or `auth` alone it is token-shaped."""
        shaped = phrase not in _WEAK_NAMES or _TOKEN_SHAPED.fullmatch(value.strip()) is not None
        return shaped and credential_like(value)

    def _holds(self, name: str) -> bool:
        words = split_words(name)
        return any(
            tuple(words[i : i + n]) in p
            for p in (self.strong, self.token, self.weak)
            for n in (1, 2, 3)
            for i in range(len(words) - n + 1)
        )


# The names in the text before a value (a percent-encoded byte before one is not part of it), and
# what a generic name's value must look like.
_NAME_RUNS = re.compile(r"[A-Za-z0-9_.\-]+")
_NAME_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-"
_WEAK_NAMES = frozenset(WEAK_WORDS)
_TOKEN_SHAPED = re.compile(r"[A-Za-z0-9+/=_-]{8,}")


# What a token-like name's value must look like to be taken as a credential: not a short number
# (a count, a size, a duration), a URL, or one plain word or CamelCase identifier
# (`token_type: bearer`, `key: value`, `key="SecurityIdentifier"`).
_PLAIN = re.compile(
    r"[a-z_]{1,24}|[+-]?[0-9]{1,7}(?:[.,:][0-9]{1,7})*|[A-Za-z][a-z]{2,}(?:[A-Z][a-z]{2,}){1,5}"
)


def credential_like(text: str) -> bool:
    """True for a value a token-like name could hold as a credential: six characters or more,
    not a number of up to seven digits, a plain word, a URL or a placeholder."""
    stripped = text.strip()
    if len(stripped) < 6 or "://" in stripped or not not_placeholder(stripped) or placeholder(stripped):
        return False
    if stripped.istitle() and len(stripped) <= 8:  # Bearer, Basic, None
        stripped = stripped.lower()
    return _PLAIN.fullmatch(stripped) is None


_NOT_A_VALUE = frozenset({"true", "false", "null", "none", "nil", "undefined", "0", "1"})


def secret_value(text: str) -> bool:
    """Validator of a password-like name's value: any value but references, masks, booleans and
    a vendor token's documentation placeholder (AKIAIOSFODNN7EXAMPLE); a short weak password
    (MyExample1) is still a password."""
    stripped = text.strip()
    return (
        not_placeholder(stripped)
        and stripped.lower() not in _NOT_A_VALUE
        and not (len(stripped) >= 16 and "example" in stripped.lower())
    )


def _auth_value(text: str) -> bool:
    # An Authorization header's value: the credential after its scheme word is what is judged.
    scheme, _, credential = text.strip().partition(" ")
    return _strong_value(credential.strip() if credential else scheme)


def _call(text: str) -> bool:
    # `'token' => env('JIRA_API_TOKEN', '...')`: a function call is not the value (the call's
    # arguments are searched on their own).
    return text.endswith("(") and text[:-1].replace("_", "").replace(".", "").isalnum()


def _strong_value(text: str) -> bool:
    # Any value a name could hold; whether the name wants a credential-like one is judged with
    # the name (KeyNames.judge).
    return secret_value(text) and not _call(text)


# --- the names in text -------------------------------------------------------------------------
#
# The patterns find a secret word (any case) and what follows it in the name; which name it is,
# and whether it holds a secret, is judged in Python from the whole name (`KeyNames.judge`): so
# the patterns stay small enough for RE2's DFA to keep its states however many new secrets a text
# brings (a pattern spelling out every case style and name shape made dense text 4x slower).


def _words(phrases: Iterable[tuple[str, ...]]) -> str:
    """The phrases as one case-insensitive alternation, words joined by nothing or a separator."""
    spelled = ["[_.\\- ]?".join(re.escape(w) for w in p) for p in phrases]
    return "(?i:" + "|".join(sorted(spelled, key=lambda w: (-len(w), w))) + ")"


# What may follow the secret word in a name: nothing, or a non-lowercase character and the rest
# (`_PROD`, `2`, `Prod`): `passed`, `tokenizer` and `keyword` are not names holding `pass`,
# `token` and `key`.
_TAIL = r"(?:[A-Z0-9_.\-][A-Za-z0-9_.\-]*)?"
_IDENT = r"[A-Za-z0-9_.\-]*"

# Between a key and its value: `=`, `:`, Go's `:=`, Make's `::=`, `:::=` and `?=`, `+=`, PHP's
# `.=`, `??=`, Ruby's and logstash's `=>`, comparisons (`==`, `!==`), also percent-encoded; a
# type between a name and `=` (`var token string = "..."`, `String token = "..."`), a C array
# (`char secret[25] = "..."`).
_ASSIGN = (
    r"(?:[ \t]|%20)*(?::{1,3}=|[.?+]=|\?\?=|=>|[!=]={1,2}|[:=]|%3[adAD])"
    r"|[ \t]+[A-Za-z_][A-Za-z0-9_.\[\]<>]*[ \t]*="
    r"|\[[0-9]*\][ \t]*="
)
# A quoted value, to its closing quote whatever it holds (or to the line's end when it never
# closes); quotes escaped once or more (JSON inside a JSON string); or a bare value to the end of
# its token, brackets included. None holds `…`, which starts lclog's own `…[truncated N chars]`.
_QUOTED = (
    r"@?\"((?:[^\"\\\n…]|\\.)+)|@?'((?:[^'\\\n…]|\\.)+)|`([^`\n…]+)"
    r"|\\+\"((?:[^\"\\\n…]|\\+[^\"\\\n…])+)|\\+'((?:[^'\\\n…]|\\+[^'\\\n…])+)"
)
_BARE = r"(?:%2[27])?([^\s,;&\"'`{}\[\]()<>\\=:…][^\s,;&\"'`…]*)"
_VALUE = f"(?:{_QUOTED}|{_BARE})"
_SPACES = r"(?:[ \t]|%20)*"


def key_value_rules(names: KeyNames) -> tuple[Rule, ...]:
    """The key rules in text: `key=value` and every other assignment, `"key": "value"`,
    `<key>value</key>`, `("KEY", "value")`, `key "value"`, config lines."""
    what = "values of names that hold secrets, written inside text"
    words = _words(names.all())
    strong = _words(names.strong)
    name = f"{words}(?-i:{_TAIL})"
    assign = rf"(?:{QUOTE}|%2[27])?(?:{_ASSIGN}){_SPACES}"
    return (
        Rule(
            "key_value",
            # An Authorization header whose scheme the bearer_token rule did not take (its
            # credential a placeholder-like shape): scheme and credential together.
            rf"\b(?i:(?:proxy[-_]?)?authorization){assign}"
            r"((?:[A-Za-z][A-Za-z0-9-]{0,30}[ \t]+)?[^\s,;&\"'`]+)",
            f"{what} (Authorization headers with any scheme)",
            validator=_auth_value,
            group=1,
        ),
        Rule(
            "key_value",
            # A config line (`.env`, YAML, INI) whose name is password-like: the rest of the line,
            # spaces and all (`DB_PASSWORD: correct horse battery staple`).
            rf"(?m)^[ \t]*(?:export[ \t]+)?{_IDENT}{strong}(?-i:{_TAIL})[ \t]*[:=][ \t]*"
            r"([^\s\"'`{}\[\]|>&*!…][^\n…]*)",
            f"{what} (config lines: the rest of the line)",
            validator=_strong_value,
            context=names.judge,
            group=1,
        ),
        Rule(
            "key_value",
            rf"{name}(?:{assign}{_VALUE}|[ \t]+(?:{_QUOTED})|\([ \t]*(?:{_QUOTED}))",
            f"{what} (query strings, also URL-encoded, headers, JSON, .env, source code, any "
            'assignment operator, `password "x"`, `secret("x")`)',
            validator=_strong_value,
            context=names.judge,
            group=-1,
        ),
        Rule(
            "key_value",
            # An XML or HTML element: its text, to the closing tag whatever it holds.
            rf"<(?:[A-Za-z][A-Za-z0-9_.-]*:)?{_IDENT}{name}(?:[ \t][^>\n]*)?>[ \t\r\n]*([^<\n…]+)",
            f"{what} (XML and HTML elements)",
            validator=secret_value,
            context=names.judge,
            group=1,
        ),
        Rule(
            "key_value",
            # A call's first two arguments: setProperty("API_TOKEN", "value").
            rf"\(\s*{QUOTE}{_IDENT}{name}{QUOTE}[ \t]*,[ \t]*(?:\"([^\"\\\n]+)\"|'([^'\\\n]+)')",
            f"{what} (call arguments)",
            validator=secret_value,
            context=names.judge,
            group=-1,
        ),
    )
