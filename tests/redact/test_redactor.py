"""Redaction: every built-in secret kind, look-alikes, modes, custom rules, and hostile patterns."""

from __future__ import annotations

import contextlib
import re
import string
import uuid
import warnings
from typing import Any
from urllib.parse import quote

import orjson
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from langchain_core.callbacks import dispatch_custom_event
from langchain_core.runnables import RunnableLambda
from langchain_core.tools import tool

from lclog import ConfigError, LoggingCallbackHandler, Redactor, load_config
from lclog.config import RedactionSettings
from lclog.outputs import MemoryOutput
from lclog.redact.rules import BUILTIN_RULES, iban_ok, luhn, placeholder

ALNUM = string.ascii_letters + string.digits


def _text(alphabet: str, lo: int, hi: int) -> st.SearchStrategy[str]:
    # Documentation placeholders (xxxx, 0000, abcdefgh, EXAMPLE) are left alone by design.
    return st.text(alphabet=alphabet, min_size=lo, max_size=hi).filter(lambda s: not placeholder(s))


@st.composite
def card(draw: Any) -> str:
    digits = [draw(st.sampled_from("3456"))] + [draw(st.integers(0, 9)) for _ in range(14)]
    digits = [int(d) for d in digits]
    for check in range(10):
        if luhn("".join(map(str, [*digits, check]))):
            break
    number = "".join(map(str, [*digits, check]))
    if draw(st.booleans()):
        return " ".join(number[i : i + 4] for i in range(0, 16, 4))
    return number


@st.composite
def iban(draw: Any) -> str:
    bban = "".join(str(draw(st.integers(0, 9))) for _ in range(18))
    for check in range(2, 99):
        candidate = f"DE{check:02d}{bban}"
        if iban_ok(candidate):
            return candidate
    raise AssertionError("no check digits")


@st.composite
def ssn(draw: Any) -> str:
    area = draw(st.integers(1, 899).filter(lambda a: a != 666))
    return f"{area:03d}-{draw(st.integers(1, 99)):02d}-{draw(st.integers(1, 9999)):04d}"


