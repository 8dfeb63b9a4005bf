"""Built-in redaction rules: the named value patterns (RE2 syntax) and their validators."""

from __future__ import annotations

import ipaddress
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace

__all__ = [
    "BUILTIN_RULES",
    "KEEP_PATTERNS",
    "PART_STARTS",
    "QUOTE",
    "Rule",
    "not_placeholder",
]


@dataclass(frozen=True, slots=True)
class Rule:
    """A named value pattern; `group` is the capture group holding the secret (0: whole match)."""

    name: str
    pattern: str
    description: str
    validator: Callable[[str], bool] | None = None
    group: int = 0
    mode: str | None = None  # None: the configured default mode
    # A match failing its validator still covers its text: nothing inside it is redacted by
    # another rule (the digits of an invalid IBAN are not a phone number).
    shield: bool = False
    # A match failing its validator is tried shorter, from the same start (an IBAN followed by a
    # currency code, a phone number followed by more digits).
    shorter: bool = False
    # Judges a match by the text just before it, the match up to the reported group (a key
    # rule's name) and the group: False rejects it.
    context: Callable[[str, str, str], bool] | None = None


# Validators keep false positives down.


# A quote as it appears in text: escaped by any number of backslashes when JSON is carried inside
# a JSON string ({\"password\": \"...\"}).
QUOTE = r"\\*[\"']"

_SEPARATORS = str.maketrans("", "", " -.()+")
_DOUBLED = str.maketrans("0123456789", "0246813579")  # Luhn: 2*d with its digits summed


def luhn(text: str) -> bool:
    """True for a 13-19 digit number whose Luhn checksum holds (card numbers)."""
    digits = text.translate(_SEPARATORS)
    if not 13 <= len(digits) <= 19 or not digits.isascii() or not digits.isdigit():
        return False
    if digits.count(digits[0]) == len(digits):
        return False
    # Digit characters sum to their values plus 48 each.
    total = sum(digits[-1::-2].encode()) + sum(digits[-2::-2].translate(_DOUBLED).encode())
    return (total - 48 * len(digits)) % 10 == 0


def iban_ok(text: str) -> bool:
    """True for an IBAN whose ISO 13616 mod-97 check holds."""
    s = text.replace(" ", "").replace("-", "").upper()
    if not 15 <= len(s) <= 34:
        return False
    moved = s[4:] + s[:4]
    try:
        number = int("".join(str(int(c, 36)) for c in moved))
    except ValueError:
        return False
    return number % 97 == 1


def ssn_ok(text: str) -> bool:
    """True for an SSN the SSA could issue (no 000/666/9xx area, 00 group, 0000 serial)."""
    area, group, serial = text[:3], text[4:6], text[7:]
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def phone_ok(text: str) -> bool:
    """True for 10-15 digits written like a phone number (with separators or a leading +)."""
    digits = len(text.translate(_SEPARATORS))
    return 10 <= digits <= 15 and (text.startswith("+") or any(c in text for c in " .-()"))


def ipv4_ok(text: str) -> bool:
    """True for four octets 0-255."""
    return all(int(part) <= 255 for part in text.split("."))


def ipv6_ok(text: str) -> bool:
    """True for an address Python parses as IPv6 with at least three groups (an embedded IPv4
    address counts as two): `::1`, `fe80::1` and the like are left alone."""
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return sum(1 + ("." in part) for part in text.split(":") if part) >= 3


def discord_ok(text: str) -> bool:
    """True for a Discord webhook URL, or a bot token whose first part ends with 24-26
    characters from an M, N or O (the base64 of a user id)."""
    if text.startswith("https://"):  # a token holds no colon
        return True
    first = text[: text.find(".")]
    return any(len(first) >= n and first[-n] in "MNO" for n in (24, 25, 26))


def token_like(text: str) -> bool:
    """False for a plain word ("Bearer authentication" is prose); true for anything token-shaped."""
    return not (text.isalpha() and len(text) <= 15 and (text.islower() or text.istitle()))


_LOWER = frozenset("abcdefghijklmnopqrstuvwxyz")
_UPPER = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_DIGITS = frozenset("0123456789")
# n * log2(n) for the counts of a character in a value (longer values compute it).
_N_LOG_N = [0.0, *(n * math.log2(n) for n in range(1, 257))]


