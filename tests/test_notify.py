"""Error notifications against a real HTTP server on loopback: delivery, failures, dedupe."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableLambda
from langchain_core.tools import tool

from lclog import LoggingCallbackHandler
from lclog.cli.demo import FakeToolChatModel, agent_messages, build_agent
from lclog.outputs import MemoryOutput
from tests.loopback import LoopbackServer

RECEIVED: list[dict[str, Any]] = []


class Server(LoopbackServer):
    """The webhook's peer: a loopback server whose answers the test scripts."""

    def __init__(self) -> None:
        super().__init__("/hook?token=s3cr3t-in-url")

    @property
    def received(self) -> list[dict[str, Any]]:
        return [{"path": r.path, "headers": r.headers, "body": json.loads(r.body)} for r in self.requests]


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.close()


@tool
def charge(card: str) -> str:
    """Charges a card (always fails)."""
    raise ConnectionError(f"payment gateway down for {card} password=hunter2hunter2")


def failing_chain() -> Any:
    return RunnableLambda(lambda x: charge.invoke({"card": x}), name="checkout")


def handler_for(targets: list[dict[str, Any]], **notify: Any) -> LoggingCallbackHandler:
    top = {k: notify.pop(k) for k in ("flush_timeout_s",) if k in notify}
    config = {"outputs": [], "notify": {"targets": targets, **notify}, **top}
    return LoggingCallbackHandler(config, outputs=[MemoryOutput()])


def run_failing(handler: LoggingCallbackHandler, card: str = "4111 1111 1111 1111") -> float:
    start = time.perf_counter()
    with pytest.raises(ConnectionError):
        failing_chain().invoke(card, config={"callbacks": [handler]})
    return time.perf_counter() - start


def test_webhook_gets_one_redacted_notification_with_headers(server, monkeypatch):
    monkeypatch.setenv("HOOK_TOKEN", "tok-from-env")
    handler = handler_for(
        [{"type": "webhook", "url": server.url, "headers": {"Authorization": "Bearer ${HOOK_TOKEN}"}}],
        min_interval_s=0,
    )
    run_failing(handler)
    handler.close()
    assert len(server.received) == 1
    req = server.received[0]
    assert req["headers"]["Authorization"] == "Bearer tok-from-env"
    assert req["headers"]["Content-Type"] == "application/json"
    body = req["body"]
    assert body["kind"] == "error" and body["service"] == "langchain"
    assert body["run"]["type"] == "tool" and body["run"]["name"] == "charge"
    assert body["error"]["type"] == "ConnectionError"
    assert body["path"] == ["checkout", "charge"]
    assert body["trace_id"] and body["suppressed"] == 0
    text = json.dumps(body)
    assert "4111 1111 1111 1111" not in text and "hunter2hunter2" not in text
    assert handler.stats.notifications_sent == 1 and handler.stats.notifier_failures == 0


def test_slack_format_sends_a_text_line(server):
    handler = handler_for([{"type": "webhook", "url": server.url, "format": "slack"}])
    run_failing(handler)
    handler.close()
    (req,) = server.received
    assert set(req["body"]) == {"text"}
    assert req["body"]["text"].startswith(
        "[langchain] tool charge failed: ConnectionError: payment gateway down"
    )
    assert "path checkout > charge" in req["body"]["text"]


def test_500_then_200_is_retried_and_delivered(server):
    server.script = [(500, {}, 0.0), (429, {}, 0.0)]
    handler = handler_for([{"type": "webhook", "url": server.url, "backoff_s": 0.01}])
    run_failing(handler)
    handler.close()
    assert len(server.received) == 3
    assert handler.stats.notifications_sent == 1 and handler.stats.notifier_failures == 0


def test_400_is_not_retried(server, capfd):
    server.script = [(400, {}, 0.0)]
    handler = handler_for([{"type": "webhook", "url": server.url, "backoff_s": 0.01}])
    run_failing(handler)
    handler.close()
    assert len(server.received) == 1
    assert handler.stats.notifier_failures == 1
    err = capfd.readouterr().err
    assert "notify webhook 127.0.0.1 failed: HTTP 400" in err and "s3cr3t-in-url" not in err


