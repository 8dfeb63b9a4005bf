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


def test_the_web_service_example_runs_and_tags_each_request():
    from fastapi.testclient import TestClient
    from langchain_core.runnables import RunnableLambda

    from lclog.outputs import MemoryOutput

    namespace: dict[str, object] = {"chain": RunnableLambda(lambda d: f"echo {d['question']}")}
    exec(compile(_block_after("**In a web service**"), "README", "exec"), namespace)
    app = namespace["app"]
    with TestClient(app) as client:  # type: ignore[arg-type]
        handler = app.state.lclog  # type: ignore[attr-defined]
        memory = MemoryOutput()
        handler._recorder.source.outputs.append(memory)  # see what it writes, next to stdout
        answer = client.post("/ask", params={"question": "hi"}, headers={"x-request-id": "r-42"})
        assert answer.json() == {"answer": "echo hi"}
        handler.flush()
    (start,) = [e for e in memory.events if e["event"] == "chain.start"]
    assert start["metadata"] == {"request_id": "r-42"} and start["service"] == "support-api"