def high_entropy(text: str) -> bool:
    """True for 20+ chars of mixed classes with Shannon entropy >= 3.5 bits per char."""
    size = len(text)
    if size < 20:
        return False
    counts = Counter(text)
    chars = counts.keys()
    if chars.isdisjoint(_LOWER) or chars.isdisjoint(_UPPER) or chars.isdisjoint(_DIGITS):
        return False
    # H = log2(n) - sum(c * log2(c)) / n over the counts c of each character.
    n_log_n = _N_LOG_N.__getitem__ if size < len(_N_LOG_N) else _n_log_n
    return math.log2(size) - sum(map(n_log_n, counts.values())) / size >= 3.5


def _n_log_n(n: int) -> float:
    return n * math.log2(n)


# What documentation writes in a secret's place: EXAMPLE, a run of x, 0, 1, * or #, an alphabet
# or digit sequence. A random token holds none of these by chance (a given 8-character run in
# 40 random alphanumerics: about 1 in 10^11).
_PLACEHOLDERS = (
    "example", "xxxxxxxx", "00000000", "11111111", "********", "########",
    "abcdefgh", "bcdefghi", "qrstuvwx", "12345678", "23456789", "34567890",
)  # fmt: skip
# Values that stand for a secret in documentation and templates: a variable or command
# reference, an <angle bracket> or {{template}} placeholder, an auth scheme word alone.
_REFERENCE_STARTS = ("$", "<", "{{", "%(", "...", "***")
_SCHEME_WORDS = frozenset({"bearer", "basic", "token", "digest"})


def placeholder(text: str) -> bool:
    """True for a documentation placeholder: EXAMPLE, a run of 8 x, 0, 1, * or # (xxxxxxxx,
    XXXXXXXX, 00000000), an alphabet or digit sequence (abcdefgh, 12345678)."""
    low = text.lower()
    for word in _PLACEHOLDERS:  # noqa: SIM110 - a loop of substring tests: 2.6x a regex, 1.7x any()
        if word in low:
            return True
    return False


def not_token_placeholder(text: str) -> bool:
    """Validator: false for a documentation placeholder of a token (ghp_xxxx..., AKIA...EXAMPLE)."""
    return not placeholder(text)


def not_placeholder(text: str) -> bool:
    """Validator of a denylisted key's value: false for references and masks ($API_KEY, ${TOKEN},
    $(cmd), <your token>, {{ secret }}, xxxxxxxx, ********, a scheme word alone). A weak password
    (aaaaaaaa, 12345678, MyExample1) is still a password: only those shapes are left."""
    stripped = text.strip()
    return not (
        stripped.startswith(_REFERENCE_STARTS)
        or stripped.lower() in _SCHEME_WORDS
        or (len(stripped) >= 3 and not stripped.strip("xX*#.•"))
    )


# Shapes that are never secrets and are consumed before any rule sees them: lclog's own
# markers (so redaction is idempotent), UUIDs (run ids), hex digests (git SHAs), ISO dates,
# v-prefixed versions. Unprefixed three-part versions (1.8.3) match no rule anyway.
KEEP_PATTERNS: tuple[str, ...] = (
    r"\[REDACTED:[a-z0-9_]{1,40}(?::[^\]\s]{1,24})?\]",
    r"\[[a-z][a-z0-9_]{0,39}:[0-9a-f]{12}\]",
    r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b",
    r"\b(?:[0-9a-f]{40}|[0-9a-f]{64})\b",
    r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?\b",
    r"\bv\d{1,4}(?:\.\d{1,4}){1,3}(?:[-+][0-9A-Za-z.]{1,20})?\b",
)

