"""Fault injection: hostile inputs, failing outputs, load, shutdown, injection, ReDoS."""

from __future__ import annotations

import asyncio
import dataclasses
import math
import os
import subprocess
import sys
import threading
import uuid
from enum import Enum
from pathlib import Path
from types import MappingProxyType
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.documents import Document
from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableLambda
from pydantic import BaseModel

from lclog import LoggingCallbackHandler
from lclog.outputs import FileOutput, MemoryOutput
from lclog.outputs.pretty import render_pretty
from tests.redact.test_redactor import SECRETS

# -- hostile values -----------------------------------------------------------------------


class RaisingRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")

    def __str__(self) -> str:
        raise RuntimeError("no str")


class RecursiveRepr:
    def __repr__(self) -> str:
        return repr(self)  # RecursionError


class RaisingDump(BaseModel):
    x: int = 1

    def model_dump(self, *a: Any, **k: Any) -> Any:
        raise ValueError("no dump")


class BadKeyDict(dict):  # type: ignore[type-arg]
    def items(self) -> Any:
        raise RuntimeError("no items")


def deep(n: int) -> Any:
    value: Any = "bottom"
    for _ in range(n):
        value = {"d": [value]}
    return value


def cyclic() -> Any:
    a: dict[str, Any] = {"name": "a"}
    a["self"] = a
    return a


HOSTILE = st.one_of(
    st.sampled_from(
        [
            RaisingRepr(),
            RecursiveRepr(),
            RaisingDump(),
            BadKeyDict(a=1),
            deep(10_000),
            cyclic(),
            b"\xff\xfe\x00 invalid utf-8",
            "lone \ud800 surrogate",
            math.nan,
            math.inf,
            10**5000,
            {1: "int key", None: "none key", (1, 2): "tuple key", frozenset(): "set key"},
            str(uuid.uuid4()),
            None,
            "x" * 2_000_000,
        ]
    ),
    st.text(),
    st.binary(),
    st.floats(),
    st.integers(),
    st.dictionaries(st.one_of(st.text(), st.integers(), st.none()), st.text(), max_size=5),
)

HOOKS: dict[str, Any] = {
    "on_chain_start": lambda h, v, rid: h.on_chain_start(
        v, v, run_id=rid, metadata={"m": v}, tags=[v], name=v
    ),
    "on_chain_end": lambda h, v, rid: h.on_chain_end(v, run_id=rid, inputs=v),
    "on_chain_error": lambda h, v, rid: h.on_chain_error(ValueError(v), run_id=rid),
    "on_llm_start": lambda h, v, rid: h.on_llm_start(v, [v], run_id=rid, invocation_params=v),
    "on_chat_model_start": lambda h, v, rid: h.on_chat_model_start(
        v, [[v]], run_id=rid, invocation_params={"tools": [v]}
    ),
    "on_llm_new_token": lambda h, v, rid: h.on_llm_new_token(v, chunk=v, run_id=rid),
    "on_llm_end": lambda h, v, rid: h.on_llm_end(v, run_id=rid),
    "on_llm_error": lambda h, v, rid: h.on_llm_error(v, run_id=rid, response=v),
    "on_tool_start": lambda h, v, rid: h.on_tool_start(v, v, run_id=rid, inputs=v),
    "on_tool_end": lambda h, v, rid: h.on_tool_end(v, run_id=rid),
    "on_tool_error": lambda h, v, rid: h.on_tool_error(v, run_id=rid),
    "on_retriever_start": lambda h, v, rid: h.on_retriever_start(v, v, run_id=rid),
    "on_retriever_end": lambda h, v, rid: h.on_retriever_end(v, run_id=rid),
    "on_retriever_error": lambda h, v, rid: h.on_retriever_error(v, run_id=rid),
    "on_agent_action": lambda h, v, rid: h.on_agent_action(v, run_id=rid),
    "on_agent_finish": lambda h, v, rid: h.on_agent_finish(v, run_id=rid),
    "on_retry": lambda h, v, rid: h.on_retry(v, run_id=rid),
    "on_custom_event": lambda h, v, rid: h.on_custom_event(v, v, run_id=rid),
    "on_text": lambda h, v, rid: h.on_text(v, run_id=rid),
    "on_stream_event": lambda h, v, rid: h.on_stream_event(v, run_id=rid),
    "missing kwargs": lambda h, v, rid: h.on_chain_start(v, v),
    "extra kwargs": lambda h, v, rid: h.on_chain_end(v, run_id=rid, surprise=v, another=[v]),
    "string run id": lambda h, v, rid: h.on_chain_start({}, v, run_id=str(rid), parent_run_id=str(rid)),
}


