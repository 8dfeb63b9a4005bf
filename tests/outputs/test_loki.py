"""Direct push to Loki, against a loopback server that enforces the push API contract."""

from __future__ import annotations

import gzip
import json
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.runnables import RunnableLambda

from lclog import LoggingCallbackHandler
from lclog.outputs.loki import MAX_LINE_BYTES
from tests.loopback import LoopbackServer, Request


class FakeLoki(LoopbackServer):
    """Accepts pushes only if they follow Loki's /loki/api/v1/push contract."""

    def __init__(self) -> None:
        super().__init__("/loki/api/v1/push", answer=self.check)
        self.pushes: list[dict[str, Any]] = []
        self.violations: list[str] = []

    def check(self, req: Request) -> int:
        headers = {k.lower(): v for k, v in req.headers.items()}
        raw = req.body
        problems = []
        if req.path != "/loki/api/v1/push":
            problems.append(f"path {req.path}")
        if headers.get("content-type") != "application/json":
            problems.append("content type")
        if headers.get("content-encoding") == "gzip":
            raw = gzip.decompress(raw)
        body = json.loads(raw)
        now = time.time_ns()
        for stream in body["streams"]:
            if not 0 < len(stream["stream"]) <= 15:
                problems.append("label count")
            for name in stream["stream"]:
                if not re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]*", name):
                    problems.append(f"label name {name}")
            stamps = [int(ts) for ts, _ in stream["values"]]
            if stamps != sorted(stamps):
                problems.append("out of order")
            for ts, line in stream["values"]:
                if not (isinstance(ts, str) and ts.isdigit() and abs(int(ts) - now) < 3600 * 10**9):
                    problems.append(f"timestamp {ts!r}")
                if len(line.encode()) > MAX_LINE_BYTES:
                    problems.append("line too long")
                if any(name in json.loads(line) for name in stream["stream"]):
                    problems.append("label repeated in line")
        self.violations += problems
        if problems:
            return 400
        self.pushes.append({"headers": headers, "body": body})
        return 204

    @property
    def lines(self) -> list[dict[str, Any]]:
        return [
            json.loads(line) for p in self.pushes for s in p["body"]["streams"] for _, line in s["values"]
        ]


@pytest.fixture
def loki() -> Iterator[FakeLoki]:
    server = FakeLoki()
    yield server
    server.close()


def handler(loki: FakeLoki, top: dict[str, Any] | None = None, **output: Any) -> LoggingCallbackHandler:
    spec = {"type": "loki", "url": loki.url, "labels": {"service": "bot", "env": "test"}, **output}
    return LoggingCallbackHandler({"service": "bot", "outputs": [spec], **(top or {})})


def test_push_follows_the_contract_with_tenant_and_auth(loki, monkeypatch):
    monkeypatch.setenv("LOKI_TOKEN", "t0k")
    h = handler(loki, tenant="team-a", headers={"Authorization": "Bearer ${LOKI_TOKEN}"})
    for i in range(5):
        RunnableLambda(lambda x: x).invoke(i, config={"callbacks": [h]})
    h.close()
    assert loki.violations == []
    assert loki.pushes[0]["headers"]["x-scope-orgid"] == "team-a"
    assert loki.pushes[0]["headers"]["authorization"] == "Bearer t0k"
    assert loki.pushes[0]["body"]["streams"][0]["stream"] == {"service": "bot", "env": "test"}
    assert len(loki.lines) == 10 and all("service" not in line for line in loki.lines)
    assert h.stats.dropped == 0


def test_batches_by_size(loki):
    h = handler(loki, batch_bytes=4096, flush_interval_s=60)
    for i in range(40):
        RunnableLambda(lambda x: x).invoke("x" * 200 + str(i), config={"callbacks": [h]})
    h.flush()
    assert len(loki.pushes) > 2 and len(loki.lines) == 80 and loki.violations == []
    h.close()


def test_huge_lines_are_cut_below_the_limit(loki):
    h = handler(loki)
    RunnableLambda(lambda x: "ok").invoke("y" * 400_000, config={"callbacks": [h]})
    h.close()
    assert loki.violations == [] and len(loki.lines) == 2


def test_retries_on_429_and_5xx_but_not_on_400(loki, capfd):
    loki.script = [429, 503]
    h = handler(loki)
    h.outputs[0]._backoff = 0.01
    RunnableLambda(lambda x: x).invoke(1, config={"callbacks": [h]})
    h.flush()
    assert loki.attempts == 3 and len(loki.lines) == 2
    loki.script = [400]
    RunnableLambda(lambda x: x).invoke(2, config={"callbacks": [h]})
    h.close()
    assert loki.attempts == 4 and h.stats.dropped == 2 and h.stats.output_errors == 1
    assert "output loki failed: HTTP 400" in capfd.readouterr().err


