"""`lclog report`'s page: one HTML file with its data, script and styles inline, that opens from
disk with no network and runs no script but its own.

The log's strings reach the page only inside a JSON document (`<`, `>` and `&` escaped, so no
text of the log can close its element), which the page's script reads and turns into text nodes.
The page's Content-Security-Policy allows only its own two scripts, by hash, and no network.
"""

from __future__ import annotations

import base64
import hashlib
from importlib import resources
from string import Template
from typing import Any

import orjson

__all__ = ["render_page"]

_ASSETS = resources.files("lclog.cli") / "report_assets"


def _asset(name: str) -> str:
    return (_ASSETS / name).read_text(encoding="utf-8")


def _data(data: dict[str, Any]) -> bytes:
    """The data as JSON that is inert inside an HTML element: no `<`, `>` or `&` left in it."""
    text = orjson.dumps(data)
    return text.replace(b"<", b"\\u003c").replace(b">", b"\\u003e").replace(b"&", b"\\u0026")


def _hash(script: str) -> str:
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode() + "'"


def render_page(data: dict[str, Any]) -> bytes:
    """The report page for `data` (what `report.build_report` returns), UTF-8."""
    uplot, script = _asset("uPlot.iife.min.js"), _asset("report.js")
    policy = (
        "default-src 'none'; "
        f"script-src {_hash(uplot)} {_hash(script)}; "
        "style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
    )
    marker = "\x00data\x00"  # where the data goes: it is the page's bulk, copied once, as bytes
    head, tail = (
        Template(_asset("report.html"))
        .substitute(
            csp=policy,
            css=_asset("uPlot.min.css") + "\n" + _asset("report.css"),
            data=marker,
            uplot=uplot,
            js=script,
        )
        .split(marker)
    )
    return b"".join((head.encode(), _data(data), tail.encode()))
