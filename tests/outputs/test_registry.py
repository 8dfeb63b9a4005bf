"""Outputs belong to the process: handlers naming the same destination share one output."""

from __future__ import annotations

from lclog.outputs.base import FileOutput
from lclog.outputs.registry import acquire_outputs, release_output
from lclog.settings import OutputSettings


def test_the_same_file_is_one_output_closed_by_its_last_user(tmp_path):
    path = tmp_path / "events.jsonl"
    first = acquire_outputs([OutputSettings(type="file", path=str(path))])
    # The same file by another name, and named twice in one config: still one output.
    same = tmp_path / "." / "events.jsonl"
    second = acquire_outputs(
        [OutputSettings(type="file", path=str(same)), OutputSettings(type="file", path=str(path))]
    )
    assert len(second) == 1 and second[0] is first[0] and isinstance(first[0], FileOutput)
    other = acquire_outputs([OutputSettings(type="file", path=str(tmp_path / "other.jsonl"))])
    assert other[0] is not first[0]
    closed = []
    release_output(first[0], closed.append)
    assert closed == []  # another user still writes to it
    release_output(second[0], closed.append)
    assert closed == [first[0]]
    release_output(other[0], closed.append)
    assert closed == [first[0], other[0]]
