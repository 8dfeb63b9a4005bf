"""The otlp output, against a loopback OTLP/HTTP receiver that decodes every request with the
official protobuf definitions (opentelemetry-proto)."""

from __future__ import annotations

import gzip
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
from collections import Counter
from typing import Any

import pytest
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableLambda

from lclog import LoggingCallbackHandler
from lclog.cli.demo import run_demo
from lclog.config import load_config
from lclog.errors import ConfigError
from lclog.outputs.otlp import logs_endpoint
from tests.loopback import LoopbackServer, Reply

pytest.importorskip("opentelemetry.proto")
from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest


def decode(body: bytes, headers: dict[str, str]) -> list[dict[str, Any]]:
    """The log records of one OTLP/HTTP request, each with its resource's attributes."""
    headers = {k.lower(): v for k, v in headers.items()}
    if headers.get("content-encoding") == "gzip":
        body = gzip.decompress(body)
    request = ExportLogsServiceRequest()
    request.ParseFromString(body)
    records = []
    for resource_logs in request.resource_logs:
        resource = {a.key: a.value.string_value for a in resource_logs.resource.attributes}
        for scope_logs in resource_logs.scope_logs:
            assert scope_logs.scope.name == "lclog"
            for record in scope_logs.log_records:
                as_dict = MessageToDict(record, preserving_proto_field_name=True)
                as_dict["attributes"] = {a["key"]: a["value"] for a in as_dict.get("attributes", [])}
                as_dict["resource"] = resource
                as_dict["_raw"] = record
                records.append(as_dict)
    return records