SECRETS: dict[str, st.SearchStrategy[str]] = {
    "email": st.builds(
        lambda a, b, c: f"{a}@{b}.{c}",
        _text(string.ascii_lowercase + string.digits, 1, 12),
        _text(string.ascii_lowercase, 2, 10),
        st.sampled_from(["com", "io", "org", "co.uk"]),
    ),
    "aws_access_key_id": st.builds(
        lambda s: "AKIA" + s, _text(string.ascii_uppercase + string.digits, 16, 16)
    ),
    "github_token": st.builds(lambda s: "ghp_" + s, _text(ALNUM, 36, 40)),
    "github_fine_grained_token": st.builds(lambda s: "github_pat_" + s, _text(ALNUM + "_", 30, 60)),
    "openai_key": st.builds(lambda s: "sk-proj-" + s, _text(ALNUM, 24, 48)),
    "anthropic_key": st.builds(lambda s: "sk-ant-api03-" + s, _text(ALNUM, 24, 48)),
    "slack_token": st.builds(lambda s: "xoxb-1234-" + s, _text(ALNUM, 12, 24)),
    "slack_webhook": st.builds(lambda s: "https://hooks.slack.com/services/T0/B0/" + s, _text(ALNUM, 24, 24)),
    "stripe_key": st.builds(lambda s: "sk_live_" + s, _text(ALNUM, 24, 30)),
    "google_api_key": st.builds(lambda s: "AIza" + s, _text(ALNUM + "_-", 35, 35)),
    "huggingface_token": st.builds(lambda s: "hf_" + s, _text(ALNUM, 34, 34)),
    "groq_key": st.builds(lambda s: "gsk_" + s, _text(ALNUM, 52, 52)),
    "replicate_token": st.builds(lambda s: "r8_" + s, _text(ALNUM, 37, 37)),
    "gitlab_token": st.builds(lambda s: "glpat-" + s, _text(ALNUM + "_-", 20, 20)),
    "aws_bedrock_api_key": st.builds(lambda s: "ABSK" + s, _text(ALNUM + "+/", 120, 140)),
    "npm_token": st.builds(lambda s: "npm_" + s, _text(ALNUM, 36, 36)),
    "sendgrid_key": st.builds(
        lambda a, b: f"SG.{a}.{b}", _text(ALNUM + "_-", 22, 22), _text(ALNUM + "_-", 43, 43)
    ),
    "jwt": st.builds(
        lambda a, b, c: f"eyJ{a}.eyJ{b}.{c}", _text(ALNUM, 10, 30), _text(ALNUM, 10, 60), _text(ALNUM, 20, 43)
    ),
    "private_key": st.builds(
        lambda s: f"-----BEGIN RSA PRIVATE KEY-----\n{s}\n-----END RSA PRIVATE KEY-----",
        _text(ALNUM + "+/", 40, 120),
    ),
    "bearer_token": st.builds(lambda s: "Bearer " + s, _text(ALNUM + "-._", 20, 40)),
    "url_credentials": st.builds(
        lambda u, p: f"postgres://{u}:{p}@db.internal:5432/app", _text(ALNUM, 3, 10), _text(ALNUM, 8, 20)
    ),
    "credit_card": card(),
    "iban": iban(),
    "us_ssn": ssn(),
    "phone": st.builds(
        lambda a, b, c: f"+1 {a}-{b}-{c}",
        st.integers(200, 999),
        st.integers(200, 999),
        st.integers(1000, 9999),
    ),
    "ipv4": st.builds(lambda *o: ".".join(map(str, o)), *[st.integers(1, 254)] * 4),
    "key_value": st.builds(
        lambda form, kv: form.format(k=kv[0], v=kv[1]),
        st.sampled_from(
            [
                "{k}={v}",
                '"{k}": "{v}"',
                "{k}: '{v}'",
                '{k} := "{v}"',
                "{k} => '{v}'",
                "{k} ::= {v}",
                "{k} ?= {v}",
                "<{k}>{v}</{k}>",
                '{k} "{v}";',
                'if ({k} == "{v}")',
                "export {k}={v}",
            ]
        ),
        st.one_of(
            # names any value of which is a secret
            st.tuples(
                st.sampled_from(
                    [
                        "password",
                        "api_key",
                        "client_secret",
                        "X-Api-Key",
                        "access_token",
                        "OPENAI_API_KEY",
                        "DATABASE_PASSWORD_RO",
                        "DB_PASS",
                        "client_secret_2",
                        "dbPwd",
                        "my_pw",
                        "passphrase",
                    ]
                ),
                _text(ALNUM, 10, 30),
            ),
            # token-like names with a tag after the secret word: a credential-like value
            st.tuples(
                st.sampled_from(
                    ["OPENAI_API_KEY_PROD", "API_KEY_2", "SLACK_TOKEN_2", "AUTH_TOKEN_V2", "apiKeyProd"]
                ),
                _text(ALNUM, 10, 30).filter(lambda v: any(c.isdigit() for c in v)),
            ),
        ),
    ),
    "pypi_token": st.builds(lambda s: "pypi-AgEIcHlwaS5vcmc" + s, _text(ALNUM + "_-", 60, 120)),
    "discord_token": st.builds(
        lambda a, b, c: f"M{a}.{b}.{c}", _text(ALNUM, 23, 25), _text(ALNUM, 6, 6), _text(ALNUM, 27, 38)
    ),
    "telegram_token": st.builds(lambda n, s: f"1{n}:AA{s}", _text(string.digits, 8, 9), _text(ALNUM, 33, 33)),
    "twilio_key": st.builds(lambda s: "SK" + s, _text("0123456789abcdef", 32, 32)),
    "square_token": st.builds(lambda s: "sq0csp-" + s, _text(ALNUM + "_-", 43, 43)),
    "new_relic_key": st.builds(lambda s: "NRAK-" + s, _text(string.ascii_uppercase + string.digits, 27, 27)),
    "artifactory_token": st.builds(lambda s: "AKCp8" + s, _text(ALNUM, 68, 68)),
    "mailchimp_key": st.builds(lambda s: s + "-us14", _text("0123456789abcdef", 32, 32)),
    "password_hash": st.builds(
        lambda salt, h: f"$6$rounds=5000${salt}${h}", _text(ALNUM + "./", 8, 16), _text(ALNUM + "./", 86, 86)
    ),
}
# A key's value in a query string.
QUERY_PARAMETER = st.builds(
    lambda k, v: f"{k}={v}",
    st.sampled_from(["password", "api_key", "client_secret", "X-Api-Key", "access_token", "DB_PASS"]),
    _text(ALNUM, 10, 30),
)


def _value_of(key_value: str) -> str:
    """The value in a generated key-value shape: an XML element's text, else the last run of
    letters and digits after the last `=` (the value follows the name in every shape)."""
    element = re.search(r">([^<]+)</", key_value)
    if element:
        return element.group(1)
    return re.findall(r"[A-Za-z0-9]{10,30}", key_value.split("=")[-1])[-1]


