"""OpenTelemetry log records over OTLP (HTTP/protobuf or gRPC), encoded with the official protobuf
definitions (opentelemetry-proto), batched and sent from a thread of their own (the `otlp` extra).

The writer keeps each event's fields as compact JSON bytes (a few microseconds, no object the
garbage collector tracks); the sender lays them out, encodes them and joins them into one request
in short slices, giving way to the application's threads between them, so that neither thread
holds the interpreter for long while the application's calls wait for it.
"""

from __future__ import annotations

import datetime as dt
import gzip
import os
import ssl
import time
import urllib.parse
from typing import Any

import orjson

from lclog.outputs._batching import BatchingOutput, SendFailed
from lclog.outputs._grpc import GRPC
from lclog.outputs._http import PostFailed, post
from lclog.pipeline.layouts import to_otel

__all__ = ["OTLPOutput", "logs_endpoint", "resource_attributes"]

_DEFAULT_ENDPOINTS = {"http/protobuf": "http://localhost:4318", "grpc": "http://localhost:4317"}
# Records per part of a request, and the longest the sender encodes before it lets the
# application's threads run (see OTLPOutput.request).
_PART = 128
_SLICE_S = 0.0005
# A batch's attempts (retries included) must end within timeout_s; this many at most.
_ATTEMPTS = 10
_BACKOFF_S = 0.5
_INT64 = 1 << 63


def logs_endpoint(endpoint: str | None, protocol: str) -> str | None:
    """The URL logs are sent to: an HTTP endpoint without a path gets OTLP's `/v1/logs` (as
    OTEL_EXPORTER_OTLP_ENDPOINT does); None leaves it to the OTEL_EXPORTER_OTLP_* env vars."""
    if endpoint is None or protocol != "http/protobuf":
        return endpoint
    _, _, rest = endpoint.partition("://")
    return endpoint if "/" in rest.strip("/") else f"{endpoint.rstrip('/')}/v1/logs"


def _env(name: str) -> str | None:
    """OTEL_EXPORTER_OTLP_LOGS_<name>, else OTEL_EXPORTER_OTLP_<name>: the standard env vars."""
    return os.environ.get(f"OTEL_EXPORTER_OTLP_LOGS_{name}") or os.environ.get(f"OTEL_EXPORTER_OTLP_{name}")


def _resolved_endpoint(endpoint: str | None, protocol: str) -> str:
    if endpoint is not None:
        return logs_endpoint(endpoint, protocol) or endpoint
    signal = os.environ.get("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT")
    if signal:  # used as it is, as the specification says
        return signal
    base = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or _DEFAULT_ENDPOINTS[protocol]
    return logs_endpoint(base, protocol) or base


def _pairs(text: str | None) -> dict[str, str]:
    """`key1=value1,key2=value2` with percent-encoded values (the W3C Baggage form the OTEL_*
    env vars use); entries without `=` are left out."""
    pairs: dict[str, str] = {}
    for entry in (text or "").split(","):
        key, sep, value = entry.partition("=")
        if sep and key.strip():
            pairs[urllib.parse.unquote(key.strip())] = urllib.parse.unquote(value.strip())
    return pairs


def resource_attributes(service: str | None) -> dict[str, str]:
    """The resource every record carries: OTEL_RESOURCE_ATTRIBUTES, then `service.name` from
    OTEL_SERVICE_NAME (which wins, as the SDK's convention says), else lclog's `service`."""
    attributes = {
        "telemetry.sdk.name": "lclog",
        "telemetry.sdk.language": "python",
        "telemetry.sdk.version": _version(),
        **_pairs(os.environ.get("OTEL_RESOURCE_ATTRIBUTES")),
    }
    name = os.environ.get("OTEL_SERVICE_NAME") or service or attributes.get("service.name")
    attributes["service.name"] = name or "unknown_service"
    return attributes


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lclog")
    except PackageNotFoundError:
        return "unknown"


def _nanos(timestamp: Any) -> int:
    if isinstance(timestamp, str):
        try:
            moment = dt.datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
            return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000
        except ValueError:
            pass
    return time.time_ns()


