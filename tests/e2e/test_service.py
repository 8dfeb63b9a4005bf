"""Your logs, joined, in a real service: FastAPI under uvicorn, 200 concurrent requests, each
running a LangGraph agent whose tool logs a line and fails once; the service logs with structlog
configured the common way, or with stdlib logging and python-json-logger."""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import socket
import threading
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("langgraph")
uvicorn = pytest.importorskip("uvicorn")
fastapi = pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")

import structlog  # noqa: E402
from langchain_core.language_models import BaseChatModel  # noqa: E402
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage  # noqa: E402
from langchain_core.outputs import ChatGeneration, ChatResult  # noqa: E402
from langchain_core.tools import tool  # noqa: E402

import lclog  # noqa: E402

REQUESTS = 200


class Scripted(BaseChatModel):
    """Calls the tool until it answers, then answers: the same for every concurrent request."""

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> Any:
        last = messages[-1]
        if isinstance(last, ToolMessage) and last.status != "error":
            reply = AIMessage(f"Order status: {last.content}")
        else:
            order = str(messages[0].content).split()[-1]
            call = {"name": "lookup_order", "args": {"order_id": order}, "id": f"call-{uuid.uuid4().hex[:8]}"}
            reply = AIMessage("", tool_calls=[call])
        return ChatResult(generations=[ChatGeneration(message=reply)])

    def bind_tools(self, tools: Any, **kwargs: Any) -> Scripted:
        return self

    @property
    def _llm_type(self) -> str:
        return "scripted"


def service(log_line: Any, handler: Any, request_scope: Any) -> Any:
    """The FastAPI app: a middleware giving each request an id, an endpoint running the agent."""
    from langgraph.prebuilt import ToolNode, create_react_agent

    attempts: Counter[str] = Counter()
    lock = threading.Lock()

    @tool
    def lookup_order(order_id: str) -> str:
        """Looks an order up in the order service."""
        log_line("info", "looking up order", order_id=order_id)
        with lock:
            attempts[order_id] += 1
            first = attempts[order_id] == 1
        if first:
            log_line("error", "order service unreachable", order_id=order_id)
            raise ConnectionError("order service unreachable")
        return "shipped"

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecated in favour of langchain's create_agent
        agent = create_react_agent(Scripted(), ToolNode([lookup_order], handle_tool_errors=True))
    app = fastapi.FastAPI()

    @app.middleware("http")
    async def request_id(request: Any, call_next: Any) -> Any:
        with request_scope(request.headers["x-request-id"]):
            response = await call_next(request)
            log_line("info", "request done", path=request.url.path)
            return response

    @app.get("/orders/{order}")
    async def order(order: str, request: fastapi.Request) -> dict[str, str]:
        config = {"callbacks": [handler], "metadata": {"request_id": request.headers["x-request-id"]}}
        state = await agent.ainvoke({"messages": [("user", f"Where is order {order}")]}, config=config)
        return {"answer": state["messages"][-1].content}

    return app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_and_call(app: Any) -> list[int]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)

    async def calls() -> list[int]:
        limits = httpx.Limits(max_connections=REQUESTS)
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=60
        ) as client:
            replies = await asyncio.gather(
                *(client.get(f"/orders/A-{k}", headers={"x-request-id": f"req-{k}"}) for k in range(REQUESTS))
            )
        return [r.status_code for r in replies]

    try:
        return asyncio.run(calls())
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def structlog_service(tmp_path: Path) -> Iterator[tuple[Any, Path]]:
    """structlog as services configure it: contextvars merged, JSON lines to a file."""
    path = tmp_path / "app.jsonl"
    out = path.open("w")
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            structlog.processors.JSONRenderer(),
        ],
        logger_factory=structlog.PrintLoggerFactory(out),
    )
    log = structlog.get_logger("app")

    def log_line(level: str, message: str, **fields: Any) -> None:
        getattr(log, level)(message, **fields)

    class scope:
        def __init__(self, request_id: str) -> None:
            self.request_id = request_id

        def __enter__(self) -> None:
            structlog.contextvars.clear_contextvars()
            structlog.contextvars.bind_contextvars(request_id=self.request_id)

        def __exit__(self, *exc: Any) -> None:
            structlog.contextvars.clear_contextvars()

    yield (log_line, scope), path
    out.close()
    structlog.reset_defaults()


REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


class RequestIdFilter(logging.Filter):
    """What a service using stdlib logging adds to its records (as asgi-correlation-id does)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


@pytest.fixture
def stdlib_service(tmp_path: Path) -> Iterator[tuple[Any, Path]]:
    """stdlib logging with python-json-logger, lclog's filter next to the service's own."""
    from pythonjsonlogger.json import JsonFormatter

    path = tmp_path / "app.jsonl"
    handler = logging.FileHandler(path)
    handler.setFormatter(JsonFormatter("{levelname}{message}", style="{"))
    handler.addFilter(RequestIdFilter())
    handler.addFilter(lclog.RunContextFilter())
    log = logging.getLogger("app")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False

    def log_line(level: str, message: str, **fields: Any) -> None:
        getattr(log, level)(message, extra=fields)

    class scope:
        def __init__(self, request_id: str) -> None:
            self.request_id = request_id

        def __enter__(self) -> None:
            self.token = REQUEST_ID.set(self.request_id)

        def __exit__(self, *exc: Any) -> None:
            REQUEST_ID.reset(self.token)

    yield (log_line, scope), path
    log.removeHandler(handler)
    handler.close()


@pytest.mark.parametrize("setup", ["structlog_service", "stdlib_service"])
def test_every_app_line_written_in_a_run_carries_that_run_and_request(
    setup: str, request: Any, tmp_path: Path
):
    (log_line, scope), app_path = request.getfixturevalue(setup)
    lclog_path = tmp_path / "lclog.jsonl"
    handler = lclog.LoggingCallbackHandler({"outputs": [{"type": "file", "path": str(lclog_path)}]})
    try:
        statuses = serve_and_call(service(log_line, handler, scope))
    finally:
        handler.close()
    assert statuses == [200] * REQUESTS
    events = [json.loads(line) for line in lclog_path.read_text().splitlines()]
    lines = [json.loads(line) for line in app_path.read_text().splitlines()]
    request_of = {
        e["trace_id"]: e["metadata"]["request_id"]
        for e in events
        if e["event"] == "chain.start" and e["depth"] == 0
    }
    assert len(request_of) == REQUESTS
    tool_runs = {e["run_id"]: e for e in events if e["event"] in ("tool.start", "tool.error", "tool.end")}
    inside = [line for line in lines if line["message" if "message" in line else "event"] != "request done"]
    assert len(inside) == 3 * REQUESTS  # two lookups and one failure a request
    for line in inside:
        ids = line["lclog"]
        # the tool's own run (an executor thread's), and the request the trace belongs to
        assert ids["run_id"] in tool_runs and tool_runs[ids["run_id"]]["trace_id"] == ids["trace_id"]
        assert request_of[ids["trace_id"]] == line["request_id"]
        assert line["order_id"] == f"A-{line['request_id'].split('-')[1]}"
    done = [line for line in lines if line not in inside]
    assert len(done) == REQUESTS and not any(line.get("lclog") for line in done)  # after the run
    # the join: from the app's error line to lclog's tool.error and the request's trace.end
    ends = {e["trace_id"]: e for e in events if e["event"] == "trace.end"}
    failures = [line for line in inside if line.get("level", line.get("levelname", "")).lower() == "error"]
    assert len(failures) == REQUESTS
    for line in failures:
        error = next(
            e for e in events if e["event"] == "tool.error" and e["run_id"] == line["lclog"]["run_id"]
        )
        assert error["error"]["type"] == "ConnectionError"
        assert ends[line["lclog"]["trace_id"]]["errors"]["count"] == 1