# The part of each generated value that must never appear in output.
SECRET_PART = {
    "bearer_token": lambda s: s.split(" ", 1)[1],
    "url_credentials": lambda s: s.split("//", 1)[1].split("@", 1)[0],
    "key_value": lambda s: _value_of(s),
    "password_hash": lambda s: s.rsplit("$", 1)[1],
    "private_key": lambda s: s.split("\n")[1],  # the base64 body
}
# Prose around a secret; its words can never spell a generated secret by chance.
WORDS = ["the", "model", "said", "Hello", "order", "ship", "today", "see", "it's", "(ok)", "—", "über", "\n"]
FILLER = st.lists(st.sampled_from(WORDS), max_size=8).map(" ".join)


@st.composite
def embedded(draw: Any) -> tuple[str, str, Any]:
    kind = draw(st.sampled_from(sorted(SECRETS)))
    secret = draw(SECRETS[kind])
    text = f"{draw(FILLER)} {secret} {draw(FILLER)}"
    shape = draw(st.sampled_from(["str", "dict", "list", "deep", "key"]))
    value: Any = {
        "str": text,
        "dict": {"note": text, "n": 1},
        "list": ["x", text, None],
        "deep": {"a": [{"b": {"c": [text]}}]},
        "key": {text: "value"},
    }[shape]
    return kind, SECRET_PART.get(kind, lambda s: s)(secret), value


REDACTOR = Redactor()


def test_every_builtin_rule_has_a_generator():
    assert {r.name for r in BUILTIN_RULES} - set(SECRETS) <= {"aws_secret_access_key", "high_entropy_secret",
                                                             "ipv6"}  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(embedded())
def test_no_builtin_secret_survives_anywhere_in_a_value(case):
    kind, secret, value = case
    out = orjson.dumps(REDACTOR.redact_value(value)).decode()
    assert secret not in out, (kind, out)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(SECRETS)).flatmap(lambda k: st.tuples(st.just(k), SECRETS[k])), FILLER,
       st.integers(1, 2))  # fmt: skip
def test_no_builtin_secret_survives_inside_json_encoded_text(case, filler, times):
    # A tool argument or a model's output often carries JSON as a string, itself inside JSON.
    kind, secret = case
    text, part = f"{filler} {secret} {filler}", SECRET_PART.get(kind, lambda s: s)(secret)
    for _ in range(times):
        text, part = orjson.dumps({"arg": text}).decode(), orjson.dumps(part).decode()[1:-1]
    out = REDACTOR.redact_text(text)
    assert part not in out, (kind, out)


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(SECRETS["email"].map(lambda s: ("email", s)), QUERY_PARAMETER.map(lambda s: ("key_value", s)))
)
def test_emails_and_key_values_survive_no_url_encoding(case):
    # A callback URL carried inside another URL's query string is percent-encoded.
    kind, secret = case
    part = quote(SECRET_PART.get(kind, lambda s: s)(secret), safe="")
    text = "https://app.example/login?next=" + quote(f"https://idp.example/cb?x=1&{secret}&y=2", safe="")
    assert part not in REDACTOR.redact_text(text), (kind, text)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.one_of(SECRETS["email"], SECRETS["openai_key"], SECRETS["credit_card"], FILLER), max_size=6),
    st.sampled_from(["mask", "hash", "partial"]),
)
def test_redaction_is_idempotent(parts, mode):
    redactor = Redactor(RedactionSettings(mode=mode, hash_key="k"))
    once = redactor.redact_text(" ".join(parts))
    assert redactor.redact_text(once) == once


BENIGN = st.one_of(
    st.uuids().map(str),
    st.binary(min_size=20, max_size=20).map(lambda b: b.hex()),  # git SHA-1
    st.tuples(st.integers(0, 30), st.integers(0, 30), st.integers(0, 99)).map(
        lambda t: ".".join(map(str, t))
    ),
    st.dates().map(lambda d: d.isoformat()),
    st.datetimes().map(lambda d: d.isoformat()),
    st.decimals(min_value=0, max_value=99999, places=2).map(lambda d: f"${d}"),
    st.integers(0, 10**9).map(str),
    st.sampled_from(
        ["max_tokens: 256", "temperature=0.7", "the token count was 42", "key points:", "signature: f(x)"]
    ),
)


@settings(max_examples=300, deadline=None)
@given(BENIGN, FILLER)
def test_benign_lookalikes_survive(value, filler):
    text = f"{filler} {value} end"
    assert REDACTOR.redact_text(text) == text


