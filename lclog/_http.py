"""POST with retries: exponential backoff on connection errors, 429 and 5xx (not other 4xx)."""

from __future__ import annotations

import time
import urllib.error
import urllib.request

__all__ = ["PostFailed", "post"]

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class PostFailed(RuntimeError):
    """The last attempt failed; the message says why (a status or an error type), never the URL."""


def post(
    url: str, data: bytes, headers: dict[str, str], *, timeout: float, retries: int, backoff: float
) -> None:
    """POSTs data, trying at most retries + 1 times; raises PostFailed."""
    for attempt in range(retries + 1):
        request = urllib.request.Request(url, data=data, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                response.read()
            return
        except urllib.error.HTTPError as exc:
            if exc.code not in RETRY_STATUSES or attempt == retries:
                raise PostFailed(f"HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            if attempt == retries:
                reason = getattr(exc, "reason", exc)
                raise PostFailed(f"{type(reason).__name__} after {attempt + 1} attempts") from None
        time.sleep(backoff * 2**attempt)
