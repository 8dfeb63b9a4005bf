"""OpenTelemetry log records over OTLP (HTTP/protobuf or gRPC), with the OpenTelemetry SDK's own
exporter, batched and sent from a thread of their own (the `otlp` extra)."""

from __future__ import annotations

import datetime as dt
import os
import time
from typing import Any

from lclog.outputs._batching import BatchingOutput, SendFailed
from lclog.outputs.options import OTLP_EXPORTERS
from lclog.pipeline.layouts import to_otel

__all__ = ["OTLPOutput", "logs_endpoint"]


def logs_endpoint(endpoint: str | None, protocol: str) -> str | None:
    """The URL logs are sent to: an HTTP endpoint without a path gets OTLP's `/v1/logs` (as
    OTEL_EXPORTER_OTLP_ENDPOINT does); None leaves it to the OTEL_EXPORTER_OTLP_* env vars."""
    if endpoint is None or protocol != "http/protobuf":
        return endpoint
    _, _, rest = endpoint.partition("://")
    return endpoint if "/" in rest.strip("/") else f"{endpoint.rstrip('/')}/v1/logs"


def _nanos(timestamp: Any) -> int:
    if isinstance(timestamp, str):
        try:
            moment = dt.datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
            return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000
        except ValueError:
            pass
    return time.time_ns()


def _hex(value: Any) -> int:
    try:
        return int(value, 16) if isinstance(value, str) and value else 0
    except ValueError:
        return 0


def _context(trace_id: Any, span_id: Any) -> Any:
    """The record's trace context: the event's trace and span ids (those of the active span when
    there was one, else derived from the run tree, as the `otel` layout gives them)."""
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, set_span_in_context

    span = SpanContext(
        _hex(trace_id), _hex(span_id), is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED)
    )
    return set_span_in_context(NonRecordingSpan(span))


def _compression(protocol: str, name: str) -> Any:
    if protocol == "grpc":
        import grpc  # type: ignore[import-untyped]

        return grpc.Compression.Gzip if name == "gzip" else grpc.Compression.NoCompression
    from opentelemetry.exporter.otlp.proto.http import Compression

    return Compression.Gzip if name == "gzip" else Compression.NoCompression


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lclog")
    except PackageNotFoundError:
        return "unknown"


def _detected() -> Any:
    """The resource the environment describes (OTEL_RESOURCE_ATTRIBUTES, OTEL_SERVICE_NAME), read
    when the output is made: the SDK's detectors run in a thread pool, which refuses work once the
    interpreter is exiting, when the first events may be built."""
    from opentelemetry.sdk.resources import Resource

    return Resource.create({})


def _resource(detected: Any, service: str | None) -> Any:
    """The record's resource: OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME (which wins over
    lclog's `service`, as the SDK's own convention says), else `service`."""
    from opentelemetry.sdk.resources import Resource

    if os.environ.get("OTEL_SERVICE_NAME") or not service:
        return detected
    return detected.merge(Resource({"service.name": service}))


class OTLPOutput(BatchingOutput):
    """Sends each event as an OpenTelemetry log record in the `otel` layout's terms (severity,
    EventName, trace and span ids, GenAI attributes, `lclog.*`)."""

    needs_fields = True  # laid out here, once, from lclog's fields

    def __init__(
        self,
        endpoint: str | None,
        *,
        protocol: str = "http/protobuf",
        headers: dict[str, str] | None = None,
        compression: str | None = None,
        batch_bytes: int = 1 << 20,
        flush_interval_s: float = 1.0,
        timeout_s: float = 10.0,
        max_buffer_bytes: int = 8 << 20,
    ) -> None:
        import importlib

        from opentelemetry.sdk.util.instrumentation import InstrumentationScope

        module = importlib.import_module(OTLP_EXPORTERS[protocol][0])
        options: dict[str, Any] = {"endpoint": logs_endpoint(endpoint, protocol), "timeout": timeout_s}
        if headers:
            options["headers"] = dict(headers)
        if compression is not None:
            options["compression"] = _compression(protocol, compression)
        self._exporter = module.OTLPLogExporter(**options)
        self._scope = InstrumentationScope("lclog", _version())
        self._detected = _detected()
        self._resources: dict[Any, Any] = {}  # per service
        super().__init__(
            f"otlp:{endpoint or 'env'}",
            batch_bytes=batch_bytes,
            flush_interval_s=flush_interval_s,
            timeout_s=timeout_s,
            max_buffer_bytes=max_buffer_bytes,
        )

    def encode(self, event: dict[str, Any], line: bytes) -> tuple[Any, int]:
        from opentelemetry._logs import LogRecord, SeverityNumber
        from opentelemetry.sdk._logs import ReadableLogRecord

        record = to_otel(event)  # lclog's fields (needs_fields), whatever `schema` the lines use
        log = LogRecord(
            timestamp=_nanos(record["timestamp"]),
            observed_timestamp=time.time_ns(),
            context=_context(record["trace_id"], record["span_id"]),
            severity_text=record["severity_text"],
            severity_number=SeverityNumber(record["severity_number"]),
            body=record["body"],
            attributes={k: v for k, v in record["attributes"].items() if v is not None},
            event_name=record["event_name"],
        )
        service = event.get("service")
        resource = self._resources.get(service)
        if resource is None:
            resource = self._resources[service] = _resource(
                self._detected, service if isinstance(service, str) else None
            )
        return ReadableLogRecord(log, resource, self._scope), len(line) + 64

    def send(self, values: list[Any]) -> None:
        from opentelemetry.sdk._logs.export import LogRecordExportResult

        if self._exporter.export(values) is not LogRecordExportResult.SUCCESS:
            raise SendFailed("the collector did not take the batch (see the exporter's log)")

    def closed(self) -> None:
        self._exporter.shutdown()