# Order matters: at one position the first rule that matches wins, so specific shapes come
# before generic ones (an Anthropic key before an OpenAI one, a card before a phone number).
BUILTIN_RULES: tuple[Rule, ...] = (
    Rule(
        "private_key",
        # The body: base64, whitespace, what quotes and escapes it in source and JSON (\n, "...",
        # +) and `Name: value` header lines (encrypted keys), up to the END line if any. Every
        # part is bounded or stops at the first other character, so no search waits on an END
        # line that never comes.
        r"-----BEGIN [A-Z ]{0,40}PRIVATE KEY(?: BLOCK)?-----"
        r"(?:[A-Za-z0-9+/=\s\\\"']|[A-Za-z-]{1,40}: [^\n\\]{0,200}(?:\r?\n|\\r\\n|\\n))*"
        r"(?:-----END [A-Z ]{0,40}PRIVATE KEY(?: BLOCK)?-----)?",
        "PEM private key blocks (RSA, EC, OpenSSH, PKCS#8, encrypted) and PGP private key blocks, "
        "also escaped in JSON or source, and when cut off",
    ),
    Rule(
        "jwt",
        r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}(?:\.[A-Za-z0-9_-]*)?",
        "JSON Web Tokens (header.payload.signature; unsigned ones, and header.payload cut off)",
    ),
    Rule(
        "url_credentials",
        r"\b[a-zA-Z][a-zA-Z0-9+.-]{1,19}://([^\s:/@\"']+:[^\s/@\"']+)@",
        "user:password in URLs (postgres://user:pass@host); scheme and host are kept",
        group=1,
    ),
    Rule(
        "url_credentials",
        r"\bjdbc:oracle:[a-z]+:([^/\s:@]+/[^@\s]+)@",
        "user/password in JDBC Oracle URLs (jdbc:oracle:thin:user/pass@host)",
        group=1,
    ),
    Rule(
        "slack_webhook",
        r"(?:\bhttps?://)?\bhooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/_-]{20,}",
        "Slack incoming webhook and workflow URLs, with https://, http:// or no scheme",
    ),
    Rule(
        "aws_access_key_id",
        r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b",
        "AWS access key ids (AKIA..., ASIA...)",
    ),
    Rule(
        "aws_bedrock_api_key",
        r"\bABSK[A-Za-z0-9+/]{109,269}={0,2}|\bbedrock-api-key-[A-Za-z0-9+/=]{20,}",
        "Amazon Bedrock API keys, long-lived (ABSK...) and short-lived (bedrock-api-key-...)",
    ),
    Rule(
        "aws_secret_access_key",
        rf"(?i)aws_?secret_?(?:access_?)?key(?:{QUOTE})?[ \t]*(?::=|=>|[:=])[ \t]*"
        rf"(?:{QUOTE})?([A-Za-z0-9/+=]{{40}})\b",
        "AWS secret access keys next to their name",
        group=1,
    ),
    Rule("github_token", r"\bgh[pousr]_[A-Za-z0-9]{36,}\b", "GitHub classic tokens (ghp_, gho_ ...)"),
    Rule(
        "github_fine_grained_token",
        r"\bgithub_pat_[A-Za-z0-9_]{22,}\b",
        "GitHub fine-grained personal access tokens",
    ),
    Rule("anthropic_key", r"\bsk-ant-[A-Za-z0-9_-]{20,}", "Anthropic API keys (sk-ant-...)"),
    Rule(
        "openai_key",
        r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}",
        "OpenAI API keys (sk-..., sk-proj-...)",
    ),
    Rule(
        "slack_token",
        r"\b(?:xox[abposre]|xoxe\.xox[bp]|xapp)-[A-Za-z0-9-]{10,}",
        "Slack bot, user, workspace, configuration and app tokens (xoxb-, xoxp-, xoxe-, xapp- ...)",
    ),
    Rule(
        "stripe_key",
        r"\b(?:sk|rk)_(?:live|test|prod)_[A-Za-z0-9]{16,}",
        "Stripe secret and restricted keys (sk_live_, rk_test_ ...)",
    ),
    Rule("google_api_key", r"\bAIza[0-9A-Za-z_-]{35}", "Google API keys (AIza...)"),
    Rule(
        "huggingface_token",
        r"\b(?:hf_|api_org_)[A-Za-z0-9]{30,}\b",
        "Hugging Face access and organization tokens (hf_..., api_org_...)",
    ),
    Rule("groq_key", r"\bgsk_[A-Za-z0-9]{40,}\b", "Groq API keys (gsk_...)"),
    Rule("replicate_token", r"\br8_[A-Za-z0-9]{30,}\b", "Replicate API tokens (r8_...)"),
    Rule(
        "gitlab_token",
        # Every prefix GitLab documents; routable tokens end in `.<base36 checksum part>`.
        r"\b(?:gl(?:pat|oas|dt|rt|cbt|ptt|ft|imt|agent|soat|ffct|wt)-[A-Za-z0-9_-]{20,}"
        r"(?:\.[A-Za-z0-9]{2,12})?|GR1348941[A-Za-z0-9_-]{20,})",
        "GitLab tokens: personal, OAuth, deploy, runner, CI job, trigger, feed, mail, agent, SCIM, "
        "feature flag and workspace tokens (glpat-, glrt-, glcbt- ...), runner registration "
        "tokens (GR1348941...), with the checksum part of routable tokens",
    ),
    Rule("npm_token", r"\bnpm_[A-Za-z0-9]{36,}\b", "npm access tokens (npm_...)"),
    Rule(
        "pypi_token",
        r"\bpypi-AgE(?:IcHlwaS5vcmc|NdGVzdC5weXBpLm9yZw)[A-Za-z0-9_-]{50,}",
        "PyPI and TestPyPI API tokens (pypi-AgEIcHlwaS5vcmc...)",
    ),
    Rule(
        "discord_token",
        # A bot token's first part is 24-26 characters from an M, N or O (discord_ok), which may
        # end a longer run: the run is matched from its start, since a pattern counting from every
        # M, N and O in a run costs RE2 a new DFA state for each new secret around it.
        r"\b[A-Za-z0-9_-]{24,}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,38}"
        r"|\bhttps://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/[0-9]{17,20}/[A-Za-z0-9_-]{60,70}",
        "Discord bot tokens (three dot-separated parts) and webhook URLs",
        validator=lambda text: discord_ok(text) and not placeholder(text),
    ),
    Rule(
        "telegram_token",
        r"\b[0-9]{8,10}:AA[0-9A-Za-z_-]{32,33}\b",
        "Telegram bot tokens (123456789:AA...)",
    ),
    Rule(
        "twilio_key",
        r"\b(?:SK|AC)[0-9a-fA-F]{32}\b",
        "Twilio API key and account SIDs (SK..., AC... and 32 hex digits)",
    ),
    Rule(
        "square_token",
        r"\bsq0(?:csp|atp|idp)-[0-9A-Za-z_\\-]{22,43}|\bEAAA[A-Za-z0-9_+=-]{60}\b",
        "Square OAuth secrets and access tokens (sq0csp-, sq0atp-, EAAA...)",
    ),
    Rule(
        "new_relic_key",
        r"\bNR(?:AK|II|AA)-[A-Za-z0-9_-]{27,32}\b|\bNRJS-[a-f0-9]{19}\b",
        "New Relic user, insert, admin and browser keys (NRAK-, NRII-, NRAA-, NRJS-)",
    ),
    Rule(
        "artifactory_token",
        r"\bAKCp[A-Za-z0-9]{69}\b|\bcmVmdGtu[A-Za-z0-9]{56}\b",
        "JFrog Artifactory API keys (AKCp...) and reference tokens (cmVmdGtu...)",
    ),
    Rule(
        "mailchimp_key",
        r"\b[0-9a-f]{32}-us[0-9]{1,2}\b",
        "Mailchimp API keys (32 hex digits, -us and a number)",
    ),
    Rule(
        "password_hash",
        r"\$2[abxy]?\$[0-9]{2}\$[./A-Za-z0-9]{53}"
        r"|\$[56]\$(?:rounds=[0-9]{1,9}\$)?[./A-Za-z0-9]{1,16}\$[./A-Za-z0-9]{43,86}"
        r"|\$argon2(?:id|i|d)\$v=[0-9]+\$m=[0-9]+,t=[0-9]+,p=[0-9]+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+",
        "password hashes: bcrypt ($2b$...), SHA-crypt ($5$, $6$) and Argon2 ($argon2id$...)",
    ),
    Rule(
        "sendgrid_key",
        r"\bSG\.[A-Za-z0-9_=.-]{50,100}",
        "SendGrid API keys (SG.xxx.yyy)",
    ),
    Rule(
        "bearer_token",
        r"\b(?:[Bb]earer|BEARER|Token"
        rf"|(?i:(?:proxy-)?authorization)(?:{QUOTE})?[ \t]*[:=][ \t]*"
        rf"(?:{QUOTE})?[A-Za-z][A-Za-z0-9-]{{1,30}})"
        r"[ \t]+([A-Za-z0-9._~+/=!-]{8,})",
        "credentials after an Authorization header's scheme (Basic, Digest, Api-Token, any) and "
        "after Bearer/Token anywhere; the scheme word is kept",
        validator=lambda text: token_like(text) and not placeholder(text),
        group=1,
    ),
    Rule(
        "high_entropy_secret",
        # The closing quote, or the text's end (a value cut off where the text was).
        rf"\b[A-Za-z_][A-Za-z0-9_.-]{{0,40}}(?:{QUOTE})?[ \t]*(?::{{1,3}}=|=>|[?+.]=|[:=])[ \t]*{QUOTE}"
        rf"([A-Za-z0-9+/=_-]{{20,}})(?:{QUOTE}|$)",
        'quoted high-entropy values assigned to any name with any operator (x = "9fQ...", x := "9fQ...")',
        validator=high_entropy,
        group=1,
    ),
    Rule(
        "email",
        r"\b[A-Za-z0-9._%+-]+(?:@|%40)[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?\.[A-Za-z]{2,}\b",
        "email addresses, also URL-encoded (jane%40example.com)",
    ),
    Rule(
        "credit_card",
        r"\b(?:\d{13,19}|\d{4}([ -])\d{4}[ -]\d{4}[ -]\d{4}|\d{4}[ -]\d{6}[ -]\d{5})\b",
        "payment card numbers, 13-19 digits with a valid Luhn checksum",
        validator=luhn,
        shorter=True,
        shield=True,
    ),
    Rule(
        "iban",
        r"\b[A-Z]{2}\d{2}(?:[ -]?[A-Z0-9]{4}){2,7}(?:[ -]?[A-Z0-9]{1,4})?\b",
        "IBANs with a valid mod-97 checksum, grouped by spaces or dashes or not at all",
        validator=iban_ok,
        shorter=True,
        shield=True,
    ),
    Rule(
        "us_ssn",
        r"\b(?:\d{3}-\d{2}-\d{4}|\d{3}\.\d{2}\.\d{4}|\d{3} \d{2} \d{4})\b",
        "US social security numbers, 3-2-4 digits separated by dashes, dots or spaces",
        validator=ssn_ok,
        shorter=True,
    ),
    Rule("ipv4", r"\b(?:\d{1,3}\.){3}\d{1,3}\b", "IPv4 addresses", validator=ipv4_ok, shorter=True),
    Rule(
        "phone",
        r"\+\d{1,3}(?:[ .-]?(?:\(\d{1,4}\)|\d{1,10})){1,6}\b"
        r"|(?:\b\d{1,3}[ .-])?(?:\(\d{1,4}\)[ .-]?|\b\d{2,4}[ .-])\d{2,4}[ .-]?\d{3,4}\b",
        "phone numbers written with separators or a leading + (10-15 digits)",
        validator=phone_ok,
        shorter=True,
    ),
    Rule(
        "ipv6",
        r"(?i)(?:\b(?:[0-9a-f]{1,4}:){1,6}|::)(?:[0-9a-f]{1,4}:){0,5}(?:\d{1,3}\.){3}\d{1,3}\b"
        r"|\b(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}\b"
        r"|\b(?:[0-9a-f]{1,4}:){1,6}(?::[0-9a-f]{1,4}){1,6}\b",
        "IPv6 addresses (full, :: compressed, with an embedded IPv4 address)",
        validator=ipv6_ok,
        shorter=True,
    ),
)

