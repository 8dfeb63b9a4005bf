"""Outputs by destination: handlers naming the same file, logger, Loki stream or OTLP endpoint
share one."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Hashable, Sequence
from typing import Any

from lclog._threads import fork_safe
from lclog.outputs.base import FileOutput, Output, StreamOutput
from lclog.outputs.loki import LokiOutput
from lclog.outputs.options import OutputSettings
from lclog.outputs.otlp import OTLPOutput
from lclog.outputs.stdlib import StdlibOutput
from lclog.outputs.structlogger import StructlogOutput

__all__ = ["acquire_outputs", "release_output"]


def _key(spec: OutputSettings) -> Hashable:
    """What makes two outputs the same destination."""
    if spec.type == "file":
        return ("file", os.path.realpath(spec.path or ""))
    if spec.type == "stdlib":
        return ("stdlib", spec.logger, spec.formatter, spec.stream)
    if spec.type == "structlog":
        return ("structlog", spec.logger)
    if spec.type == "loki":
        return ("loki", spec.url, tuple(sorted(spec.labels.items())), spec.tenant)
    if spec.type == "otlp":
        return ("otlp", spec.endpoint, spec.protocol, tuple(sorted(spec.headers.items())))
    return (spec.type, spec.format)


def _build(spec: OutputSettings) -> Output:
    if spec.type == "file":
        return FileOutput(spec.path or "")
    if spec.type == "stdlib":
        return StdlibOutput(spec.logger, spec.formatter, spec.stream)
    if spec.type == "structlog":
        return StructlogOutput(spec.logger)
    # how a network output batches, buffers and waits
    batching = {
        k: getattr(spec, k) for k in ("batch_bytes", "flush_interval_s", "timeout_s", "max_buffer_bytes")
    }
    if spec.type == "loki":
        return LokiOutput(
            spec.url or "",
            spec.labels,
            tenant=spec.tenant,
            headers=spec.headers,
            retries=spec.retries,
            **batching,
        )
    if spec.type == "otlp":
        return OTLPOutput(
            spec.endpoint,
            protocol=spec.protocol,
            headers=spec.headers,
            compression=spec.compression,
            **batching,
        )
    return StreamOutput(spec.type, spec.format)


# Outputs belong to the process: handlers naming the same destination share one output (one
# file is written by one writer, in order; a stdlib logger gets one handler), which is closed
# when the last of them is released.
_shared: dict[Hashable, list[Any]] = {}  # key -> [output, users]
_shared_lock = fork_safe(threading.Lock())


def acquire_outputs(settings: Sequence[OutputSettings]) -> list[Output]:
    """Returns the outputs a config names, shared with other handlers naming the same ones.

    Settings other than the destination (a Loki batch size ...) come from the first handler."""
    outputs: list[Output] = []
    with _shared_lock:
        for spec in settings:
            key = _key(spec)
            entry = _shared.get(key)
            if entry is None:
                entry = _shared[key] = [_build(spec), 0]
            if entry[0] not in outputs:  # named twice in one config: one output, one user
                entry[1] += 1
                outputs.append(entry[0])
    return outputs


def release_output(output: Output, close: Callable[[Output], None]) -> None:
    """Gives back an output; the last user closes it (with `close`), others leave it open."""
    with _shared_lock:
        for key, entry in _shared.items():
            if entry[0] is output:
                entry[1] -= 1
                if entry[1] > 0:
                    return
                del _shared[key]
                break
    close(output)