# What documentation writes in a secret's place, as the docs of `placeholder` list it.
_PLACEHOLDER_SHAPES = re.compile(
    r"example|xxxxxxxx|00000000|11111111|\*{8}|#{8}|abcdefgh|bcdefghi|qrstuvwx|12345678|23456789|34567890"
)


# The shapes, cut short, and the characters that complete them: texts that hold them and texts
# that nearly do.
_NEAR_PLACEHOLDER = st.sampled_from(
    ["exampl", "EXAMPL", "e", "E", "xxxxxxx", "X", "*******", "*", "#######", "#", "0000000", "0",
     "1111111", "1", "abcdefg", "bcdefgh", "h", "i", "qrstuvw", "x", "1234567", "8", "9", "İ"]
)  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(st.lists(st.one_of(_NEAR_PLACEHOLDER, st.characters()), max_size=8).map("".join))
def test_placeholder_flags_exactly_the_documented_shapes(text):
    assert placeholder(text) == (_PLACEHOLDER_SHAPES.search(text.lower()) is not None)


# A Discord bot token as the rule has always defined it: an M, N or O, 23-25 token characters, a
# dot, 6, a dot, 27-38, wherever it starts (inside a longer run too).
_DISCORD_SHAPE = re.compile(r"[MNO][A-Za-z0-9_-]{23,25}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,38}")
_TOKEN_CHARS = ALNUM + "_-"