def lower(headers: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def received(server: LoopbackServer) -> list[dict[str, Any]]:
    return [r for request in server.requests for r in decode(request.body, request.headers)]


def handler(server_url: str, **output: Any) -> LoggingCallbackHandler:
    spec = {"type": "otlp", "endpoint": server_url, "flush_interval_s": 0.05, **output}
    return LoggingCallbackHandler({"service": "checkout", "outputs": [spec], "flush_timeout_s": 10})


@pytest.fixture
def collector() -> Any:
    server = LoopbackServer("/")
    yield server
    server.close()


def test_every_event_arrives_once_as_the_conventions_say(collector: LoopbackServer):
    h = handler(collector.url, compression="gzip")
    run_demo([h], say=lambda text: None)
    h.close()
    emitted = h.stats.as_dict()["emitted"]
    records = received(collector)
    assert {r.path for r in collector.requests} == {"/v1/logs"}
    assert all(lower(r.headers)["content-type"] == "application/x-protobuf" for r in collector.requests)
    assert all(lower(r.headers)["content-encoding"] == "gzip" for r in collector.requests)
    assert len(records) == emitted > 40
    ids = [(r["event_name"], r["attributes"]["lclog.run_id"]["string_value"]) for r in records]
    assert len(set(ids)) == len(ids)  # each event once
    for record in records:
        assert record["resource"]["service.name"] == "checkout"
        assert len(record["_raw"].trace_id) == 16 and len(record["_raw"].span_id) == 8
        assert record["_raw"].time_unix_nano > 1.7e18 and record["_raw"].observed_time_unix_nano
        level = record["severity_text"]
        assert record["_raw"].severity_number == {"DEBUG": 5, "INFO": 9, "WARNING": 13, "ERROR": 17}[level]
    end = next(r for r in records if r["event_name"] == "chat_model.end")
    attributes = end["attributes"]
    assert attributes["gen_ai.operation.name"] == {"string_value": "chat"}
    assert attributes["gen_ai.usage.output_tokens"] == {"int_value": "9"}
    messages = attributes["gen_ai.output.messages"]["array_value"]["values"][0]["kvlist_value"]["values"]
    assert {"key": "role", "value": {"string_value": "assistant"}} in messages
    error = next(r for r in records if r["event_name"] == "tool.error")
    assert error["severity_text"] == "ERROR" and error["attributes"]["error.type"] == {
        "string_value": "ConnectionError"
    }
    # trace ids: one per trace, the same on every record of it
    roots = [r for r in records if r["attributes"]["lclog.depth"] == {"int_value": "0"}]
    traces = {r["_raw"].trace_id for r in records}
    assert len(traces) == len({r["attributes"]["lclog.run_id"]["string_value"] for r in roots}) >= 6
    # nothing secret left the process
    raw = b"".join(gzip.decompress(r.body) for r in collector.requests)  # gzip: as configured
    assert b"jane.doe@example.com" not in raw and b"[REDACTED:email]" in raw


@pytest.mark.parametrize("schema", ["ecs", "otel"])
def test_the_record_is_the_same_whatever_the_lines_layout_and_each_event_is_laid_out_once(
    collector: LoopbackServer, schema: str, monkeypatch: pytest.MonkeyPatch
):
    """The output gets lclog's fields, before the `schema` layout of the lines, and lays them out
    once: the same records as with the default layout, and one `to_otel` per event at most."""
    from lclog.pipeline import layouts

    calls = Counter[str]()
    for name in ("to_otel", "to_ecs", "normalize"):
        original = getattr(layouts, name)

        def counted(*args: Any, _name: str = name, _original: Any = original) -> Any:
            calls[_name] += 1
            return _original(*args)

        monkeypatch.setattr(layouts, name, counted)
    monkeypatch.setattr("lclog.outputs.otlp.to_otel", layouts.to_otel)

    def records(**settings: Any) -> list[dict[str, Any]]:
        collector.requests.clear()
        spec = {"type": "otlp", "endpoint": collector.url, "flush_interval_s": 0.05}
        h = LoggingCallbackHandler({"service": "checkout", "outputs": [spec], **settings})
        RunnableLambda(lambda x: f"echo {x}", name="echo").invoke("hi", config={"callbacks": [h]})
        h.close()
        varying = {"_raw", "time_unix_nano", "observed_time_unix_nano", "trace_id", "span_id"}
        ids = {"lclog.run_id", "lclog.parent_run_id", "lclog.trace_id", "lclog.duration_ms"}
        out = []
        for r in received(collector):
            record = {k: v for k, v in r.items() if k not in varying}
            record["attributes"] = {k: v for k, v in r["attributes"].items() if k not in ids}
            out.append(record)
        return out

    plain = records()
    calls.clear()
    laid_out = records(schema=schema)
    assert laid_out == plain and len(plain) == 2
    assert calls["normalize"] == 0
    # the lines' layout once per event, and the record's once per event
    assert calls["to_otel"] + calls["to_ecs"] == 2 * len(plain)


def test_a_collector_answering_503_then_429_then_200_loses_nothing(collector: LoopbackServer):
    collector.script = [(503, {"Retry-After": "0"}), (429, {"Retry-After": "0"})]
    h = handler(collector.url)
    model = GenericFakeChatModel(messages=iter([AIMessage("ok")]))
    model.invoke("hi", config={"callbacks": [h]})
    h.close()
    stats = h.stats.as_dict()
    assert stats["dropped"] == 0 and stats["output_errors"] == 0
    assert collector.attempts == 3
    assert [r["event_name"] for r in decode(collector.requests[-1].body, collector.requests[-1].headers)] == [
        "chat_model.start",
        "chat_model.end",
    ]


def test_records_the_collector_rejects_are_counted_and_named(
    collector: LoopbackServer, capfd: pytest.CaptureFixture[str]
):
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse

    answer = ExportLogsServiceResponse()
    answer.partial_success.rejected_log_records = 1
    answer.partial_success.error_message = "one record too large"
    collector.script = [Reply(200, answer.SerializeToString(), {"Content-Type": "application/x-protobuf"})]
    h = handler(collector.url)
    GenericFakeChatModel(messages=iter([AIMessage("ok")])).invoke("hi", config={"callbacks": [h]})
    h.close()
    assert h.stats.as_dict()["dropped"] == 1 and collector.attempts == 1
    assert "the collector rejected records; 1 events dropped" in capfd.readouterr().err


def test_a_collector_refusing_the_request_is_not_asked_again(collector: LoopbackServer):
    collector.script = [400]
    h = handler(collector.url)
    GenericFakeChatModel(messages=iter([AIMessage("ok")])).invoke("hi", config={"callbacks": [h]})
    h.close()
    assert collector.attempts == 1 and h.stats.as_dict()["dropped"] == 2


def test_a_large_batch_is_one_request_with_every_record_in_order(collector: LoopbackServer):
    # 700 events in one batch: encoded in parts, joined into one request the collector reads whole
    h = handler(collector.url, flush_interval_s=60)
    step = RunnableLambda(lambda x: x, name="step")
    for i in range(350):
        step.invoke(i, config={"callbacks": [h], "run_name": f"step-{i:03d}"})
    h.close()
    (request,) = collector.requests
    parsed = ExportLogsServiceRequest()
    parsed.ParseFromString(request.body)
    assert len(parsed.resource_logs) > 1  # parts, each under the same resource
    assert len({rl.resource.SerializeToString() for rl in parsed.resource_logs}) == 1
    names = [r["attributes"]["lclog.name"]["string_value"] for r in received(collector)]
    assert names == [f"step-{i // 2:03d}" for i in range(700)]


def test_tls_with_the_certificate_the_env_var_names(tmp_path: Any, monkeypatch: pytest.MonkeyPatch):
    import ssl

    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    collector = LoopbackServer("/", tls=context)
    try:
        url = collector.url
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_CERTIFICATE", str(cert))
        h = handler(url, timeout_s=2)
        GenericFakeChatModel(messages=iter([AIMessage("ok")])).invoke("hi", config={"callbacks": [h]})
        h.close()
        assert h.stats.as_dict()["dropped"] == 0 and len(received(collector)) == 2
        # without it, the self-signed certificate is refused: counted, not sent
        monkeypatch.delenv("OTEL_EXPORTER_OTLP_CERTIFICATE")
        collector.requests.clear()
        h = handler(url, timeout_s=1)
        GenericFakeChatModel(messages=iter([AIMessage("ok")])).invoke("hi", config={"callbacks": [h]})
        h.close()
        assert h.stats.as_dict()["dropped"] == 2 and not collector.requests
    finally:
        collector.close()


def test_a_collector_refusing_connections_costs_the_call_nothing_and_is_counted(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    from lclog.outputs.otlp import OTLPOutput

    exporting: list[str] = []  # the threads the exporter ran on
    send = OTLPOutput.send

    def watched(self: OTLPOutput, values: list[Any]) -> None:
        exporting.append(threading.current_thread().name)
        send(self, values)

    monkeypatch.setattr(OTLPOutput, "send", watched)
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    h = LoggingCallbackHandler(
        {
            "outputs": [{"type": "otlp", "endpoint": f"http://127.0.0.1:{port}", "timeout_s": 1}],
            "flush_timeout_s": 3,
        }
    )
    model = GenericFakeChatModel(messages=iter([AIMessage("ok")] * 50))
    for _ in range(50):
        assert model.invoke("hi", config={"callbacks": [h]}).content == "ok"
    h.close()
    assert h.stats.as_dict()["dropped"] == 100  # every event counted, none silently
    assert "otlp" in capfd.readouterr().err
    # the exporter (its connection attempts and retries) only ever ran on the output's own thread
    assert exporting and set(exporting) == {"lclog-otlp"}


def test_the_buffer_is_bounded_while_the_collector_hangs(collector: LoopbackServer):
    collector.hold_s = 5
    h = handler(collector.url, max_buffer_bytes=4096, batch_bytes=1024)
    model = GenericFakeChatModel(messages=iter([AIMessage("ok")] * 200))
    for _ in range(200):
        model.invoke("hi", config={"callbacks": [h]})
    h.flush(timeout=0.5)
    collector.released.set()
    h.close()
    stats = h.stats.as_dict()
    delivered = len(received(collector))
    assert stats["dropped"] > 0 and delivered + stats["dropped"] == stats["emitted"] == 400


def test_the_standard_env_vars_are_honoured(collector: LoopbackServer, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url.rstrip("/"))
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=from-env")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=prod")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "from-env")
    monkeypatch.setenv("LCLOG_TEST_TOKEN", "s3cr3t")
    settings = load_config(
        None, outputs=[{"type": "otlp", "headers": {"authorization": "Bearer ${LCLOG_TEST_TOKEN}"}}]
    )
    h = LoggingCallbackHandler(settings)
    GenericFakeChatModel(messages=iter([AIMessage("ok")])).invoke("hi", config={"callbacks": [h]})
    h.close()
    (request,) = collector.requests
    assert request.path == "/v1/logs"
    assert lower(request.headers)["authorization"] == "Bearer s3cr3t"
    assert lower(request.headers)["x-api-key"] == "from-env"
    record = decode(request.body, request.headers)[0]
    assert record["resource"]["service.name"] == "from-env"
    assert record["resource"]["deployment.environment.name"] == "prod"