def _id_bytes(value: Any, size: int) -> bytes:
    """A hex trace or span id as its bytes; b"" (left out) when it is none or zero."""
    if isinstance(value, str) and len(value) == 2 * size:
        try:
            raw = bytes.fromhex(value)
        except ValueError:
            return b""
        return raw if any(raw) else b""
    return b""


def set_value(out: Any, value: Any) -> None:
    """Fills an AnyValue from a JSON-like value (None: an empty AnyValue, as the SDK encodes it)."""
    kind = type(value)
    if value is None:
        out.SetInParent()  # present and empty
        return
    if kind is str:
        out.string_value = value
    elif kind is bool:
        out.bool_value = value
    elif kind is int:
        if -_INT64 <= value < _INT64:
            out.int_value = value
        else:  # past int64: its digits
            out.string_value = str(value)
    elif kind is float:
        out.double_value = value
    elif kind is list or kind is tuple:
        out.array_value.SetInParent()  # an empty list is still a list
        values = out.array_value.values
        for item in value:
            set_value(values.add(), item)
    elif isinstance(value, dict):
        out.kvlist_value.SetInParent()
        entries = out.kvlist_value.values
        for key, item in value.items():
            entry = entries.add()
            entry.key = str(key)
            set_value(entry.value, item)
    elif kind is bytes:
        out.bytes_value = value
    else:
        out.string_value = str(value)


def fill_record(out: Any, record: dict[str, Any], observed: int) -> None:
    """Fills a protobuf LogRecord from the `otel` layout of an event (`to_otel`)."""
    out.time_unix_nano = _nanos(record["timestamp"])
    out.observed_time_unix_nano = observed
    out.severity_number = record["severity_number"]
    out.severity_text = record["severity_text"]
    out.event_name = record["event_name"] or ""
    trace_id = _id_bytes(record["trace_id"], 16)
    if trace_id:
        out.trace_id = trace_id
        out.flags = 1  # sampled
    span_id = _id_bytes(record["span_id"], 8)
    if span_id:
        out.span_id = span_id
    set_value(out.body, record["body"])
    attributes = out.attributes
    for key, value in record["attributes"].items():
        if value is not None:
            entry = attributes.add()
            entry.key = key
            set_value(entry.value, value)


class _HTTP:
    """OTLP/HTTP: a protobuf body POSTed with retries (`lclog.outputs._http`)."""

    def __init__(self, endpoint: str, headers: dict[str, str], gzipped: bool) -> None:
        self.url = endpoint
        self._headers = {"Content-Type": "application/x-protobuf", **headers}
        if gzipped:
            self._headers["Content-Encoding"] = "gzip"
        self._gzip = gzipped
        self._context = _tls_context()

    def export(self, body: bytes, deadline: Any, sleep: Any, *, retries: int, backoff: float) -> bytes:
        data = gzip.compress(body, compresslevel=6) if self._gzip else body
        return post(
            self.url,
            data,
            self._headers,
            timeout=_timeout_s(deadline),
            retries=retries,
            backoff=backoff,
            deadline=deadline,
            sleep=sleep,
            context=self._context,
        )

    def close(self) -> None:
        pass


def _timeout_s(deadline: Any) -> float:
    limit = deadline()
    return 10.0 if limit is None else max(0.001, limit - time.monotonic())


