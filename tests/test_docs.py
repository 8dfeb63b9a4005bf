"""The README's and docs/' examples run as written, and their output samples are real output."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from pytest_examples import CodeExample, EvalExample, find_examples

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def blocks(page: Path, lang: str) -> list[str]:
    """The fenced blocks of one language (`""` for plain blocks) on a page."""
    return re.findall(rf"^```{lang}\n(.*?)^```$", page.read_text(), re.S | re.M)


@pytest.fixture
def clean_logging() -> Iterator[None]:
    """Examples may attach logging handlers and configure structlog: undone again."""
    before = {name: list(logging.getLogger(name).handlers) for name in ("", "app", "app.langchain")}
    yield
    for name, handlers in before.items():
        logging.getLogger(name).handlers[:] = handlers
    structlog.reset_defaults()


@pytest.mark.parametrize("example", list(find_examples(*PAGES)), ids=str)
def test_every_python_example_runs_as_written(
    example: CodeExample, eval_example: EvalExample, clean_logging: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if example.prefix != "python":
        return  # only Python is run here; shell samples are checked below, by what they print
    monkeypatch.chdir(ROOT)  # examples name config/default.yaml as a user in the repository would
    namespace = eval_example.run_print_check(example)
    for value in namespace.values():  # a handler an example left open
        close = getattr(value, "close", None)
        if type(value).__name__ == "LoggingCallbackHandler" and callable(close):
            close()


def test_the_web_service_example_tags_each_request() -> None:
    from fastapi.testclient import TestClient

    from lclog.outputs import MemoryOutput

    (code,) = [b for b in blocks(ROOT / "README.md", "python") if "FastAPI" in b]
    namespace: dict[str, Any] = {}
    exec(compile(code, "README.md", "exec"), namespace)
    app = namespace["app"]
    with TestClient(app) as client:
        handler = app.state.lclog
        memory = MemoryOutput()
        handler._recorder.source.outputs.append(memory)  # see what it writes, next to stdout
        answer = client.post("/ask", params={"question": "hi"}, headers={"x-request-id": "r-42"})
        assert answer.json() == {"answer": "It ships on Monday."}
        handler.flush()
    (start,) = [e for e in memory.events if e["event"] == "chain.start" and e["depth"] == 0]
    assert start["metadata"] == {"request_id": "r-42"} and start["service"] == "support-api"


# -- output samples -------------------------------------------------------------------------

# Fields that differ from run to run: a sample's value stands for any value of the same type.
_VARYING = {
    "timestamp",
    "run_id",
    "parent_run_id",
    "trace_id",
    "first_run_id",
    "duration_ms",
    "history_writer",
}


def _matches(sample: Any, real: Any, key: str = "") -> bool:
    """A sample value stands for the real one: equal, or of the same type for a varying field,
    or a string whose `…` stands for the rest; a dict's keys are the real dict's, in its order."""
    if key in _VARYING:
        return type(sample) is type(real) or (isinstance(sample, str) and "…" in sample)
    if isinstance(sample, str) and "…" in sample:
        return isinstance(real, str) and real.startswith(sample.split("…", 1)[0])
    if isinstance(sample, dict):
        if not isinstance(real, dict) or not set(sample) <= set(real):
            return False
        order = [k for k in real if k in sample]
        return order == list(sample) and all(_matches(v, real[k], k) for k, v in sample.items())
    if isinstance(sample, list):
        return isinstance(real, list) and len(sample) == len(real) and all(map(_matches, sample, real))
    return sample == real


def _json_samples(page: Path) -> list[Any]:
    """The JSON samples of a page; a fragment (`"cost": {…}`) as the object it is part of."""
    out = []
    for block in blocks(page, "json"):
        try:
            out.append(json.loads(block))
        except json.JSONDecodeError:
            out.append(json.loads("{" + block + "}"))
    return out


@pytest.fixture(scope="module")
def demo_lines() -> str:
    """What `lclog demo --format json` writes."""
    done = subprocess.run(
        [sys.executable, "-m", "lclog", "demo", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _support_events(tmp_path: Path) -> list[dict[str, Any]]:
    from tests.cli.test_thread import readme_conversation

    return [json.loads(line) for line in readme_conversation(tmp_path).read_text().splitlines()]


def _priced_call() -> dict[str, Any]:
    from tests.events.test_cost import Provider, answer, one_call

    usage = {"input_tokens": 900, "output_tokens": 500, "total_tokens": 1400}
    end, _ = one_call(Provider(messages=iter([answer(usage, "gpt-4o")]), model_name="gpt-4o"))
    return end


def _notification() -> dict[str, Any]:
    from langchain_core.messages import HumanMessage

    import lclog
    from lclog.cli.demo import FakeToolChatModel, agent_messages, build_agent

    target = {"type": "callable", "target": f"{__name__}:_SENT.append"}
    _SENT.clear()
    handler = lclog.LoggingCallbackHandler(
        service="support-bot", outputs=[lclog.MemoryOutput()], notify={"targets": [target]}
    )
    agent = build_agent(FakeToolChatModel(messages=agent_messages()), handle_tool_errors=False)
    with pytest.raises(ConnectionError):
        question = HumanMessage("Weather in Paris, and where is order A-1001?")
        agent.invoke({"messages": [question]}, config={"callbacks": [handler]})
    handler.close()
    (notification,) = _SENT  # one failed trace, one notification
    return notification


_SENT: list[dict[str, Any]] = []  # what the callable target received


def _app_line() -> dict[str, Any]:
    """The line the README's structlog example writes from inside its tool."""
    (code,) = [b for b in blocks(ROOT / "README.md", "python") if "merge_contextvars" in b]
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(code, "README.md", "exec"), {})
    finally:
        structlog.reset_defaults()
    (line,) = out.getvalue().splitlines()
    return json.loads(line)


