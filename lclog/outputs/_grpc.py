"""OTLP/gRPC: an encoded ExportLogsServiceRequest sent to LogsService/Export with grpcio, retried
with backoff on the status codes the OTLP specification calls retryable, within a deadline."""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable
from typing import Any

from lclog.outputs._http import PostFailed

__all__ = ["GRPC"]

_METHOD = "/opentelemetry.proto.collector.logs.v1.LogsService/Export"
_RETRYABLE = frozenset(
    {
        "CANCELLED",
        "DEADLINE_EXCEEDED",
        "RESOURCE_EXHAUSTED",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNAVAILABLE",
        "DATA_LOSS",
    }
)
_ATTEMPTS = 10
_BACKOFF_S = 0.5


class GRPC:
    """A channel to a collector's OTLP/gRPC receiver: `http://` plain, `https://` with TLS."""

    def __init__(
        self, endpoint: str, headers: dict[str, str], gzipped: bool, certificate: str | None
    ) -> None:
        import grpc  # type: ignore[import-untyped]

        parts = urllib.parse.urlsplit(endpoint)
        target = parts.netloc or endpoint
        compression = grpc.Compression.Gzip if gzipped else grpc.Compression.NoCompression
        if parts.scheme == "https":
            root = None
            if certificate:
                with open(certificate, "rb") as f:
                    root = f.read()
            credentials = grpc.ssl_channel_credentials(root_certificates=root)
            self._channel = grpc.secure_channel(target, credentials, compression=compression)
        else:
            self._channel = grpc.insecure_channel(target, compression=compression)
        # bytes in, bytes out: the request is encoded already, the answer is read by the output
        self._export = self._channel.unary_unary(
            _METHOD, request_serializer=bytes, response_deserializer=bytes
        )
        self._metadata = tuple((k.lower(), v) for k, v in headers.items())
        self._error = grpc.RpcError

    def export(
        self, body: bytes, deadline: Callable[[], float | None], sleep: Callable[[float], object]
    ) -> bytes:
        """Sends body; returns the answer's bytes, raises PostFailed after the last attempt."""
        for attempt in range(_ATTEMPTS):
            limit = deadline()
            left = None if limit is None else limit - time.monotonic()
            if left is not None and left <= 0:
                raise PostFailed(f"out of time after {attempt} attempts")
            try:
                return bytes(self._export(body, timeout=left, metadata=self._metadata))
            except self._error as exc:
                code = _code_name(exc)
                if code not in _RETRYABLE or attempt == _ATTEMPTS - 1:
                    raise PostFailed(f"gRPC {code} after {attempt + 1} attempts") from None
            except ValueError:  # the channel was closed meanwhile (close() gave up waiting)
                raise PostFailed("the channel was closed") from None
            wait = _BACKOFF_S * 2**attempt
            limit = deadline()
            if limit is not None and time.monotonic() + wait > limit:
                raise PostFailed(f"out of time after {attempt + 1} attempts")
            sleep(wait)
        raise PostFailed(f"failed after {_ATTEMPTS} attempts")

    def close(self) -> None:
        self._channel.close()


def _code_name(error: Any) -> str:
    code = getattr(error, "code", None)
    try:
        return str(code().name) if callable(code) else "UNKNOWN"
    except Exception:
        return "UNKNOWN"
