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
from dataclasses import dataclass

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

    def judge(self, before: str, value: str) -> bool:
        """Whether a key rule's match in text is a secret, by its name (in `before`, the text the
        match holds before the value) and its value: not when the name only describes a secret
        (`secret_name`), and a generic name (`key`, `auth`) only with a token-shaped value."""
        for run in _NAME_RUNS.findall(before):
            found = self.classify(run)
            if found is not None:
                return found[1] or self.credential_for(found[0], value)
            words = split_words(run)
            if words and words[-1] in METADATA_WORDS and self._holds(run):
                return False
        return True

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


# The names in the text before a value, and what a generic name's value must look like.
_NAME_RUNS = re.compile(r"[A-Za-z0-9_.\-]+")
_WEAK_NAMES = frozenset(WEAK_WORDS)
_TOKEN_SHAPED = re.compile(r"[A-Za-z0-9+/=_-]{8,}")


# What a token-like name's value must look like to be taken as a credential: not a short number
# (a count, a size, a duration), a URL, or one plain word (`token_type: bearer`, `key: value`).
_PLAIN = re.compile(r"[a-z_]{1,24}|[+-]?[0-9]{1,7}(?:[.,:][0-9]{1,7})*")


def credential_like(text: str) -> bool:
    """True for a value a token-like name could hold as a credential: six characters or more,
    not a number of up to seven digits, a plain word, a URL or a placeholder."""
    stripped = text.strip()
    if len(stripped) < 6 or "://" in stripped or not not_placeholder(stripped) or placeholder(stripped):
        return False
    return _PLAIN.fullmatch(stripped.lower()) is None


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
    return secret_value(text) and not _call(text)


def _token_value(text: str) -> bool:
    return credential_like(text) and not _call(text)


# --- the names in text -------------------------------------------------------------------------

_SEP_RUN = r"[_.\-]"


def _forms(phrase: tuple[str, ...]) -> tuple[str, str, str]:
    """A phrase as lowercase, Capitalized and UPPERCASE words (`api[_.-]?key`, `Api[_.-]?Key`, ...)."""
    join = f"{_SEP_RUN}?"
    lower = join.join(re.escape(w) for w in phrase)
    capital = join.join(re.escape(w.capitalize()) for w in phrase)
    upper = join.join(re.escape(w.upper()) for w in phrase)
    return lower, capital, upper


def _alternatives(phrases: Iterable[tuple[str, ...]]) -> tuple[str, str, str]:
    forms = [_forms(p) for p in sorted(phrases, key=lambda p: (-len("".join(p)), p))]
    return tuple("|".join(f[i] for f in forms) for i in range(3))  # type: ignore[return-value]


def _name(phrases: Iterable[tuple[str, ...]], *, tail: bool) -> str:
    """A name holding one of phrases, in any case style; with `tail`, words may follow it."""
    lower, capital, upper = _alternatives(phrases)
    lead = rf"{_SEP_RUN}*(?:[A-Za-z0-9]+{_SEP_RUN}+)*"  # _, my_, OPENAI_, app.
    camel_lead = r"(?:[a-z][a-z0-9]*|[A-Z][a-z0-9]*)(?:[A-Z][a-z0-9]*)*"  # my, api, dbAdmin
    if tail:
        after = rf"(?:{_SEP_RUN}*[0-9]+|{_SEP_RUN}+[A-Za-z0-9]+)*"  # _2, _PROD, .ro, -v2
        camel = r"(?:[0-9]*[A-Z][A-Za-z0-9]*)?"  # Prod, V2
    else:
        after = camel = ""
    return (
        rf"\b(?:%[0-9A-Fa-f]{{2}})?(?:{lead}(?-i:(?:{lower}){camel}|(?:{capital}){camel}|(?:{upper}))"
        rf"|{lead}{camel_lead}(?-i:(?:{capital}){camel})){after}\b"
    )