def test_slow_server_never_slows_the_call(server):
    server.script = [(200, {}, 5.0)]
    handler = handler_for([{"type": "webhook", "url": server.url, "timeout_s": 10}], flush_timeout_s=0.3)
    elapsed = run_failing(handler)
    assert elapsed < 1.0  # the server holds the request for 5 s
    started = time.perf_counter()
    handler.close()  # waits at most flush_timeout_s for the notification
    assert time.perf_counter() - started < 2.0


def test_refused_connection_is_counted_not_raised(capfd):
    with socket.socket() as s:  # a port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    handler = handler_for(
        [{"type": "webhook", "url": f"http://127.0.0.1:{port}/", "retries": 2, "backoff_s": 0.01}]
    )
    run_failing(handler)
    handler.close()
    assert handler.stats.notifier_failures == 1 and handler.stats.notifications_sent == 0
    assert "after 3 attempts" in capfd.readouterr().err


def test_unresponsive_host_times_out():
    with socket.socket() as s:  # accepts connections into its backlog but never answers
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        url = f"http://127.0.0.1:{s.getsockname()[1]}/"
        handler = handler_for([{"type": "webhook", "url": url, "timeout_s": 0.2, "retries": 0}])
        assert run_failing(handler) < 1.0
        handler.close()
    assert handler.stats.notifier_failures == 1


def failing_target(notification: dict[str, Any]) -> None:
    raise ValueError("target exploded")


def collecting_target(notification: dict[str, Any]) -> None:
    RECEIVED.append(notification)


def test_a_raising_callable_target_is_counted(capfd):
    handler = handler_for([{"type": "callable", "target": "tests.test_notify:failing_target"}])
    run_failing(handler)
    handler.close()
    assert handler.stats.notifier_failures == 1
    assert "notify callable tests.test_notify:failing_target failed: ValueError" in capfd.readouterr().err


def test_log_target(caplog):
    handler = handler_for([{"type": "log", "logger": "app.alerts"}])
    with caplog.at_level(logging.ERROR, logger="app.alerts"):
        run_failing(handler)
        handler.close()
    (record,) = caplog.records
    assert record.levelname == "ERROR" and "tool charge failed" in record.getMessage()
    assert record.lclog_notification["run"]["name"] == "charge"


def test_full_queue_drops_and_counts():
    handler = handler_for(
        [{"type": "callable", "target": "tests.test_notify:collecting_target"}],
        queue_size=1,
        min_interval_s=0,
    )
    block = threading.Event()
    handler._recorder.notifier.targets[0].send = lambda n: block.wait(5)  # a target that hangs
    for i in range(4):
        run_failing(handler, card=f"card-{i}")
    handler.metrics.snapshot()  # failures are noticed as their events are built
    assert handler.stats.notifications_dropped >= 2
    block.set()
    handler.close()


def agent(fail_run: bool) -> Any:
    return build_agent(FakeToolChatModel(messages=agent_messages()), handle_tool_errors=not fail_run)


def test_one_notification_per_failed_trace_through_a_langgraph_agent_and_dedupe():
    RECEIVED.clear()
    handler = handler_for(
        [{"type": "callable", "target": "tests.test_notify:collecting_target"}], min_interval_s=0.5
    )
    cfg = {"callbacks": [handler]}
    for _ in range(3):
        with pytest.raises(ConnectionError):
            agent(fail_run=True).invoke({"messages": [HumanMessage("go")]}, config=cfg)
    handler.flush()
    assert len(RECEIVED) == 1  # not one per ancestor chain, and duplicates within the interval suppressed
    first = RECEIVED[0]
    assert first["kind"] == "error"
    assert first["run"]["type"] == "tool" and first["run"]["name"] == "lookup_order"
    assert first["path"] == ["agent", "tools", "lookup_order"]
    assert "abc123secret" not in json.dumps(first)
    assert handler.stats.notifications_suppressed == 2
    time.sleep(0.55)
    with pytest.raises(ConnectionError):
        agent(fail_run=True).invoke({"messages": [HumanMessage("go")]}, config=cfg)
    handler.close()
    assert len(RECEIVED) == 2 and RECEIVED[1]["suppressed"] == 2