@pytest.fixture(scope="module")
def shared() -> Any:
    memory = MemoryOutput()
    handler = LoggingCallbackHandler({"level": "debug", "stream_tokens": True}, outputs=[memory])
    yield handler, memory
    handler.close()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(sorted(HOOKS)), HOSTILE)
def test_hostile_input_to_any_hook_never_raises_and_is_emitted_or_counted(shared, hook, value):
    handler, memory = shared
    before = (len(memory.lines), handler.stats.internal_errors)
    rid = uuid.uuid4()
    if hook.endswith(("_end", "_error", "token", "stream_event")):
        HOOKS["on_chain_start"](handler, "ok", rid)
    HOOKS[hook](handler, value, rid)  # must not raise
    if hook == "on_stream_event":  # it only times the run; its end shows it
        HOOKS["on_chain_end"](handler, "done", rid)
    if hook == "on_llm_new_token":  # a token's event is written at its run's end
        HOOKS["on_chain_end"](handler, "done", rid)
    handler.flush()
    after = (len(memory.lines), handler.stats.internal_errors)
    assert after != before  # an event went out, or the failure was counted
    for line in memory.lines[before[0] :]:
        assert line.endswith(b"\n") and line.count(b"\n") == 1
        assert len(line) < 200_000  # truncated
        orjson.loads(line)


def test_hostile_values_through_real_runnables():
    memory = MemoryOutput()
    handler = LoggingCallbackHandler(outputs=[memory])
    for value in [RaisingRepr(), deep(10_000), cyclic(), "lone \ud800", 10**5000, b"\xff" * 10, math.nan]:
        out = RunnableLambda(lambda x: x).invoke(value, config={"callbacks": [handler]})
        assert out is value
    handler.close()
    assert len(memory.lines) == 14 and handler.stats.internal_errors == 0
    assert all(orjson.loads(line) for line in memory.lines)


@dataclasses.dataclass
class Card:
    holder: str
    number: str


class Profile(BaseModel):
    email: str
    notes: list[str]


class Shown:
    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"Shown({self.text!r})"


class Label(str):
    pass


class Note(HumanMessage):
    type: str = "note"  # type: ignore[assignment]


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(["email", "openai_key", "credit_card", "github_token"]).flatmap(lambda k: SECRETS[k]))
def test_secrets_inside_arbitrary_objects_are_redacted(secret):
    memory = MemoryOutput()
    handler = LoggingCallbackHandler(outputs=[memory])
    value = {
        "dataclass": Card("ann", secret),
        "model": Profile(email=secret, notes=[secret]),
        "set": {secret},
        "tuple": (secret,),
        "exception": ValueError(secret),
        "nested": [[{"k": secret}]],
        "repr": Shown(secret),
        "str_subclass": Label(secret),
        "mapping": MappingProxyType({"k": secret}),
        "document": Document(page_content=secret, metadata={"m": secret}),
        "message": Note(content=secret, name=secret, type=secret),
        "enum": Enum("Kind", {"A": secret}).A,
    }
    RunnableLambda(lambda x: "ok").invoke(value, config={"callbacks": [handler]})
    handler.close()
    assert secret not in b"".join(memory.lines).decode()


# -- failing outputs ------------------------------------------------------------------------


def test_disk_full_is_counted_and_the_other_outputs_go_on():
    memory = MemoryOutput()
    handler = LoggingCallbackHandler(outputs=[FileOutput("/dev/full"), memory])
    RunnableLambda(lambda x: x).invoke(1, config={"callbacks": [handler]})
    handler.close()
    assert len(memory.events) == 2
    assert handler.stats.output_errors >= 1 and handler.stats.dropped >= 2


