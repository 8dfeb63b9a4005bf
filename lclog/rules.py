"""Built-in redaction rules: the key denylist and the named value patterns (RE2 syntax)."""

from __future__ import annotations

import ipaddress
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["BUILTIN_RULES", "DEFAULT_KEYS", "KEEP_PATTERNS", "QUOTE", "Rule", "normalize_key"]

# Keys whose values are secrets wherever they appear. Sources: sentry-python's DEFAULT_DENYLIST,
# HTTP auth headers (RFC 7235, RFC 6265), OAuth 2.0 token fields (RFC 6749, OpenID Connect), the
# env var names LLM SDKs read (OPENAI_API_KEY ...), Azure connection strings and the signatures of
# presigned URLs (S3 X-Amz-Signature, GCS X-Goog-Signature, Azure SAS sig). A key matches when its
# normalized form (lowercase, `-`, `_`, `.` and spaces removed) equals an entry or ends with one.
DEFAULT_KEYS: tuple[str, ...] = (
    "api_key",
    "apikey",
    "x-api-key",
    "api_token",
    "authorization",
    "proxy-authorization",
    "password",
    "passwd",
    "pwd",
    "passphrase",
    "secret",
    "client_secret",
    "secret_key",
    "secret_access_key",
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "auth_token",
    "bearer",
    "private_key",
    "cookie",
    "set-cookie",
    "session",
    "sessionid",
    "credentials",
    "credential",
    "connection_string",
    "dsn",
    "account_key",
    "shared_access_key",
    "x-amz-signature",
    "x-goog-signature",
    "sig",
)


def normalize_key(key: str) -> str:
    """Returns key lowercased with `-`, `_`, `.` and spaces removed."""
    return key.lower().replace("-", "").replace("_", "").replace(" ", "").replace(".", "")


@dataclass(frozen=True, slots=True)
class Rule:
    """A named value pattern; `group` is the capture group holding the secret (0: whole match)."""

    name: str
    pattern: str
    description: str
    validator: Callable[[str], bool] | None = None
    group: int = 0
    mode: str | None = None  # None: the configured default mode


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
    s = text.replace(" ", "").upper()
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
    area, group, serial = text.split("-")
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def phone_ok(text: str) -> bool:
    """True for 10-15 digits written like a phone number (with separators or a leading +)."""
    digits = len(text.translate(_SEPARATORS))
    return 10 <= digits <= 15 and (text.startswith("+") or any(c in text for c in " .-()"))


def ipv4_ok(text: str) -> bool:
    """True for four octets 0-255."""
    return all(int(part) <= 255 for part in text.split("."))


def ipv6_ok(text: str) -> bool:
    """True for an address Python parses as IPv6 with at least three groups."""
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return sum(1 for part in text.split(":") if part) >= 3


def token_like(text: str) -> bool:
    """False for a plain word ("Bearer authentication" is prose); true for anything token-shaped."""
    return not (text.isalpha() and len(text) <= 15 and (text.islower() or text.istitle()))


