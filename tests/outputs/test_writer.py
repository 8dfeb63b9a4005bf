"""The writer: callers only queue; one thread writes every output, in order, for every handler."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from typing import Any

import orjson
from langchain_core.callbacks import AsyncCallbackHandler, BaseCallbackHandler
from langchain_core.runnables import RunnableLambda

import lclog
from lclog import LoggingCallbackHandler
from lclog.outputs import FileOutput, MemoryOutput


class ThreadsSeen(MemoryOutput):
    """Records which threads write, flush and tick it."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: set[int] = set()

    def write(self, items: Any) -> None:
        self.threads.add(threading.get_ident())
        super().write(items)

    def flush(self) -> None:
        self.threads.add(threading.get_ident())

    def tick(self) -> None:
        self.threads.add(threading.get_ident())


class Counting(BaseCallbackHandler):
    def __init__(self) -> None:
        self.starts = 0

    def on_chain_start(self, *args: Any, **kwargs: Any) -> None:
        self.starts += 1


class AsyncCounting(AsyncCallbackHandler):
    def __init__(self) -> None:
        self.ends = 0

    async def on_chain_end(self, *args: Any, **kwargs: Any) -> None:
        self.ends += 1


def test_no_output_is_written_flushed_or_ticked_by_a_caller_thread(tmp_path):
    seen = ThreadsSeen()
    path = tmp_path / "events.jsonl"
    handler = LoggingCallbackHandler(outputs=[seen, FileOutput(path)], queue_size=4000)
    other = Counting()  # another handler attached next to lclog, as in production
    chain = RunnableLambda(lambda x: x)
    callers = {threading.get_ident()}

    def work(n: int) -> None:
        callers.add(threading.get_ident())
        for i in range(n):  # past the backlog at which producers help build
            chain.invoke(i, config={"callbacks": [handler, other]})

    threads = [threading.Thread(target=work, args=(400,)) for _ in range(3)]
    for t in threads:
        t.start()
    work(400)
    for t in threads:
        t.join()
    handler.flush()
    touched = set(seen.threads)  # close() itself, called by the application, may close outputs
    handler.close()
    assert len(seen.events) == 3200 and other.starts == 1600
    assert len(path.read_bytes().splitlines()) == 3200
    assert touched and not touched & callers


def test_no_output_is_touched_on_the_event_loop_thread():
    seen = ThreadsSeen()
    handler = LoggingCallbackHandler(outputs=[seen])
    other = AsyncCounting()
    chain = RunnableLambda(lambda x: x)

    async def main() -> int:
        await chain.abatch(list(range(200)), config={"callbacks": [handler, other]})
        await asyncio.gather(*[chain.ainvoke(i, config={"callbacks": [handler, other]}) for i in range(200)])
        return threading.get_ident()

    loop_thread = asyncio.run(main())
    handler.flush()
    touched = set(seen.threads)
    handler.close()
    assert len(seen.events) == 800 and other.ends == 400
    assert touched and loop_thread not in touched


def test_handlers_sharing_a_file_write_one_ordered_stream(tmp_path):
    path = tmp_path / "shared.jsonl"
    a = LoggingCallbackHandler({"service": "a", "outputs": [{"type": "file", "path": str(path)}]})
    b = LoggingCallbackHandler({"service": "b", "outputs": [{"type": "file", "path": str(path)}]})
    assert a.outputs[0] is b.outputs[0]
    chain = RunnableLambda(lambda x: x)
    for i in range(300):
        chain.invoke(i, config={"callbacks": [a if i % 2 == 0 else b]})
    a.close()  # b still writes to the file after a lets go of it
    chain.invoke(300, config={"callbacks": [b]})
    b.close()
    events = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert [e["service"] for e in events[:600:2]] == ["a" if i % 2 == 0 else "b" for i in range(300)]
    assert [e["outputs"] for e in events if e["event"] == "chain.end"] == list(range(301))


def test_a_json_stdlib_logger_gets_one_handler_however_many_lclog_handlers(capsys):
    logger = logging.getLogger("svc.requests")
    config = {"outputs": [{"type": "stdlib", "logger": "svc.requests", "formatter": "json"}]}
    chain = RunnableLambda(lambda x: x)
    for request in range(3):  # one lclog handler per request, as some services build them
        handler = LoggingCallbackHandler(config)
        chain.invoke(request, config={"callbacks": [handler]})
        handler.close()
    lines = capsys.readouterr().out.splitlines()
    assert [orjson.loads(line)["event"] for line in lines] == ["chain.start", "chain.end"] * 3
    assert logger.handlers == [] and logger.propagate