def test_unreachable_loki_never_blocks_the_call():
    h = LoggingCallbackHandler(
        {
            "outputs": [
                {
                    "type": "loki",
                    "url": "http://127.0.0.1:9/loki/api/v1/push",
                    "labels": {"a": "b"},
                    "retries": 0,
                }
            ]
        }
    )
    assert RunnableLambda(lambda x: x).invoke(1, config={"callbacks": [h]}) == 1
    h.close()
    assert h.stats.dropped == 2 and h.stats.output_errors == 1


def test_retry_after_is_honoured(loki):
    loki.script = [(429, {"Retry-After": "1"})]
    h = handler(loki, retries=2)
    h.outputs[0]._backoff = 0.01  # without Retry-After the next attempt would follow at once
    RunnableLambda(lambda x: x).invoke(1, config={"callbacks": [h]})
    h.close()
    assert loki.attempts == 2 and len(loki.lines) == 2 and h.stats.dropped == 0
    assert loki.attempt_times[1] - loki.attempt_times[0] >= 0.9


def test_a_retry_after_past_the_flush_timeout_gives_up_and_counts(loki, capfd):
    loki.script = [(503, {"Retry-After": "30"})]
    h = handler(loki, {"flush_timeout_s": 0.5}, retries=3)
    RunnableLambda(lambda x: x).invoke(1, config={"callbacks": [h]})
    h.close()
    assert loki.attempts == 1 and loki.lines == []  # close did not wait 30 s for a second try
    assert h.stats.dropped == 2
    assert "2 events dropped" in capfd.readouterr().err


@pytest.mark.parametrize("down", ["refusing", "holding", "500"])
def test_loki_down_while_traffic_flows_loses_nothing_uncounted(down, capfd):
    loki = FakeLoki()
    if down == "refusing":
        loki.close()
    elif down == "holding":
        loki.hold_s = 10
    else:
        loki.script = [500] * 1000
    h = handler(loki, {"flush_timeout_s": 1}, batch_bytes=4096, max_buffer_bytes=32768, retries=1)
    h.outputs[0]._backoff = 0.01
    chain = RunnableLambda(lambda x: x)
    for i in range(500):
        chain.invoke(f"request {i}", config={"callbacks": [h]})
    h.close()
    # Nothing was acknowledged: every event is counted as dropped (buffer full, failed, or still
    # in flight at the flush timeout: a held request may yet be taken once Loki answers).
    assert h.stats.emitted == 1000 and h.stats.dropped == 1000
    assert "events dropped" in capfd.readouterr().err
    if down != "holding":
        assert loki.lines == []
    loki.close()


def test_the_calling_thread_never_posts(loki, monkeypatch):
    import lclog.outputs._http

    posting: set[int] = set()
    real = lclog.outputs._http.urllib.request.urlopen

    def recording(*args: Any, **kwargs: Any) -> Any:
        posting.add(threading.get_ident())
        return real(*args, **kwargs)

    monkeypatch.setattr(lclog.outputs._http.urllib.request, "urlopen", recording)
    loki.hold_s = 0.05  # a slow Loki: each push takes a while
    h = handler(loki, batch_bytes=4096)
    for i in range(300):  # past the queue length at which producers help, and many full batches
        RunnableLambda(lambda x: x).invoke("x" * 100 + str(i), config={"callbacks": [h]})
    h.close()
    assert posting and threading.get_ident() not in posting
    assert len(loki.lines) == 600


def test_a_handler_closing_leaves_a_shared_loki_working_for_the_others(loki):
    first, second = handler(loki, {"flush_timeout_s": 0.2}), handler(loki, {"service": "other"})
    assert first.outputs[0] is second.outputs[0]
    first.close()
    time.sleep(0.3)  # past the closed handler's flush deadline
    loki.script = [503]  # the next push needs a retry
    second.outputs[0]._backoff = 0.01
    RunnableLambda(lambda x: x).invoke(1, config={"callbacks": [second]})
    second.close()
    assert len(loki.lines) == 2 and second.stats.dropped == 0


def test_flush_says_false_while_loki_refuses_what_was_emitted_and_true_once_it_takes_it_again(loki):
    loki.script = [400] * 3  # refused for good (no retry): every event sent so far is lost
    h = handler(loki, {"flush_timeout_s": 2})
    chain = RunnableLambda(lambda x: x)
    for i in range(3):
        chain.invoke(i, config={"callbacks": [h]})
        assert h.flush() is False  # each flush learns of the batch refused since the last one
    assert h.stats.dropped == 6 and h.stats.emitted == 6
    chain.invoke(3, config={"callbacks": [h]})  # Loki takes pushes again
    assert h.flush() is True and h.flush() is True
    assert h.stats.dropped == 6 and len(loki.lines) == 2
    h.close()
