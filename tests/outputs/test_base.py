"""Outputs: whole lines from many threads, failures counted, recovery, several outputs at once."""

from __future__ import annotations

import os
import threading
from typing import Any

import orjson
import pytest
from langchain_core.runnables import RunnableLambda

import lclog
from lclog import LoggingCallbackHandler
from lclog.outputs import FileOutput, MemoryOutput, Output


def test_file_output_many_threads_whole_lines(tmp_path):
    path = tmp_path / "deep" / "dir" / "events.jsonl"
    handler = LoggingCallbackHandler({"outputs": [{"type": "file", "path": str(path)}]})
    chain = RunnableLambda(lambda x: "y" * 5000 + str(x))  # long lines interleave if unguarded

    def work(n: int) -> None:
        for i in range(50):
            chain.invoke(n * 1000 + i, config={"callbacks": [handler]})

    threads = [threading.Thread(target=work, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    handler.close()
    lines = path.read_bytes().splitlines()
    assert len(lines) == 16 * 50 * 2
    events = [orjson.loads(line) for line in lines]
    ids = [(e["run_id"], e["event"]) for e in events]
    assert len(set(ids)) == len(ids)
    assert handler.stats.emitted == 1600 and handler.stats.dropped == 0


def test_flush_makes_events_visible_in_the_file(tmp_path):
    path = tmp_path / "e.jsonl"
    handler = LoggingCallbackHandler(
        {"outputs": [{"type": "file", "path": str(path)}], "flush_interval_s": 60}
    )
    RunnableLambda(lambda x: x).invoke(1, config={"callbacks": [handler]})
    handler.flush()
    assert len(path.read_bytes().splitlines()) == 2
    handler.close()


class Flaky(Output):
    name = "flaky"

    def __init__(self) -> None:
        self.fail = True
        self.got: list[Any] = []

    def write(self, items: Any) -> None:
        if self.fail:
            raise OSError(28, "No space left on device")
        self.got.extend(items)


def test_a_failing_output_does_not_stop_the_others_and_recovers(capfd):
    flaky, memory = Flaky(), MemoryOutput()
    handler = LoggingCallbackHandler(outputs=[flaky, memory])
    RunnableLambda(lambda x: x).invoke(1, config={"callbacks": [handler]})
    handler.flush()
    assert len(memory.events) == 2 and flaky.got == []
    assert handler.stats.output_errors == 1 and handler.stats.dropped == 2
    assert "No space left on device" in capfd.readouterr().err
    flaky.fail = False
    RunnableLambda(lambda x: x).invoke(2, config={"callbacks": [handler]})
    handler.close()
    assert len(flaky.got) == 2 and len(memory.events) == 4


def test_a_file_deleted_underneath_gets_every_later_line(tmp_path):
    path = tmp_path / "e.jsonl"
    out = FileOutput(path)
    out.write([({}, b"1\n")])
    out.flush()
    os.remove(path)  # an operator cleaning up, logrotate without `create`
    out.write([({}, b"2\n"), ({}, b"3\n")])
    out.close()
    assert path.read_bytes() == b"2\n3\n" and out.take_losses() == (0, 0)


def test_a_descriptor_gone_bad_is_reopened(tmp_path):
    path = tmp_path / "e.jsonl"
    out = FileOutput(path)
    out.write([({}, b"1\n")])
    out.flush()
    os.close(out._fd)  # as if the descriptor went bad (unmount, a library closing it)
    out.write([({}, b"2\n")])
    out.close()
    assert path.read_bytes() == b"1\n2\n"


class _StuckOutput(MemoryOutput):
    """An output whose first write hangs until released (a disk or socket that stalls)."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()

    def write(self, items: Any) -> None:
        self.entered.set()
        self.release.wait(10)
        super().write(items)


def test_queue_full_drops_and_counts():
    stuck = _StuckOutput()
    handler = LoggingCallbackHandler(outputs=[stuck], queue_size=4, flush_interval_s=60)
    chain = RunnableLambda(lambda x: x)
    chain.invoke(0, config={"callbacks": [handler]})
    writer = threading.Thread(target=handler.flush)  # the writer, stalled inside a write
    writer.start()
    assert stuck.entered.wait(5)
    for i in range(1, 6):  # the call goes on; what the queue cannot hold is dropped and counted
        chain.invoke(i, config={"callbacks": [handler]})
    stuck.release.set()
    writer.join()
    handler.close()
    assert handler.stats.dropped > 0
    assert handler.stats.dropped == 12 - len(stuck.events)


def test_stdout_json_and_pretty(capsys):
    handler = LoggingCallbackHandler(
        {"outputs": [{"type": "stdout"}, {"type": "stderr", "format": "pretty"}]}
    )
    RunnableLambda(lambda x: x, name="echo").invoke("a\x1b[2Jb\nc", config={"callbacks": [handler]})
    handler.close()
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert [orjson.loads(line)["event"] for line in lines] == ["chain.start", "chain.end"]
    pretty = captured.err.splitlines()
    assert len(pretty) == 2 and "chain.start" in pretty[0] and "echo" in pretty[0]
    assert "\x1b" not in captured.err and "\\x1b[2J" in captured.err


@pytest.mark.parametrize("schema", ["ecs", "otel"])
def test_pretty_output_reads_lclogs_fields_whatever_the_layout(capsys, schema):
    handler = LoggingCallbackHandler(
        {"schema": schema, "outputs": [{"type": "stdout"}, {"type": "stderr", "format": "pretty"}]}
    )
    RunnableLambda(lambda x: x, name="echo").invoke("hello", config={"callbacks": [handler]})
    handler.close()
    captured = capsys.readouterr()
    first = orjson.loads(captured.out.splitlines()[0])  # the lines keep their layout
    assert ("ecs.version" in first) if schema == "ecs" else ("attributes" in first)
    pretty = captured.err.splitlines()
    assert len(pretty) == 2 and "chain.start" in pretty[0] and "echo" in pretty[0] and "hello" in pretty[0]
    assert "chain.end" in pretty[1] and "ms" in pretty[1] and "{" not in pretty[1].split("out=")[0]


def test_a_custom_output_from_the_public_api_gets_ordered_lines():
    class Lines(lclog.Output):
        name = "lines"

        def __init__(self) -> None:
            self.lines: list[bytes] = []

        def write(self, items):
            self.lines.extend(line for _, line in items)

    mine = Lines()
    handler = lclog.LoggingCallbackHandler(outputs=[mine])
    RunnableLambda(lambda x: x + 1).invoke(1, config={"callbacks": [handler]})
    handler.close()
    events = [orjson.loads(line) for line in mine.lines]
    assert [e["event"] for e in events] == ["chain.start", "chain.end"]
    assert events[1]["outputs"] == 2


def test_a_reader_leaving_the_pipe_is_counted_as_dropped_not_reported(monkeypatch, capsys):
    class Pipe:
        """stdout after `| head` exited: every write fails with EPIPE."""

        def write(self, data: Any) -> int:
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self) -> None:
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr("sys.stdout", Pipe())
    handler = LoggingCallbackHandler()
    for i in range(3):
        assert RunnableLambda(lambda x: x + 1).invoke(i, config={"callbacks": [handler]}) == i + 1
    handler.close()
    stats = handler.stats
    assert stats.output_errors == 0 and stats.dropped == 6 and stats.emitted == 6
    assert "lclog:" not in capsys.readouterr().err