def test_endpoints_and_config_errors(monkeypatch: pytest.MonkeyPatch):
    assert logs_endpoint("http://collector:4318", "http/protobuf") == "http://collector:4318/v1/logs"
    assert logs_endpoint("http://collector:4318/", "http/protobuf") == "http://collector:4318/v1/logs"
    assert logs_endpoint("http://gw/otlp/v1/logs", "http/protobuf") == "http://gw/otlp/v1/logs"
    assert logs_endpoint(None, "http/protobuf") is None
    with pytest.raises(ConfigError, match="endpoint"):
        load_config(None, outputs=[{"type": "otlp", "endpoint": "collector:4318"}])
    with pytest.raises(ConfigError, match="url does not apply to a otlp output"):
        load_config(None, outputs=[{"type": "otlp", "url": "http://x"}])
    import lclog.outputs.options

    monkeypatch.setattr(lclog.outputs.options, "_installed", lambda module: False)
    # the exporter's own package installs from anywhere; the extra, from lclog's checkout
    exporter = r'pip install opentelemetry-proto .*"\.\[otlp\]"'
    with pytest.raises(ConfigError, match=exporter):
        load_config(None, outputs=[{"type": "otlp"}])


def test_grpc_reaches_a_grpc_receiver():
    pytest.importorskip("grpc")
    from concurrent import futures

    import grpc
    from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc

    got: list[ExportLogsServiceRequest] = []
    answers = [grpc.StatusCode.UNAVAILABLE]  # a first refusal the exporter retries

    class Receiver(logs_service_pb2_grpc.LogsServiceServicer):
        def Export(self, request: Any, context: Any) -> Any:
            if answers:
                context.abort(answers.pop(0), "not yet")
            got.append(request)
            answer = logs_service_pb2.ExportLogsServiceResponse()
            if len(got) == 2:  # the second batch: one record rejected (OTLP's partial success)
                answer.partial_success.rejected_log_records = 1
            return answer

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    logs_service_pb2_grpc.add_LogsServiceServicer_to_server(Receiver(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        h = LoggingCallbackHandler(
            {
                "outputs": [{"type": "otlp", "protocol": "grpc", "endpoint": f"http://127.0.0.1:{port}"}],
                "flush_timeout_s": 10,
            }
        )
        model = GenericFakeChatModel(messages=iter([AIMessage("ok")] * 2))
        model.invoke("hi", config={"callbacks": [h]})
        assert h.flush(timeout=10)
        dropped_before = h.stats.as_dict()["dropped"]
        model.invoke("hi", config={"callbacks": [h]})
        h.close()
    finally:
        server.stop(0)
    records = [
        r for request in got for rl in request.resource_logs for sl in rl.scope_logs for r in sl.log_records
    ]
    assert [r.event_name for r in records] == ["chat_model.start", "chat_model.end"] * 2
    assert dropped_before == 0 and h.stats.as_dict()["dropped"] == 1


@pytest.mark.parametrize(
    "ending",
    ["", "import sys; sys.exit(3)", "raise SystemExit('bye')", "raise ValueError('unhandled')"],
    ids=["normal", "sys.exit", "SystemExit", "unhandled exception"],
)
def test_a_script_that_never_closes_its_handler_delivers_every_event_at_exit(collector, ending):
    # Short jobs and CLIs end without close(): the exit hook delivers, the resource included
    # (the SDK's detectors refuse work once the interpreter is exiting).
    script = textwrap.dedent(
        f"""
        from langchain_core.runnables import RunnableLambda
        from lclog import LoggingCallbackHandler
        output = {{"type": "otlp", "endpoint": "{collector.url}"}}
        h = LoggingCallbackHandler({{"service": "job", "outputs": [output]}})
        for i in range(40):
            RunnableLambda(lambda x: x, name="step").invoke(i, config={{"callbacks": [h]}})
        {ending}
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    records = received(collector)
    assert len(records) == 80, done.stderr
    assert {r["resource"]["service.name"] for r in records} == {"job"}
    assert "lclog:" not in done.stderr


def test_grpc_a_send_still_running_at_close_is_counted_once():
    pytest.importorskip("grpc")
    import time
    from concurrent import futures

    import grpc
    from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc

    class Hanging(logs_service_pb2_grpc.LogsServiceServicer):
        def Export(self, request: Any, context: Any) -> Any:
            time.sleep(2)
            return logs_service_pb2.ExportLogsServiceResponse()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    logs_service_pb2_grpc.add_LogsServiceServicer_to_server(Hanging(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        output = {"type": "otlp", "protocol": "grpc", "endpoint": f"http://127.0.0.1:{port}"}
        h = LoggingCallbackHandler({"outputs": [output], "flush_timeout_s": 0.5})
        GenericFakeChatModel(messages=iter([AIMessage("ok")])).invoke("hi", config={"callbacks": [h]})
        h.close()  # gives up on the send under way and closes the channel
        time.sleep(2.5)  # the abandoned send ends meanwhile
    finally:
        server.stop(0)
    assert h.stats.as_dict()["dropped"] == 2  # counted by close(), not again by the sender