@settings(max_examples=400, deadline=None)
@given(
    _text(_TOKEN_CHARS + "MNO" * 8, 1, 40),
    _text(_TOKEN_CHARS, 6, 6),
    _text(_TOKEN_CHARS, 27, 38),
    st.sampled_from(["", " ", "token: ", '"', "x"]),
)
def test_a_discord_token_is_found_wherever_its_run_starts(first, middle, last, before):
    text = f"{before}{first}.{middle}.{last} end"
    assume(not placeholder(text))  # documentation placeholders are left alone by design
    shaped = _DISCORD_SHAPE.search(text)
    out = REDACTOR.redact_text(text)
    if shaped is None:  # no token: nothing in the shape is taken for one
        assert "discord_token" not in out
    else:
        assert ("[REDACTED:key_value]" if before == "token: " else "[REDACTED:discord_token]") in out, out
        assert shaped.group()[:8] not in out and shaped.group()[-8:] not in out, out


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 9), min_size=11, max_size=21), st.sampled_from(["", " ", "-"]))
def test_card_checksum_is_the_textbook_luhn(digits, separator):
    total = 0
    for i, d in enumerate(reversed(digits)):
        total += d if i % 2 == 0 else (2 * d - 9 if d > 4 else 2 * d)
    textbook = 13 <= len(digits) <= 19 and total % 10 == 0 and len(set(digits)) > 1
    number = "".join(map(str, digits))
    written = separator.join(number[i : i + 4] for i in range(0, len(number), 4))
    assert luhn(written) == textbook


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail bob@corp.io now", "mail [REDACTED:email] now"),
        ("Authorization: Bearer q8Wz3LmN0pX7vR2s", "Authorization: Bearer [REDACTED:bearer_token]"),
        (
            "Authorization: Api-Token 22cb987851bc5659l29114c62e",
            "Authorization: Api-Token [REDACTED:bearer_token]",
        ),
        ('gitlabToken := "glft-qahmy48orck96o0r0zr5"', 'gitlabToken := "[REDACTED:key_value]"'),
        ("$secret .= 'hunter2hunter'", "$secret .= '[REDACTED:key_value]'"),
        ("<apiToken>\n  s3cr3tValue9\n</apiToken>", "<apiToken>\n  [REDACTED:key_value]\n</apiToken>"),
        ('setProperty("DB_PASSWORD", "hunter22")', 'setProperty("DB_PASSWORD", "[REDACTED:key_value]")'),
        ("password=$DB_PASSWORD", "password=$DB_PASSWORD"),
        ("ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
        ("password=abcdefgh", "password=[REDACTED:key_value]"),
        ("xapp-1-A052FGTS2DL-5171572773297-610b6a11f4b7", "[REDACTED:slack_token]"),
        ("hooks.slack.com/services/T024TTTTT/BBB72BBL/AZAAA9u0pA4ad666eMgbi555", "[REDACTED:slack_webhook]"),
        ("SSN 078.05.1123 or 078 05 1123", "SSN [REDACTED:us_ssn] or [REDACTED:us_ssn]"),
        (
            "-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQWGBGSVV4YBDAClvRnx\n"
            "-----END PGP PRIVATE KEY BLOCK-----",
            "[REDACTED:private_key]",
        ),
        ("curl -H 'X-Api-Key: 12345abcdef'", "curl -H 'X-Api-Key: [REDACTED:key_value]'"),
        ('{"password": "hunter2", "user": "bob"}', '{"password": "[REDACTED:key_value]", "user": "bob"}'),
        ("https://x.io/cb?token=abc123&page=2", "https://x.io/cb?token=[REDACTED:key_value]&page=2"),
        ("OPENAI_API_KEY=whatever123", "OPENAI_API_KEY=[REDACTED:key_value]"),
        ("app.secret.key=abc123xyz", "app.secret.key=[REDACTED:key_value]"),  # .properties files
        # JSON inside a JSON string, escaped quotes inside a value, a quote that never closes
        ('{\\"password\\": \\"hunter2\\"}', '{\\"password\\": \\"[REDACTED:key_value]\\"}'),
        ('{"password": "a\\"b\\\\c", "n": 1}', '{"password": "[REDACTED:key_value]", "n": 1}'),
        # a quote that never closes: to the line's end, whatever it holds
        ("token: 'abc123 and more\nnext", "token: '[REDACTED:key_value]\nnext"),
        # inside a URL-encoded URL (a redirect target carried in a query string)
        ("next=https%3A%2F%2Fx.io%2Fcb%3Ftoken%3Dabc123%26page%3D2", None),
        ("to=jane.doe%40example.com&x=1", "to=[REDACTED:email]&x=1"),
        # presigned URLs: the signature is the credential
        (
            "https://b.s3.amazonaws.com/k?X-Amz-Expires=60&X-Amz-Signature=9f8e7d6c5b4a&x=1",
            "https://b.s3.amazonaws.com/k?X-Amz-Expires=60&X-Amz-Signature=[REDACTED:key_value]&x=1",
        ),
        (
            "https://a.blob.core.windows.net/c?sv=2022&sig=Ab%2Fcd%3D",
            "https://a.blob.core.windows.net/c?sv=2022&sig=[REDACTED:key_value]",
        ),
        ('{\\"id\\": \\"aB3dE5fG7hJ9kL1mN3pQ5rS7\\"}', '{\\"id\\": \\"[REDACTED:high_entropy_secret]\\"}'),
        # a run of token characters in a Discord token's shape, without its M, N or O
        (
            "httpZq8Wd2LmRt5Yv1Kp0Xs7Bc3Jh.aB3dE5.Qw3rTy7uIo9pAs1dFg5hJk8lZx2cVb",
            "httpZq8Wd2LmRt5Yv1Kp0Xs7Bc3Jh.aB3dE5.Qw3rTy7uIo9pAs1dFg5hJk8lZx2cVb",
        ),
        ("card 4111111111111111 ok", "card [REDACTED:credit_card] ok"),
        ("card 4111111111111112 ok", "card 4111111111111112 ok"),  # fails Luhn
        ("iban GB82 WEST 1234 5698 7654 32", "iban [REDACTED:iban]"),
        ("ssn 666-12-3456 is invalid", "ssn 666-12-3456 is invalid"),
        ("from 10.0.0.1 to 999.1.1.1", "from [REDACTED:ipv4] to 999.1.1.1"),
        ("ip fe80::1ff:fe23:4567:890a", "ip [REDACTED:ipv6]"),
        ("run 01a2105e-5c13-76b7-8e69-92b80c9da44e", "run 01a2105e-5c13-76b7-8e69-92b80c9da44e"),
        ('aws_secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"', None),
        ('client_id = "aB3dE5fG7hJ9kL1mN3pQ5rS7"', 'client_id = "[REDACTED:high_entropy_secret]"'),
    ],
)
def test_rule_examples(text, expected):
    out = REDACTOR.redact_text(text)
    if expected is None:
        assert "wJalrXUtnFEMI" not in out and "abc123" not in out
    else:
        assert out == expected


ENCRYPTED_PEM = """-----BEGIN RSA PRIVATE KEY-----
Proc-Type: 4,ENCRYPTED
DEK-Info: AES-128-CBC,3F17F5316E2BAC89

MIIEpAIBAAKCAQEA7bq0X1oYq+Zs
abcDEF123+/==
-----END RSA PRIVATE KEY-----"""


