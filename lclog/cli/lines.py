"""Reading lclog's JSON lines back, in any layout (default, ecs, otel), as default-layout dicts
(the layouts' inverse is `pipeline.layouts.normalize`)."""

from __future__ import annotations

import gzip
import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import IO, Any

import orjson

from lclog.errors import InputError
from lclog.pipeline.layouts import normalize

__all__ = ["follow", "normalize", "open_inputs", "parse"]


def parse(line: bytes | str) -> dict[str, Any] | None:
    """Returns the normalized event on a line, or None for anything else."""
    stripped = line.strip()
    if not stripped or stripped[:1] not in (b"{", "{"):
        return None
    try:
        return normalize(orjson.loads(stripped))
    except orjson.JSONDecodeError:
        return None


def follow(stream: IO[bytes], *, poll_s: float = 0.25) -> Iterator[bytes]:
    """Yields lines of a file as it grows (tail -f), reopening it if it is rotated."""
    name = getattr(stream, "name", None)
    while True:
        line = stream.readline()
        if line:
            yield line
            continue
        time.sleep(poll_s)
        if isinstance(name, str) and os.path.exists(name):
            try:
                if os.stat(name).st_ino != os.fstat(stream.fileno()).st_ino:
                    stream = open(name, "rb")  # noqa: SIM115 - replaced the rotated one
            except OSError:
                pass


def open_inputs(paths: Iterable[str]) -> Iterator[tuple[str, IO[bytes]]]:
    """Yields (name, binary stream) for each path, gzip-compressed files (`app.jsonl.1.gz`, as
    logrotate leaves them) decompressed; `-` or no paths means stdin. A path that cannot be read
    raises InputError."""
    names = list(paths) or ["-"]
    for name in names:
        if name == "-":
            yield "<stdin>", sys.stdin.buffer
            continue
        try:
            f = open(name, "rb")  # noqa: SIM115 - closed below, after the caller read it
        except OSError as exc:
            raise InputError(f"cannot read {name}: {exc.strerror or type(exc).__name__}") from None
        with f:
            if f.peek(2)[:2] == b"\x1f\x8b":  # gzip's magic number
                with gzip.open(f) as unzipped:
                    yield name, unzipped  # type: ignore[misc]
            else:
                yield name, f
