"""The README's examples run as written."""

from __future__ import annotations

import re
from pathlib import Path

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def _block_after(heading: str) -> str:
    section = README[README.index(heading) :]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, f"no python block under {heading}"
    return match.group(1)


def test_the_testing_example_runs():
    exec(compile(_block_after("## Testing your code with lclog"), "README", "exec"), {})


def test_the_custom_output_example_runs():
    namespace: dict[str, object] = {"lclog": __import__("lclog")}
    exec(compile(_block_after("Your own destinations"), "README", "exec"), namespace)
    namespace["handler"].close()  # type: ignore[attr-defined]