@pytest.mark.parametrize(
    "text",
    [
        f"key:\n{ENCRYPTED_PEM}\nthanks",
        orjson.dumps({"key": ENCRYPTED_PEM, "user": "bob"}).decode(),  # newlines escaped as \n
        'k = "-----BEGIN PRIVATE KEY-----\\n" + "MIIEpAIBAAKCAQEA7bq0X1oYq\\n" + "-----END PRIVATE KEY-----"',
        "cut -----BEGIN EC PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7bq0X1oYq. next sentence",
        orjson.dumps({"key": "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7bq0X1oYq"}).decode(),
    ],
)
def test_private_keys_are_redacted_whole_when_encrypted_escaped_or_cut_off(text):
    out = REDACTOR.redact_text(text)
    assert "[REDACTED:private_key]" in out
    assert not any(part in out for part in ("MIIE", "abcDEF", "3F17F5", "ENCRYPTED"))


def test_key_rules_replace_whole_values_at_any_depth():
    value = {
        "config": {"Api-Key": "x", "headers": [{"authorization": {"nested": "abc"}}]},
        "db_password": 1234,
    }
    assert REDACTOR.redact_value(value) == {
        "config": {
            "Api-Key": "[REDACTED:api_key]",
            "headers": [{"authorization": "[REDACTED:authorization]"}],
        },
        "db_password": "[REDACTED:password]",
    }
    usage = {"max_tokens": 5, "input_tokens": 3, "token_count": 2}
    assert REDACTOR.redact_value(usage) == usage


def test_modes_hash_partial_drop():
    r = Redactor(
        RedactionSettings(hash_key="k1", modes={"email": "hash", "credit_card": "partial", "ipv4": "drop"})
    )
    a = r.redact_text("a@b.io and a@b.io and c@d.io")
    tags = a.split(" and ")
    assert (
        tags[0] == tags[1] != tags[2]
        and tags[0].startswith("[email:")
        and len(tags[0]) == len("[email:]") + 12
    )
    assert (
        Redactor(RedactionSettings(hash_key="k2", modes={"email": "hash"})).redact_text("a@b.io") != tags[0]
    )
    assert r.redact_text("pay 4111 1111 1111 1111") == "pay [REDACTED:credit_card:…1111]"
    assert r.redact_text("host 10.1.2.3 up") == "host  up"


def test_explain_reports_rules_and_offsets_without_revealing_secrets():
    token = "ghp_" + "q8Wz3LmN0pX7vR2s" * 2 + "k9Tb"
    text = "hi bob@corp.io key " + token
    findings = REDACTOR.explain(text)
    assert [(f.rule, text[f.start : f.end]) for f in findings] == [
        ("email", "bob@corp.io"),
        ("github_token", token),
    ]
    assert all("a" * 10 not in f.preview and "corp" not in f.preview for f in findings)


def test_fails_closed_when_a_rule_raises(monkeypatch):
    r = Redactor()

    def broken(data: bytes) -> Any:
        raise RuntimeError("rule exploded")

    monkeypatch.setattr(r, "_scan", broken)
    assert r.redact_text("write to bob@corp.io") == "[REDACTED:redaction_failed]"


@pytest.mark.parametrize(
    ("regex", "reason"),
    [
        (r"(a+)\1", "cannot compile `(a+)\\1`: invalid escape sequence: \\1; backreferences"),
        (r"foo(?=bar)", "invalid perl operator: (?=; lookaround"),
        (r"(unclosed", "missing ): (unclosed; fix the pattern's syntax"),
        (r"EMP-[0-9", "missing ]: [0-9; fix the pattern's syntax"),
        (r"a*", "matches the empty string"),
        (r"\b", "matches the empty string"),
        (r"(?m)x?$", "matches the empty string"),
        (r"(?:EMP-\d+)?\B", "matches the empty string"),
    ],
)
def test_bad_custom_patterns_fail_at_load_naming_the_rule(regex, reason):
    with pytest.raises(ConfigError) as info:
        load_config({"redaction": {"patterns": [{"name": "my_rule", "regex": regex}]}})
    message = str(info.value)
    assert "redaction.patterns.my_rule: " in message and reason in message
    assert "b'" not in message and "\\\\" not in message  # no bytes repr, no doubled backslashes


def test_unknown_rule_names_fail_at_load():
    with pytest.raises(
        ConfigError, match=r"redaction.disable\[0\]: unknown rule 'emial'; did you mean 'email'\?"
    ):
        load_config({"redaction": {"disable": ["emial"]}})