def test_instrument_uninstrument_instrument_writes_each_event_once(capsys):
    config = {"outputs": [{"type": "stdlib", "logger": "svc.inst", "formatter": "json"}]}
    lclog.instrument(config)
    lclog.uninstrument()
    lclog.instrument(config)
    try:
        RunnableLambda(lambda x: x).invoke(1)
    finally:
        lclog.uninstrument()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and logging.getLogger("svc.inst").handlers == []


def test_a_file_removed_while_traffic_flows_loses_nothing(tmp_path):
    path = tmp_path / "live.jsonl"
    handler = LoggingCallbackHandler(
        {"outputs": [{"type": "file", "path": str(path)}], "flush_interval_s": 0.01}
    )
    chain = RunnableLambda(lambda x: x)
    started = threading.Event()

    def traffic() -> None:
        for i in range(3000):
            chain.invoke(i, config={"callbacks": [handler]})
            if i == 500:
                started.set()

    t = threading.Thread(target=traffic)
    t.start()
    assert started.wait(30)
    handler.flush()
    old = os.open(path, os.O_RDONLY)  # keeps the old inode readable after rm
    os.remove(path)  # an operator cleaning up, logrotate without `create`
    t.join()
    handler.close()
    with os.fdopen(old, "rb") as f:
        before = f.read().splitlines()
    after = path.read_bytes().splitlines()
    assert len(before) > 0 and len(before) + len(after) == 6000
    assert handler.stats.dropped == 0 and handler.stats.output_errors == 0


class _Marker:
    """An object of the caller's, passed in metadata and held by a failing frame."""


def _foreign(value: Any, seen: set[int] | None = None) -> list[Any]:
    """Objects in a queued capture that are not lclog's own plain data."""
    seen = set() if seen is None else seen
    if id(value) in seen:
        return []
    seen.add(id(value))
    if isinstance(value, (_Marker, BaseException)) or type(value).__module__.startswith(
        ("langchain", "langgraph")
    ):
        return [value]
    if isinstance(value, dict):
        return [f for k, v in value.items() for f in _foreign(k, seen) + _foreign(v, seen)]
    if isinstance(value, (list, tuple)):
        return [f for v in value for f in _foreign(v, seen)]
    return []


def test_nothing_of_langchains_or_the_callers_outlives_the_hook():
    from langchain_core.language_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage

    handler = LoggingCallbackHandler({"flush_interval_s": 60}, outputs=[MemoryOutput()])
    # What the hooks hand to the queue, as they hand it (the process's writer may take it at any
    # time: another handler of the process can have it tick sooner).
    queued: list[Any] = []
    submit = handler._recorder._submit

    def spy(capture: Any) -> None:
        queued.append(capture)
        submit(capture)

    handler._recorder._submit = spy

    def fail(x: int) -> int:
        held = _Marker()  # the traceback keeps this frame, and so this object, alive
        raise ValueError(f"failed with {held!r}")

    config = {"callbacks": [handler], "metadata": {"tenant": _Marker(), "request": "r-1"}}
    model = GenericFakeChatModel(messages=iter([AIMessage(content="ok")]))
    model.invoke("hi", config=config)
    with contextlib.suppress(ValueError):
        RunnableLambda(fail).invoke(1, config=config)
    assert len(queued) == 4  # two starts, an end and an error
    assert _foreign([tuple(capture) for capture in queued]) == []
    handler.close()


class Gated(MemoryOutput):
    """Writes only once the test opens its gate."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()

    def write(self, items: Any) -> None:
        self.gate.wait(30)
        super().write(items)


def test_flush_with_no_timeout_hands_events_to_the_writer_without_waiting_for_them():
    out = Gated()
    # The writer's own schedule is a minute away: only the flush can have started the writing.
    handler = LoggingCallbackHandler(outputs=[out], flush_interval_s=60)
    safety = threading.Timer(20, out.gate.set)  # the test fails rather than hangs
    safety.start()
    try:
        RunnableLambda(lambda x: x).invoke(1, config={"callbacks": [handler]})
        delivered = handler.flush(timeout=0)
        returned_before_the_write = not out.gate.is_set()
        out.gate.set()
        writer_wrote = threading.Event()
        for _ in range(1000):  # no further flush: the writer was woken by the first one
            if len(out.events) == 2:
                writer_wrote.set()
                break
            writer_wrote.wait(0.01)
    finally:
        safety.cancel()
        out.gate.set()
    assert delivered is False and returned_before_the_write
    assert [e["event"] for e in out.events] == ["chain.start", "chain.end"]
    handler.close()
