"""A full disk under the file output: each lost event counted once, no half line, and logging
resumes when there is room again; on a real 64 KB filesystem and on /dev/full."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.runnables import RunnableLambda

from lclog import LoggingCallbackHandler


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 64 KB tmpfs mounted for the test (the project's machines run tests as root)."""
    mount = tmp_path / "fs"
    mount.mkdir()
    command = ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)]
    done = subprocess.run(command, capture_output=True)
    if done.returncode:
        pytest.fail(f"cannot mount a tmpfs: {done.stderr.decode().strip()} (run the tests as root)")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def lines_of(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_bytes().splitlines()]  # raises on a broken line


def test_a_full_disk_loses_each_event_once_leaves_no_half_line_and_logging_resumes(small_fs, capfd):
    path = small_fs / "app.jsonl"
    filler = small_fs / "filler"
    filler.write_bytes(b"x" * (60 << 10))  # 4 KB left
    h = LoggingCallbackHandler({"outputs": [{"type": "file", "path": str(path)}]})
    chain = RunnableLambda(lambda x: x, name="step")
    calls = 60
    for i in range(calls):
        chain.invoke({"request": i, "text": "a" * 150}, config={"callbacks": [h]})
        if i % 10 == 9:
            h.flush()
    data = path.read_bytes()
    whole, _, cut = data.rpartition(b"\n")  # a line the full disk cut may end the file for now
    written = [json.loads(line) for line in whole.splitlines()]
    assert 0 < len(written) < 2 * calls
    assert h.stats.emitted == 2 * calls
    # Each lost event counted once; the cut one is not lost: its rest waits for room.
    assert h.stats.dropped == 2 * calls - len(written) - (1 if cut else 0)
    assert "No space left on device" in capfd.readouterr().err
    # Room again: the line a full disk cut is completed, and every later event is written.
    filler.unlink()
    for i in range(calls, calls + 10):
        chain.invoke({"request": i, "text": "a" * 150}, config={"callbacks": [h]})
    assert h.flush() is True
    h.close()
    after = lines_of(path)  # every line whole: the cut one completed before any later line
    requests = [e["inputs"]["request"] for e in after if e["event"] == "chain.start"]
    assert requests[-10:] == list(range(calls, calls + 10))
    assert len(after) + h.stats.dropped == 2 * (calls + 10)


def test_dev_full_counts_every_event_once_and_never_raises_into_the_call():
    if not os.path.exists("/dev/full"):
        pytest.fail("/dev/full is missing: the test needs Linux")
    h = LoggingCallbackHandler({"outputs": [{"type": "file", "path": "/dev/full"}]})
    chain = RunnableLambda(lambda x: x)
    for i in range(30):
        assert chain.invoke(i, config={"callbacks": [h]}) == i
    assert h.flush() is False
    h.close()
    assert h.stats.emitted == 60 and h.stats.dropped == 60 and h.stats.output_errors >= 1


def test_a_write_cut_short_is_completed_before_the_next_line(tmp_path, monkeypatch):
    # The kernel may take part of a write and refuse the rest (ENOSPC): the cut line's rest goes
    # first when room returns, so the line after it starts on a line of its own.
    from lclog.outputs.base import FileOutput

    path = tmp_path / "out.jsonl"
    out = FileOutput(path)
    line = lambda n: json.dumps({"n": n, "pad": uuid.uuid4().hex}).encode() + b"\n"  # noqa: E731
    real_write = os.write
    budget = {"bytes": len(line(0)) + 10}

    def full_after_budget(fd: int, data: bytes) -> int:
        if budget["bytes"] <= 0:
            raise OSError(28, "No space left on device")
        n = real_write(fd, bytes(data)[: budget["bytes"]])
        budget["bytes"] -= n
        return n

    monkeypatch.setattr(os, "write", full_after_budget)
    out.write([(None, line(0)), (None, line(1)), (None, line(2))])
    with contextlib.suppress(OSError):
        out.flush()
    assert out.take_losses() == (0, 1)  # line 2; line 1 was cut and is carried
    budget["bytes"] = 10**6
    out.write([(None, line(3))])
    out.flush()
    out.close()
    assert [e["n"] for e in lines_of(path)] == [0, 1, 3]