def test_every_bad_rule_is_reported_at_once_under_its_own_key():
    redaction = {
        "disable": ["email", "phnoe"],
        "modes": {"ipv5": "hash"},
        "patterns": [{"name": "a", "regex": "(x)\\1"}, {"name": "b", "regex": "EMP-[0-9"}],
        "allow": {"patterns": ["(?!x)"]},
    }
    with pytest.raises(ConfigError) as info:
        load_config({"redaction": redaction})
    lines = str(info.value).splitlines()[1:]
    keys = [line.strip().split(": ", 1)[0] for line in lines]
    assert keys == [
        "redaction.disable[1]",
        "redaction.modes.ipv5",
        "redaction.patterns.a",
        "redaction.patterns.b",
        "redaction.allow.patterns[0]",
    ]


def test_catastrophic_pattern_runs_in_linear_time_on_a_hostile_prompt():
    r = Redactor(RedactionSettings(patterns=[{"name": "evil", "regex": r"(a+)+b"}]))
    hostile = "a" * 1_000_000  # exponential for a backtracking engine
    assert r.redact_text(hostile) == hostile


@tool
def send(to: str, body: str) -> str:
    """Sends a message."""
    raise PermissionError(f"cannot send to {to}: {body}")


CUSTOM_CONFIG = """
service: test
outputs: []
redaction:
  keys: [x_internal]
  remove_keys: [session]
  disable: [ipv4]
  modes: {email: hash}
  hash_key: fixed-key
  patterns:
    - {name: employee_id, regex: 'EMP-[0-9]{6}'}
  allow:
    values: [support@lclog.dev]
    patterns: ['[a-z]+@example\\.test']
  fields:
    user_id: hash
    tenant_id: keep
"""


def test_custom_rules_from_a_config_file_end_to_end(tmp_path):
    path = tmp_path / "lclog.yaml"
    path.write_text(CUSTOM_CONFIG)
    memory = MemoryOutput()
    handler = LoggingCallbackHandler(path, outputs=[memory])

    def step(x: dict[str, Any]) -> str:
        dispatch_custom_event("audit", {"x_internal": "zzz", "session": "keep-me"})
        return f"{x['who']} EMP-123456 from 10.0.0.1 cc support@lclog.dev and ann@example.test"

    cfg = {"callbacks": [handler], "metadata": {"user_id": "u-42", "tenant": "EMP-999999"}}
    out = RunnableLambda(step).invoke({"who": "joe@corp.io"}, config=cfg)
    with pytest.raises(PermissionError):
        send.invoke({"to": "joe@corp.io", "body": "EMP-000001"}, config=cfg)
    handler.close()
    blob = b"".join(memory.lines).decode()
    assert "EMP-123456" not in blob and "EMP-000001" not in blob and "[REDACTED:employee_id]" in blob
    assert "joe@corp.io" not in blob and "[email:" in blob
    assert "10.0.0.1" in blob  # ipv4 disabled
    assert "support@lclog.dev" in blob and "ann@example.test" in blob  # allowlisted
    assert "zzz" not in blob and '"session":"keep-me"' in blob
    # who the request is for: fields of their own, under the same rules (a keyed hash groups)
    assert all(e["user_id"].startswith("[user_id:") for e in memory.events)
    assert all(e["tenant_id"] == "EMP-999999" for e in memory.events)  # field rule keep wins
    assert out.startswith("joe@corp.io EMP-123456")  # the application's data is untouched


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(embedded(), st.sampled_from(["tool_args", "tool_error", "metadata", "tags", "custom", "output"]))
def test_no_secret_survives_any_hook_field_end_to_end(case, field):
    kind, secret, value = case
    memory = MemoryOutput()
    handler = LoggingCallbackHandler(outputs=[memory])

    @tool
    def probe(payload: str) -> str:
        """Echoes or fails."""
        if field == "tool_error":
            raise ValueError(str(value))
        return orjson.dumps(value).decode() if field == "output" else "ok"

    def step(x: Any) -> Any:
        if field == "custom":
            dispatch_custom_event("probe", value)
        return probe.invoke({"payload": str(value) if field == "tool_args" else "x"})

    cfg: dict[str, Any] = {"callbacks": [handler]}
    if field == "metadata":
        cfg["metadata"] = {"info": value}
    if field == "tags":
        cfg["tags"] = [str(value)]
    with contextlib.suppress(ValueError):
        RunnableLambda(step).invoke(str(uuid.uuid4()), config=cfg)
    handler.close()
    blob = b"".join(memory.lines).decode("utf-8")
    assert memory.events
    assert secret not in blob and orjson.dumps(secret).decode()[1:-1] not in blob, (kind, field)