def _tls_context() -> ssl.SSLContext | None:
    """The CA and client certificate the standard env vars name, if any."""
    ca, cert, key = _env("CERTIFICATE"), _env("CLIENT_CERTIFICATE"), _env("CLIENT_KEY")
    if not (ca or cert):
        return None
    context = ssl.create_default_context(cafile=ca)
    if cert:
        context.load_cert_chain(cert, key)
    return context


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
        from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
            ExportLogsServiceRequest,
            ExportLogsServiceResponse,
        )
        from opentelemetry.proto.resource.v1.resource_pb2 import Resource

        self._request_type, self._response_type = ExportLogsServiceRequest, ExportLogsServiceResponse
        self._resource_type = Resource
        self._resources: dict[Any, bytes] = {}  # per service, serialized
        self._version = _version()
        target = _resolved_endpoint(endpoint, protocol)
        sent_headers = {**_pairs(_env("HEADERS")), **(headers or {})}
        gzipped = (compression or _env("COMPRESSION") or "none") == "gzip"
        if protocol == "grpc":
            self._transport: Any = GRPC(target, sent_headers, gzipped, _env("CERTIFICATE"))
        else:
            self._transport = _HTTP(target, sent_headers, gzipped)
        super().__init__(
            f"otlp:{endpoint or 'env'}",
            batch_bytes=batch_bytes,
            flush_interval_s=flush_interval_s,
            timeout_s=timeout_s,
            max_buffer_bytes=max_buffer_bytes,
        )

    # -- the writer's side: compact JSON, the fields as they are -----------------------------

    def encode(self, event: dict[str, Any], line: bytes) -> tuple[Any, int]:
        service = event.get("service")
        data = orjson.dumps(event, option=orjson.OPT_NON_STR_KEYS, default=str)
        return (service if isinstance(service, str) else None, data, time.time_ns()), len(data)

    # -- the sender's side --------------------------------------------------------------------

    def _resource(self, service: str | None) -> bytes:
        resource = self._resources.get(service)
        if resource is None:
            message = self._resource_type()
            for key, value in resource_attributes(service).items():
                entry = message.attributes.add()
                entry.key = key
                entry.value.string_value = value
            resource = self._resources[service] = message.SerializeToString()
        return resource

    def request(self, values: list[tuple[str | None, bytes, int]]) -> bytes:
        """One ExportLogsServiceRequest of a batch: its records under their service's resource and
        the scope `lclog`, as ResourceLogs of up to `_PART` records each.

        The records are laid out and encoded here, on the sender's thread, in slices of
        `_SLICE_S` between which the application's threads may take the interpreter; each part is
        serialized on its own and the parts are joined (serialized messages concatenated are
        their merge), so that no single C call holds it for more than a part's worth."""
        by_service: dict[str | None, list[tuple[bytes, int]]] = {}
        for service, data, observed in values:
            by_service.setdefault(service, []).append((data, observed))
        parts: list[bytes] = []
        slice_end = time.perf_counter() + _SLICE_S
        for service, records in by_service.items():
            resource = self._resource(service)
            for i in range(0, len(records), _PART):
                part = self._request_type()
                resource_logs = part.resource_logs.add()
                resource_logs.resource.MergeFromString(resource)
                scope_logs = resource_logs.scope_logs.add()
                scope_logs.scope.name = "lclog"
                scope_logs.scope.version = self._version
                added = scope_logs.log_records.add
                for data, observed in records[i : i + _PART]:
                    fill_record(added(), to_otel(orjson.loads(data)), observed)
                    if time.perf_counter() > slice_end:
                        time.sleep(0)  # the application's threads first
                        slice_end = time.perf_counter() + _SLICE_S
                parts.append(part.SerializeToString())
        return b"".join(parts)

    def send(self, values: list[Any]) -> None:
        started = time.monotonic()

        def deadline() -> float:
            limit = started + self._timeout
            return limit if self.deadline is None else min(limit, self.deadline)

        try:
            answer = self._transport.export(
                self.request(values), deadline, self._stop.wait, retries=_ATTEMPTS - 1, backoff=_BACKOFF_S
            )
        except PostFailed as exc:
            raise SendFailed(str(exc)) from None
        self._partial(answer)

    def _partial(self, answer: bytes) -> None:
        """Counts the records a collector said it rejected (OTLP's partial success)."""
        if not answer:
            return
        response = self._response_type()
        try:
            response.ParseFromString(answer)
        except Exception:  # not an OTLP response (a proxy's page): the batch was taken
            return
        rejected = response.partial_success.rejected_log_records
        if rejected > 0:
            self._lose(rejected, f"output {self.name} failed", "the collector rejected records", failed=True)

    def closed(self) -> None:
        self._transport.close()