def test_recovered_tool_errors_notify_only_when_asked():
    RECEIVED.clear()
    target = [{"type": "callable", "target": "tests.test_notify:collecting_target"}]
    quiet = handler_for(target)
    agent(fail_run=False).invoke({"messages": [HumanMessage("go")]}, config={"callbacks": [quiet]})
    quiet.close()
    assert RECEIVED == []
    loud = handler_for(target, recovered=True)
    agent(fail_run=False).invoke({"messages": [HumanMessage("go")]}, config={"callbacks": [loud]})
    loud.close()
    assert [(n["kind"], n["run"]["name"]) for n in RECEIVED] == [("recovered", "lookup_order")]


def test_slow_runs_notify():
    RECEIVED.clear()
    handler = handler_for(
        [{"type": "callable", "target": "tests.test_notify:collecting_target"}], slow_ms=50, on=["chain"]
    )
    RunnableLambda(lambda x: time.sleep(0.08) or x, name="sluggish").invoke(
        1, config={"callbacks": [handler]}
    )
    RunnableLambda(lambda x: x, name="quick").invoke(1, config={"callbacks": [handler]})
    handler.close()
    assert [(n["kind"], n["run"]["name"]) for n in RECEIVED] == [("slow", "sluggish")]
    assert RECEIVED[0]["run"]["duration_ms"] >= 50


def test_no_targets_means_no_notifier():
    handler = LoggingCallbackHandler(outputs=[])
    assert handler._recorder.notifier is None
    run_failing(handler)
    handler.close()
    assert handler.stats.notifications_sent == 0


def test_async_callers_are_not_blocked(server):
    server.script = [(200, {}, 3.0)]
    handler = handler_for([{"type": "webhook", "url": server.url}], flush_timeout_s=0.2)

    async def main() -> float:
        start = time.perf_counter()
        with pytest.raises(ConnectionError):
            await failing_chain().ainvoke("x", config={"callbacks": [handler]})
        return time.perf_counter() - start

    import asyncio

    assert asyncio.run(main()) < 1.0
    handler.close()


def test_pending_notifications_are_delivered_at_interpreter_exit(server, tmp_path):
    import subprocess
    import sys

    script = tmp_path / "app.py"
    script.write_text(
        "import lclog\n"
        "from langchain_core.runnables import RunnableLambda\n"
        f"h = lclog.LoggingCallbackHandler({{'outputs': [], 'notify': {{'targets': [{{'type': 'webhook', "
        f"'url': {server.url!r}}}]}}}})\n"
        "def boom(x):\n    raise RuntimeError('bye')\n"
        "try:\n    RunnableLambda(boom).invoke(1, config={'callbacks': [h]})\n"
        "except RuntimeError:\n    pass\n"
        "raise SystemExit(3)\n"  # exits at once, without flush() or close()
    )
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 3, proc.stderr
    assert [r["body"]["error"]["type"] for r in server.received] == ["RuntimeError"]


def test_notifications_to_a_black_hole_at_shutdown_are_each_counted_within_the_deadline(capfd):
    # The webhook accepts connections and never answers: at close, the delivery under way gives up
    # at the deadline and every notification not yet started is counted and named.
    with socket.socket() as hole:
        hole.bind(("127.0.0.1", 0))
        hole.listen(256)
        url = f"http://127.0.0.1:{hole.getsockname()[1]}/"
        handler = handler_for([{"type": "webhook", "url": url}], min_interval_s=0, flush_timeout_s=1.5)
        for i in range(200):
            run_failing(handler, card=f"card-{i}")
        handler.metrics.snapshot()  # failures are noticed as their events are built
        start = time.monotonic()
        handler.close()
        took = time.monotonic() - start
    stats = handler.stats
    counted = stats.notifications_sent + stats.notifications_dropped + stats.notifier_failures
    assert counted + stats.notifications_suppressed == 200 and stats.notifications_sent == 0
    assert stats.notifications_dropped >= 190
    assert took < 1.5 + 1.0  # the deadline, and the thread's stop
    assert "not delivered within flush_timeout_s" in capfd.readouterr().err


def test_webhook_defaults_retry_within_the_default_shutdown_deadline():
    from lclog.settings import Settings, WebhookTarget

    spec = WebhookTarget(type="webhook", url="http://127.0.0.1:9/")
    attempts = spec.retries + 1
    pauses = sum(spec.backoff_s * 2**i for i in range(spec.retries))
    assert attempts * spec.timeout_s + pauses < Settings().flush_timeout_s