def test_logrotate_move_and_create_is_followed(tmp_path):
    path = tmp_path / "app.jsonl"
    handler = LoggingCallbackHandler(
        {"outputs": [{"type": "file", "path": str(path)}], "flush_interval_s": 60}
    )
    RunnableLambda(lambda x: x).invoke(1, config={"callbacks": [handler]})
    handler.flush()
    path.rename(tmp_path / "app.jsonl.1")  # logrotate: move, then the app's file is created anew
    handler.flush()
    RunnableLambda(lambda x: x).invoke(2, config={"callbacks": [handler]})
    handler.close()
    assert len((tmp_path / "app.jsonl.1").read_text().splitlines()) == 2
    assert len(path.read_text().splitlines()) == 2


def test_copytruncate_keeps_whole_lines(tmp_path):
    path = tmp_path / "app.jsonl"
    handler = LoggingCallbackHandler({"outputs": [{"type": "file", "path": str(path)}]})
    RunnableLambda(lambda x: x).invoke(1, config={"callbacks": [handler]})
    handler.flush()
    os.truncate(path, 0)  # logrotate copytruncate
    RunnableLambda(lambda x: x).invoke(2, config={"callbacks": [handler]})
    handler.close()
    lines = path.read_bytes().splitlines()
    assert len(lines) == 2 and all(orjson.loads(line) for line in lines)


def test_unwritable_path_then_recovery(tmp_path):
    blocker = tmp_path / "logs"
    blocker.write_text("a file where the log directory should be")
    path = blocker / "app.jsonl"
    handler = LoggingCallbackHandler({"outputs": [{"type": "file", "path": str(path)}]})
    RunnableLambda(lambda x: x).invoke(1, config={"callbacks": [handler]})
    handler.flush()
    assert handler.stats.output_errors >= 1 and handler.stats.dropped == 2
    blocker.unlink()  # the path works again
    RunnableLambda(lambda x: x).invoke(2, config={"callbacks": [handler]})
    handler.close()
    assert len(path.read_text().splitlines()) == 2


def test_closed_stdout_is_counted(monkeypatch):
    import io

    closed = io.StringIO()
    closed.close()
    monkeypatch.setattr(sys, "stdout", closed)
    handler = LoggingCallbackHandler()
    assert RunnableLambda(lambda x: x + 1).invoke(1, config={"callbacks": [handler]}) == 2
    handler.close()
    assert handler.stats.output_errors >= 1


# -- load -----------------------------------------------------------------------------------


def test_threads_and_asyncio_tasks_through_one_handler_and_one_file(tmp_path):
    path = tmp_path / "load.jsonl"
    handler = LoggingCallbackHandler({"verbosity": "full", "outputs": [{"type": "file", "path": str(path)}]})
    chain = RunnableLambda(lambda x: x, name="a") | RunnableLambda(lambda x: "z" * 3000, name="b")
    cfg = {"callbacks": [handler]}

    def thread_work() -> None:
        for i in range(25):
            chain.invoke(i, config=cfg)

    async def async_work() -> None:
        await asyncio.gather(*(chain.ainvoke(i, config=cfg) for i in range(200)))

    threads = [threading.Thread(target=thread_work) for _ in range(16)]
    for t in threads:
        t.start()
    asyncio.run(async_work())
    for t in threads:
        t.join()
    handler.close()
    lines = path.read_bytes().splitlines()
    traces = 16 * 25 + 200
    runs = traces * 3
    assert len(lines) == 2 * runs + traces  # a start and an end per run, a trace.end per call
    events = [orjson.loads(line) for line in lines]
    assert len({(e["run_id"], e["event"]) for e in events}) == 2 * runs + traces  # each exactly once
    assert handler.stats.dropped == 0


def test_memory_is_bounded_over_many_runs():
    import tracemalloc

    handler = LoggingCallbackHandler(outputs=[], max_open_runs=1000)
    chain = RunnableLambda(lambda x: x)
    for _ in range(500):
        chain.invoke(1, config={"callbacks": [handler]})
    tracemalloc.start()
    first, _ = tracemalloc.get_traced_memory()
    for i in range(5000):
        chain.invoke(i, config={"callbacks": [handler]})
        if i % 10 == 0:  # and runs that start and never end
            handler.on_chain_start({}, {}, run_id=uuid.uuid4(), name="never-ends")
    handler.flush()
    second, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    handler.close()
    assert len(handler._recorder.runs) <= 1000
    assert second - first < 8 * 1024 * 1024


# -- shutdown -------------------------------------------------------------------------------

EXITS = {
    "normal": "",
    "sys.exit": "import sys; sys.exit(0)",
    "unhandled exception": "raise RuntimeError('crash')",
}