# Between a key and its value: `=`, `:`, Go's `:=`, Make's `::=`, `:::=` and `?=`, `+=`, PHP's
# `.=`, `??=`, Ruby's and logstash's `=>`, comparisons (`==`, `!==`), also percent-encoded; a
# type between a name and `=` (`var token string = "..."`, `String token = "..."`), a C array
# (`char secret[25] = "..."`), or a call with the value first (`secret("...")`).
_ASSIGN = (
    r"(?:[ \t]|%20)*(?::{1,3}=|[.?+]=|\?\?=|=>|[!=]={1,2}|[:=]|%3[adAD])"
    r"|[ \t]+[A-Za-z_][A-Za-z0-9_.\[\]<>]{0,40}[ \t]*="
    r"|\[[0-9]{0,6}\][ \t]*="
)
# A quoted value, to its closing quote whatever it holds (or to the line's end when it never
# closes); quotes escaped once or more (JSON inside a JSON string); or a bare value to the end of
# its token, brackets included.
# None holds `…`, which starts lclog's own `…[truncated N chars]`.
_QUOTED = (
    r"@?\"((?:[^\"\\\n…]|\\.)+)|@?'((?:[^'\\\n…]|\\.)+)|`([^`\n…]+)"
    r"|\\+\"((?:[^\"\\\n…]|\\+[^\"\\\n…])+)|\\+'((?:[^'\\\n…]|\\+[^'\\\n…])+)"
)
_BARE = r"(?:%2[27])?([^\s,;&\"'`{}\[\]()<>\\=:…][^\s,;&\"'`…]*)"
_VALUE = f"(?:{_QUOTED}|{_BARE})"
_SPACES = r"(?:[ \t]|%20)*"


def key_value_rules(names: KeyNames) -> tuple[Rule, ...]:
    """The key rules in text: `key=value` and every other assignment, `"key": "value"`,
    `<key>value</key>`, `("KEY", "value")`, `key "value"`, `"value" == key`."""
    what = "values of names that hold secrets, written inside text"
    everything = names.all()
    strong = _name(names.strong, tail=True) + "|" + _name(names.token, tail=False)
    token = _name(names.token, tail=True) + "|" + _name(names.weak, tail=True)
    assign = rf"(?:{QUOTE}|%2[27])?(?:{_ASSIGN}){_SPACES}"
    rules = [
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
            rf"(?m)^[ \t]*(?:export[ \t]+)?(?:{_name(names.strong, tail=True)})[ \t]*[:=][ \t]*"
            r"([^\s\"'`{}\[\]|>&*!…][^\n…]*)",
            f"{what} (config lines: the rest of the line)",
            validator=_strong_value,
            context=names.judge,
            group=1,
        ),
        Rule(
            "key_value",
            rf"(?:{strong})(?:{assign}{_VALUE}|[ \t]+(?:{_QUOTED})|\([ \t]*(?:{_QUOTED}))",
            f"{what} (query strings, also URL-encoded, headers, JSON, .env, source code, any "
            'assignment operator, `password "x"`)',
            validator=_strong_value,
            context=names.judge,
            group=-1,
        ),
        Rule(
            "key_value",
            rf"(?:{token})(?:{assign}{_VALUE}|[ \t]+(?:{_QUOTED}))",
            f"{what} (names whose secret word does not end them, or `key`, `auth`: credential-like values)",
            validator=_token_value,
            context=names.judge,
            group=-1,
        ),
    ]
    any_name = _name(everything, tail=True)
    rules.append(
        Rule(
            "key_value",
            # An XML or HTML element: its text, to the closing tag whatever it holds.
            rf"<(?:[A-Za-z][A-Za-z0-9_.-]*:)?(?:{any_name})(?:[ \t][^>\n]{{0,200}})?>[ \t\r\n]*([^<\n…]+)",
            f"{what} (XML and HTML elements)",
            validator=secret_value,
            context=names.judge,
            group=1,
        )
    )
    rules.append(
        Rule(
            "key_value",
            # A call's first two arguments: setProperty("API_TOKEN", "value"); a comparison
            # with the value first: if ("value" == password).
            rf"\(\s*{QUOTE}[A-Za-z0-9_.-]{{0,40}}(?:{any_name}){QUOTE}[ \t]*,[ \t]*"
            r"(?:\"([^\"\\\n]+)\"|'([^'\\\n]+)')"
            rf"|\"([^\"\\\n]+)\"[ \t]*[!=]==?[ \t]*(?:{any_name})",
            f"{what} (call arguments, comparisons)",
            validator=secret_value,
            group=-1,
        )
    )
    return tuple(rules)