def high_entropy(text: str) -> bool:
    """True for 20+ chars of mixed classes with Shannon entropy >= 3.5 bits per char."""
    classes = any(c.islower() for c in text) + any(c.isupper() for c in text) + any(c.isdigit() for c in text)
    if len(text) < 20 or classes < 3:
        return False
    counts = Counter(text)
    entropy = -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())
    return entropy >= 3.5


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
        r"-----BEGIN [A-Z ]{0,40}PRIVATE KEY-----"
        r"(?:[A-Za-z0-9+/=\s\\\"']|[A-Za-z-]{1,40}: [^\n\\]{0,200}(?:\r?\n|\\r\\n|\\n))*"
        r"(?:-----END [A-Z ]{0,40}PRIVATE KEY-----)?",
        "PEM private key blocks (RSA, EC, OpenSSH, PKCS#8, encrypted), also escaped in JSON or "
        "source, and when cut off",
    ),
    Rule(
        "jwt",
        r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
        "JSON Web Tokens (header.payload.signature)",
    ),
    Rule(
        "url_credentials",
        r"\b[a-zA-Z][a-zA-Z0-9+.-]{1,19}://([^\s:/@]+:[^\s/@]+)@",
        "user:password in URLs (postgres://user:pass@host); scheme and host are kept",
        group=1,
    ),
    Rule(
        "slack_webhook",
        r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/_-]{20,}",
        "Slack incoming webhook URLs",
    ),
    Rule(
        "aws_access_key_id",
        r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b",
        "AWS access key ids (AKIA..., ASIA...)",
    ),
    Rule(
        "aws_secret_access_key",
        rf"(?i)aws_?secret_?(?:access_?)?key(?:{QUOTE})?\s*[:=]\s*(?:{QUOTE})?([A-Za-z0-9/+=]{{40}})\b",
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
    Rule("slack_token", r"\bxox[abposr]-[A-Za-z0-9-]{10,}", "Slack bot, user and app tokens (xox?-)"),
    Rule("stripe_key", r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}", "Stripe secret and restricted keys"),
    Rule("google_api_key", r"\bAIza[0-9A-Za-z_-]{35}", "Google API keys (AIza...)"),
    Rule("huggingface_token", r"\bhf_[A-Za-z0-9]{30,}\b", "Hugging Face access tokens (hf_...)"),
    Rule("groq_key", r"\bgsk_[A-Za-z0-9]{40,}\b", "Groq API keys (gsk_...)"),
    Rule("replicate_token", r"\br8_[A-Za-z0-9]{30,}\b", "Replicate API tokens (r8_...)"),
    Rule("gitlab_token", r"\bglpat-[A-Za-z0-9_-]{20,}", "GitLab personal access tokens (glpat-...)"),
    Rule("npm_token", r"\bnpm_[A-Za-z0-9]{36,}\b", "npm access tokens (npm_...)"),
    Rule(
        "sendgrid_key",
        r"\bSG\.[A-Za-z0-9_-]{16,32}\.[A-Za-z0-9_-]{32,64}",
        "SendGrid API keys (SG.xxx.yyy)",
    ),
    Rule(
        "bearer_token",
        r"\b(?:[Bb]earer|BEARER|Token)\s+([A-Za-z0-9._~+/=-]{8,})",
        "Bearer/Token credentials in Authorization headers; the scheme word is kept",
        validator=token_like,
        group=1,
    ),
    Rule(
        "high_entropy_secret",
        rf"\b[A-Za-z_][A-Za-z0-9_.-]{{0,40}}(?:{QUOTE})?\s*[:=]\s*{QUOTE}([A-Za-z0-9+/=_-]{{20,}}){QUOTE}",
        'quoted high-entropy values assigned to any name (x = "9fQ...")',
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
    ),
    Rule(
        "iban",
        r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b",
        "IBANs with a valid mod-97 checksum",
        validator=iban_ok,
    ),
    Rule("us_ssn", r"\b\d{3}-\d{2}-\d{4}\b", "US social security numbers", validator=ssn_ok),
    Rule(
        "phone",
        r"(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?|\b\d{2,4}[ .-])\d{2,4}[ .-]?\d{3,4}\b"
        r"|\+\d{7,15}\b",
        "phone numbers written with separators or a leading + (10-15 digits)",
        validator=phone_ok,
    ),
    Rule("ipv4", r"\b(?:\d{1,3}\.){3}\d{1,3}\b", "IPv4 addresses", validator=ipv4_ok),
    Rule(
        "ipv6",
        r"(?i)\b(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}\b"
        r"|\b(?:[0-9a-f]{1,4}:){1,6}(?::[0-9a-f]{1,4}){1,6}\b",
        "IPv6 addresses (full and :: compressed)",
        validator=ipv6_ok,
    ),
)