@pytest.mark.parametrize("how", sorted(EXITS))
def test_buffered_events_survive_an_immediate_exit(how, tmp_path):
    path = tmp_path / "exit.jsonl"
    script = tmp_path / "app.py"
    script.write_text(
        "import lclog\n"
        "from langchain_core.runnables import RunnableLambda\n"
        f"h = lclog.LoggingCallbackHandler({{'outputs': [{{'type': 'file', 'path': {str(path)!r}}}],"
        " 'flush_interval_s': 60})\n"
        "for i in range(50):\n    RunnableLambda(lambda x: x).invoke(i, config={'callbacks': [h]})\n"
        f"{EXITS[how]}\n"
    )
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert ("crash" in proc.stderr) == (how == "unhandled exception")
    assert len(Path(path).read_text().splitlines()) == 100


# -- injection and terminal safety ----------------------------------------------------------

FORGERY = st.sampled_from(
    [
        'x"}\n{"level":"error","event":"forged"}',
        "line1\r\nline2\rline3",
        "\x1b[2J\x1b[H\x1b]0;title\x07",
        "\u2028\u2029\x00\x7f\x9b",
    ]
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(FORGERY, st.text()), min_size=1, max_size=4).map("".join))
def test_content_cannot_forge_lines_or_move_the_cursor(text):
    memory = MemoryOutput()
    handler = LoggingCallbackHandler(outputs=[memory])
    RunnableLambda(lambda x: x, name=text[:20]).invoke(text, config={"callbacks": [handler]})
    handler.close()
    for line, event in zip(memory.lines, memory.events, strict=True):
        assert line.count(b"\n") == 1 and b"\r" not in line
        assert orjson.loads(line)["event"] in ("chain.start", "chain.end")
        pretty = render_pretty(event, color=True)
        assert "\n" not in pretty and "\r" not in pretty
        assert "\x1b" not in pretty.replace("\x1b[2m", "").replace("\x1b[0m", "").replace(
            "\x1b[36m", ""
        ).replace("\x1b[32m", "")


# -- ReDoS -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "hostile",
    [
        "a@" * 500_000,
        "1 " * 500_000,
        "password=" * 100_000,
        "-----BEGIN RSA PRIVATE KEY-----" + "A" * 1_000_000,
        "eyJ" + "a" * 1_000_000,
        ":" * 1_000_000,
    ],
)
def test_a_1mb_adversarial_prompt_is_redacted_in_bounded_time(hostile):
    import time

    from lclog import Redactor

    start = time.perf_counter()
    Redactor().redact_text(hostile)
    assert time.perf_counter() - start < 10  # linear: a backtracking engine takes hours


def test_the_writer_keeps_up_with_sustained_load(tmp_path):
    path = tmp_path / "sustained.jsonl"
    handler = LoggingCallbackHandler(
        {"outputs": [{"type": "file", "path": str(path)}], "queue_size": 6000, "flush_interval_s": 0.05}
    )
    chain = RunnableLambda(lambda x: x.upper())
    for i in range(8000):  # 16,000 events through a 6,000-event queue, never pausing
        chain.invoke(f"question {i} from jane.doe@example.com", config={"callbacks": [handler]})
    written_meanwhile = handler.stats.emitted
    handler.close()
    assert written_meanwhile > 0
    assert handler.stats.dropped == 0
    assert len(path.read_bytes().splitlines()) == 16_000


def test_a_forked_child_keeps_logging(tmp_path):
    path = tmp_path / "fork.jsonl"
    handler = LoggingCallbackHandler({"outputs": [{"type": "file", "path": str(path)}]})
    RunnableLambda(lambda x: x).invoke("parent", config={"callbacks": [handler]})
    handler.flush()
    pid = os.fork()
    if pid == 0:  # the child: a pre-fork server's worker
        try:
            before = handler.stats.emitted
            RunnableLambda(lambda x: x).invoke("child", config={"callbacks": [handler]})
            import time

            time.sleep(0.5)  # the restarted writer thread writes on its own
            os._exit(0 if handler.stats.emitted >= before + 2 else 1)
        finally:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    handler.close()
    assert os.waitstatus_to_exitcode(status) == 0
    lines = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert [e["inputs"] for e in lines if e["event"] == "chain.start"] == ["parent", "child"]