# Vendor tokens: a documentation placeholder in the vendor's shape (ghp_xxxx..., AKIA...EXAMPLE,
# sk-ant-...abc123xyz...) is left as it is.
_TOKENS = frozenset({
    "slack_webhook", "aws_access_key_id", "aws_bedrock_api_key", "aws_secret_access_key",
    "github_token", "github_fine_grained_token", "anthropic_key", "openai_key", "slack_token",
    "stripe_key", "google_api_key", "huggingface_token", "groq_key", "replicate_token",
    "gitlab_token", "npm_token", "sendgrid_key", "pypi_token", "telegram_token",
    "twilio_key", "square_token", "new_relic_key", "artifactory_token", "mailchimp_key",
})  # fmt: skip
BUILTIN_RULES = tuple(
    replace(r, validator=not_token_placeholder) if r.name in _TOKENS else r for r in BUILTIN_RULES
)

# The rules that begin a group of the fused search (see redact/_scanner.py): an RE2 program over
# several rules meets text dense with new secrets with DFA states for the product of their
# states, so rules whose states multiply are kept apart: vendor tokens (each behind a literal
# prefix) in two groups, the generic shapes, personal data (runs of digits and hex), and the key
# rules (a secret word anywhere in a name). 2.5 KB holding 25 new secrets of 16 kinds: 11% fewer
# instructions than parts of eight rules, and 1 KB of prose 15% fewer (one part less).
PART_STARTS = frozenset({"slack_webhook", "google_api_key", "artifactory_token", "email", "key_value"})