def test_hash_mode_without_a_key_warns_once_at_the_handler(monkeypatch):
    from lclog.capture.parts import RandomHashKeyWarning

    monkeypatch.delenv("LCLOG_HASH_KEY", raising=False)
    with pytest.warns(RandomHashKeyWarning, match="LCLOG_HASH_KEY"):
        LoggingCallbackHandler({"redaction": {"mode": "hash"}}, outputs=[]).close()
    monkeypatch.setenv("LCLOG_HASH_KEY", "k")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        LoggingCallbackHandler({"redaction": {"mode": "hash"}}, outputs=[]).close()


def test_redact_bytes_matches_redact_text_and_keeps_bytes_that_are_not_utf8():
    text = "mail bob@corp.io, key sk-proj-Xq7vR2mT9wK4pL8nB3cF6hJ1\nnext line 4111 1111 1111 1111"
    assert REDACTOR.redact_bytes(text.encode()) == REDACTOR.redact_text(text).encode()
    raw = b"\xff\xfe broken bytes, then bob@corp.io \xc3"
    assert REDACTOR.redact_bytes(raw) == b"\xff\xfe broken bytes, then [REDACTED:email] \xc3"


VALUE = "Xq7vR2mT9wK4pL8nB3cF"  # random enough for any rule


@pytest.mark.parametrize(
    "text",
    [
        # a secret word anywhere in the name, in any case style
        f"OPENAI_API_KEY_PROD={VALUE}", f"API_KEY_2={VALUE}", f"DATABASE_PASSWORD_RO={VALUE}",
        f"DB_PASS={VALUE}", f"SLACK_TOKEN_2={VALUE}", f"AUTH_TOKEN_V2={VALUE}", f"client_secret_2={VALUE}",
        f"apiKeyProd={VALUE}", f"dbPwd: {VALUE}", f"my_pw = {VALUE}", f"KEY={VALUE}",
        # any operator, and none
        f'apikey := "{VALUE}"', f"token => '{VALUE}'", f"secret ::= {VALUE}", f"password ?= {VALUE}",
        f'if (api_key === "{VALUE}") {{', f'password "{VALUE}";', f'std::string secret("{VALUE}");',
        f'char secrete[25] = "{VALUE}";',
        # values holding spaces and brackets, to their closing delimiter or the token's end
        f"<password>correct horse {VALUE} staple</password>", f'password = "value with {VALUE} spaces"',
        f"password = m{{{{h}}o){VALUE}]nob(ody[finds>-_$#}}}},", f"DB_PASSWORD: correct horse {VALUE}",
        # a high-entropy value for any name, with Go's operator
        f'signingMaterial := "{VALUE}aB3dE5"',
        # the argument, not the call, is the value
        f"'token' => env('JIRA_API_TOKEN', '{VALUE}')",
        # any Authorization scheme; Salesforce's `!`
        f"Authorization: SSWS 00QC{VALUE}", f"Authorization: Bearer 00D5e0000001{VALUE}!AQ4AQKb8d",
    ],
)  # fmt: skip
def test_the_shapes_real_configs_write_are_redacted(text):
    out = REDACTOR.redact_text(text)
    assert VALUE not in out and "[REDACTED:" in out, out


@pytest.mark.parametrize(
    "text",
    [
        "passenger=3 keyboard=qwerty monkey=banana bypass=true",
        "token_count: 5, max_tokens=1024, prompt_tokens: 7, token_type: bearer",
        'secret_name = "prod-db", kms_key_id = "alias/app", passwordVariable: "PASS_VAR"',
        "key: value, sort_key: created_at, auth: none, session_timeout: 3600",
        "password:\nthe next line is prose",  # no assignment across a line break
        'token = "\n"',
    ],
)
def test_names_that_hold_no_secret_and_values_that_are_not_one_are_kept(text):
    assert REDACTOR.redact_text(text) == text


def test_a_dict_key_marks_its_value_by_its_words():
    value = {
        "DB_PASS": 1234,
        "apiKeyProd": VALUE,
        "token_usage": {"prompt_tokens": 3},
        "token_count": 2,
        "cacheKey": "user-42",
        "secret_name": "prod-db",
        "session_id": VALUE,
    }
    assert REDACTOR.redact_value(value) == {
        "DB_PASS": "[REDACTED:pass]",
        "apiKeyProd": "[REDACTED:api_key]",
        "token_usage": {"prompt_tokens": 3},
        "token_count": 2,
        "cacheKey": "user-42",
        "secret_name": "prod-db",
        "session_id": "[REDACTED:session_id]",
    }