def test_every_json_sample_is_real_output(demo_lines: str, tmp_path: Path) -> None:
    """Each JSON sample of the README and docs/ is an event, a cost or a notification lclog
    wrote in the scenario its text names (the demo, the support conversation, a priced call,
    the demo's agent failing)."""
    real: list[Any] = [json.loads(line) for line in demo_lines.splitlines()]
    real += _support_events(tmp_path)
    real.append(_priced_call())
    real.append(_notification())
    real.append(_app_line())
    checked = 0
    for page in PAGES:
        for sample in _json_samples(page):
            assert any(_matches(sample, event) for event in real), f"{page.name}: not real output: {sample}"
            checked += 1
    assert checked >= 5


_CLOCK = re.compile(r"\d\d:\d\d:\d\d\.\d{3}|\b\d+\.\d+(ms)?\b|[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}")


def _masked(line: str) -> str:
    """A line with clock times, durations and ids as `#`, and runs of spaces as one (columns
    are aligned to the width of the numbers that vary)."""
    return " ".join(_CLOCK.sub("#", line).split())


def _shell_samples(page: Path) -> list[tuple[str, list[str]]]:
    """The `$ command` samples of a page (plain blocks): the command and the lines shown."""
    out = []
    for block in blocks(page, ""):
        first, *rest = block.splitlines()
        if first.startswith("$ lclog demo --format json 2>/dev/null | "):
            out.append((first[2:], rest))
    return out


def test_the_pretty_and_stats_samples_are_real_output(demo_lines: str) -> None:
    """Every line shown is a line of the real output, in order, but for clock times, durations,
    trace ids and the alignment they move; a line ending in `…` is the start of a longer one
    (cut at a terminal's width)."""
    samples = [s for page in PAGES for s in _shell_samples(page)]
    assert {command.rsplit(" ", 1)[-1] for command, _ in samples} == {"pretty", "stats"}
    for command, shown in samples:
        reader = command.rsplit(" ", 1)[-1]
        done = subprocess.run(
            [sys.executable, "-m", "lclog", reader],
            input=demo_lines,
            capture_output=True,
            text=True,
            timeout=60,
        )
        real = [_masked(line) for line in done.stdout.splitlines()]
        at = 0
        for line in shown:
            if line == "…":
                continue
            wanted = _masked(line)
            head = wanted[:-1] if wanted.endswith("…") else None
            found = next(
                (i for i in range(at, len(real)) if real[i] == wanted or (head and real[i].startswith(head))),
                None,
            )
            assert found is not None, f"{line!r} is not in the output of {command!r}"
            at = found + 1


def test_the_config_error_sample_is_real_output(tmp_path: Path) -> None:
    from lclog import ConfigError, load_config

    bad = tmp_path / "bad.yaml"
    bad.write_text("servce: api\noutputs:\n  - type: file\n")
    with pytest.raises(ConfigError) as raised:
        load_config(bad)
    real = f"lclog.ConfigError: {raised.value}".replace(str(bad), "config/bad.yaml").splitlines()
    shown = [b for page in PAGES for b in blocks(page, "") if b.startswith("lclog.ConfigError")]
    assert shown
    for sample in shown:
        assert sample.splitlines() == real


def test_the_docs_build_as_a_site_with_no_broken_page_or_anchor(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "site" / "events" / "index.html").read_text().count("chat_model.end") > 3
    navigation = (ROOT / "mkdocs.yml").read_text()
    for page in (ROOT / "docs").glob("*.md"):  # every page is in the navigation
        assert page.name in navigation, page.name


def _anchors(page: Path) -> set[str]:
    """The anchors GitHub (and mkdocs.yml's slugify) give a page's headings."""
    out = set()
    in_code = False
    for line in page.read_text().splitlines():
        in_code ^= line.startswith("```")
        if not in_code and line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            out.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return out


def test_every_link_of_the_readme_and_docs_leads_somewhere() -> None:
    for page in PAGES:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if target.startswith(("http://", "https://")):
                continue
            path, _, anchor = target.partition("#")
            file = (page.parent / path).resolve() if path else page
            assert file.exists(), f"{page.name}: {target} leads nowhere"
            if anchor:
                assert anchor in _anchors(file), f"{page.name}: no heading for #{anchor} in {file.name}"
