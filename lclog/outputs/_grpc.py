"""OTLP/gRPC: an encoded ExportLogsServiceRequest sent to LogsService/Export with grpcio, retried
with backoff on the status codes the OTLP specification calls retryable, within a deadline."""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from typing import Any

from lclog.outputs._http import Again, PostFailed, retried

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
        self,
        body: bytes,
        deadline: Callable[[], float | None],
        sleep: Callable[[float], object],
        *,
        retries: int,
        backoff: float,
    ) -> bytes:
        """Sends body; returns the answer's bytes, raises PostFailed after the last attempt."""

        def attempt(left: float | None) -> bytes:
            try:
                return bytes(self._export(body, timeout=left, metadata=self._metadata))
            except self._error as exc:
                code = _code_name(exc)
                if code not in _RETRYABLE:
                    raise PostFailed(f"gRPC {code}") from None
                raise Again(f"gRPC {code}") from None
            except ValueError:  # the channel was closed meanwhile (close() gave up waiting)
                raise PostFailed("the channel was closed") from None

        return retried(attempt, retries=retries, backoff=backoff, deadline=deadline, sleep=sleep)

    def close(self) -> None:
        self._channel.close()


def _code_name(error: Any) -> str:
    code = getattr(error, "code", None)
    try:
        return str(code().name) if callable(code) else "UNKNOWN"
    except Exception:
        return "UNKNOWN"
