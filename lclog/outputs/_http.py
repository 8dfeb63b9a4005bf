"""POST with retries: exponential backoff on connection errors, 429 and 5xx (not other 4xx);
a server's Retry-After on 429 and 503 is honoured, within the time left."""

from __future__ import annotations

import email.utils
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable

__all__ = ["Again", "PostFailed", "post", "retried", "retry_after"]

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# A server asking for a longer pause than this is not waited for: the batch fails (and is counted).
MAX_RETRY_AFTER_S = 60.0


class PostFailed(RuntimeError):
    """The last attempt failed; the message says why (a status or an error type), never the URL."""


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds a Retry-After header asks to wait (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment is None:
        return None
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))


class Again(Exception):
    """An attempt that may be tried again: why it failed, and the pause a server asked for."""

    def __init__(self, reason: str, wait: float | None = None) -> None:
        super().__init__(reason)
        self.reason, self.wait = reason, wait


def retried(
    attempt: Callable[[float | None], bytes],
    *,
    retries: int,
    backoff: float,
    deadline: Callable[[], float | None] = lambda: None,
    sleep: Callable[[float], object] = time.sleep,
) -> bytes:
    """What `attempt(seconds left)` returns, trying at most retries + 1 times with exponential
    backoff (or the pause an `Again` asks for); raises PostFailed once out of attempts or time.

    `deadline()` is read before every attempt and pause: the monotonic time by which to give up
    (None: no limit); `sleep` waits between attempts (an Event's wait makes it interruptible).
    """
    for n in range(retries + 1):
        limit = deadline()
        left = None if limit is None else limit - time.monotonic()
        if left is not None and left <= 0:
            raise PostFailed(f"out of time after {n} attempts")
        try:
            return attempt(left)
        except Again as again:
            if n == retries:
                raise PostFailed(f"{again.reason} after {n + 1} attempts") from None
            wait = backoff * 2**n if again.wait is None else again.wait
        limit = deadline()
        if limit is not None and time.monotonic() + wait > limit:
            raise PostFailed(f"out of time after {n + 1} attempts")
        sleep(wait)
    raise PostFailed(f"failed after {retries + 1} attempts")


def post(
    url: str,
    data: bytes,
    headers: dict[str, str],
    *,
    timeout: float,
    retries: int,
    backoff: float,
    deadline: Callable[[], float | None] = lambda: None,
    sleep: Callable[[float], object] = time.sleep,
    context: ssl.SSLContext | None = None,
) -> bytes:
    """POSTs data with `retried`; returns the answer's body, raises PostFailed. `context`: the
    TLS settings of an https URL (None: the system's)."""

    def attempt(left: float | None) -> bytes:
        request = urllib.request.Request(url, data=data, headers=headers, method="POST")
        try:
            limit_s = timeout if left is None else min(timeout, left)
            with urllib.request.urlopen(request, timeout=limit_s, context=context) as response:
                return bytes(response.read())
        except urllib.error.HTTPError as exc:
            if exc.code not in RETRY_STATUSES:
                raise PostFailed(f"HTTP {exc.code}") from None
            asked = retry_after(exc.headers.get("Retry-After")) if exc.code in (429, 503) else None
            if asked is not None and asked > MAX_RETRY_AFTER_S:
                raise PostFailed(f"HTTP {exc.code}, Retry-After {asked:.0f} s") from None
            raise Again(f"HTTP {exc.code}", asked) from None
        except (urllib.error.URLError, OSError) as exc:
            raise Again(type(getattr(exc, "reason", exc)).__name__) from None

    return retried(attempt, retries=retries, backoff=backoff, deadline=deadline, sleep=sleep)
