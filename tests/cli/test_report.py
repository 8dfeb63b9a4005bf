"""`lclog report`: the page of a real log, opened in headless Chromium — its numbers against
`lclog stats` and the log itself, a request's waterfall against its events, filters, the
conversation view, and hostile content that must stay text."""

from __future__ import annotations

import base64
import contextlib
import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableConfig, RunnableLambda

from lclog import LoggingCallbackHandler
from lclog.cli.report import Limits, build_report
from lclog.cli.report_page import render_page
from tests.events.test_cost import Provider

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
HOSTILE_NAME = "<img src=x onerror=window.__pwned=1>"
HOSTILE_PROMPT = "</script><script>window.__pwned=2</script><!-- javascript:window.__pwned=3"
SECRET = "sk-proj-" + "Q7" * 24


def _usage(i: int, o: int) -> dict[str, Any]:
    return {"input_tokens": i, "output_tokens": o, "total_tokens": i + o}


def _model(name: str, count: int, base: int) -> Provider:
    answers = iter(
        AIMessage(
            f"answer {k}", usage_metadata=_usage(base + 7 * k, 10 + k), response_metadata={"model_name": name}
        )
        for k in range(count)
    )
    return Provider(messages=answers, model_name=name)


def write_log(path: Path) -> None:
    """A log of real runs: the demo's, then requests on two priced models, some failing, on
    threads and for users, and one request named and prompted with markup and a secret."""
    demo = subprocess.run(
        [sys.executable, "-m", "lclog", "demo", "--format", "json"],
        capture_output=True,
        timeout=120,
        check=True,
    )
    path.write_bytes(demo.stdout)
    handler = LoggingCallbackHandler({"outputs": [{"type": "file", "path": str(path)}]})
    mini, big = _model("gpt-4o-mini", 40, 100), _model("gpt-4o", 40, 300)
    for n in range(24):

        def request(x: str, config: RunnableConfig, n: int = n) -> str:
            mini.invoke(x, config=config)
            if n % 3 == 0:
                big.invoke(x, config=config)
            if n % 5 == 4:
                raise ValueError(f"request {n} failed")
            return x

        metadata = {"user_id": f"user-{n % 3}", "thread_id": f"t-{n % 4}"}
        with contextlib.suppress(ValueError):
            RunnableLambda(request, name="answer").invoke(
                f"question {n}", {"callbacks": [handler], "metadata": metadata}
            )

    def hostile(x: str, config: RunnableConfig) -> str:
        return str(mini.invoke(x, config=config).content)

    RunnableLambda(hostile, name=HOSTILE_NAME).invoke(
        f"{HOSTILE_PROMPT} my key is {SECRET}",
        {"callbacks": [handler], "metadata": {"thread_id": "javascript:window.__pwned=4"}},
    )
    handler.close()


def events_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def lclog(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "lclog", *args], input=stdin, capture_output=True, timeout=120
    )


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report") / "app.jsonl"
    write_log(path)
    return path


@pytest.fixture(scope="module")
def page_file(log: Path) -> Path:
    out = log.with_name("report.html")
    done = lclog("report", str(log), "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert b"wrote" in done.stderr
    return out


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if CHROMIUM is None:
        if os.environ.get("CI") or os.environ.get("LCLOG_REQUIRE_BROWSER"):
            pytest.fail("Chromium is missing: .ci/run installs Debian's chromium package")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


class Opened:
    """A report open in a page, with what happened while it ran."""

    def __init__(self, browser: Any, path: Path) -> None:
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.url = path.resolve().as_uri()
        self.page.goto(self.url)  # returns once loaded: the page's scripts have run
        assert self.page.evaluate("window.lclogReport !== undefined"), self.errors

    def view(self) -> Any:
        return self.page.evaluate("window.lclogReport.view")

    def select(self, what: str, value: str) -> None:
        self.page.select_option(f"#f-{what}", value)


@pytest.fixture
def opened(browser: Any, page_file: Path) -> Iterator[Opened]:
    report = Opened(browser, page_file)
    yield report
    assert report.errors == [] and report.dialogs == []
    assert report.requests == [report.url]  # the file itself, and not one request more
    report.page.close()


def requests_in(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each request of a log by trace id: its trace.end, or a lone model call's end."""
    out: dict[str, dict[str, Any]] = {}
    for e in events:
        lone = e["event"].startswith(("chat_model.", "llm.")) and e["depth"] == 0
        if e["event"] == "trace.end" or (lone and e["event"].endswith((".end", ".error"))):
            out[e["trace_id"]] = e
    return out


def test_totals_and_the_by_model_table_are_lclog_stats_numbers(opened: Opened, log: Path):
    events = events_of(log)
    view = opened.view()
    requests = requests_in(events)
    assert view["totals"]["requests"] == len(requests) == 24 + 7 + 1
    assert view["totals"]["failed"] == sum(
        1 for e in requests.values() if e.get("outcome") != "ok" or (e.get("errors") or {}).get("count")
    )
    assert view["totals"]["input_tokens"] == sum(
        (e.get("usage") or {}).get("input_tokens", 0) for e in requests.values()
    )
    stats = json.loads(lclog("stats", "--json", str(log)).stdout)
    rows = {r["model"]: r for r in view["byModel"]}
    for model in ("gpt-4o-mini", "gpt-4o"):
        mine, theirs = rows[model], stats[f"chat_model {model}"]
        for key in ("calls", "errors", "input_tokens", "output_tokens"):
            assert mine[key] == theirs[key], (model, key)
        assert mine["cost_usd"] == pytest.approx(theirs["cost_usd"], rel=1e-9)
        for key in ("p50_ms", "p95_ms", "p99_ms"):  # stats: 2%-wide buckets, 0.01 ms steps
            assert mine[key] == pytest.approx(theirs[key], rel=0.025, abs=0.008), (model, key)
    # the table on the page says the same
    row = opened.page.locator('#models-body tr[data-model="gpt-4o"]')
    assert row.locator('[data-col="calls"]').inner_text() == str(stats["chat_model gpt-4o"]["calls"])
    assert opened.page.locator('#totals [data-total="requests"] .value').inner_text() == str(len(requests))
    # the charts over time add up to the totals
    series = view["series"]
    assert sum(series["requests"]) == len(requests) and sum(series["failed"]) == view["totals"]["failed"]
    assert sum(series["input"]) == view["totals"]["input_tokens"]
    assert sum(c for c in series["cost"] if c) == pytest.approx(view["totals"]["cost_usd"], rel=1e-9)


def test_a_requests_waterfall_is_its_runs_with_their_durations_and_content_as_logged(
    opened: Opened, log: Path
):
    events = events_of(log)
    agent = next(e for e in events if e["event"] == "trace.end" and e["name"] == "agent")
    opened.page.click("#more")  # 50 rows a list: every request of this log, however fast it ran
    opened.page.click(f'#slowest-body tr[data-trace="{agent["trace_id"]}"]')
    rows = opened.page.locator("#waterfall tbody tr")
    ended = {
        e["run_id"]: e
        for e in events
        if e["trace_id"] == agent["trace_id"]
        and e["event"].endswith((".end", ".error"))
        and e["event"] != "trace.end"
    }
    shown = rows.evaluate_all(
        "rows => rows.map(r => [r.dataset.run, r.querySelector('[data-col=dur]').dataset.value,"
        " r.querySelector('[data-col=dur]').textContent])"
    )
    assert {run for run, _, _ in shown} == set(ended)
    for run, value, text in shown:
        assert float(value) == ended[run]["duration_ms"]
        assert float(text.removesuffix(" ms")) == pytest.approx(ended[run]["duration_ms"], abs=0.051)
    assert shown[0][0] == agent["run_id"]  # the request's own run first, spanning the timeline
    # the failed tool reads as failed, with its (redacted) error
    failed = next(e for e in ended.values() if e["event"] == "tool.error")
    row = opened.page.locator(f'#waterfall tr[data-run="{failed["run_id"]}"]')
    assert failed["error"]["message"] in row.inner_text()
    # the request's own events show first: its input and output, as logged
    first = [json.loads(t) for t in opened.page.locator("#run-content pre").all_inner_texts()]
    assert [e["event"] for e in first] == ["chain.start", "chain.end"] and first[0]["run_id"] == agent[
        "run_id"
    ]
    assert first[0]["inputs"] == next(e for e in events if e["run_id"] == agent["run_id"])["inputs"]
    # a run's events, as logged
    model_run = next(e for e in ended.values() if e["event"] == "chat_model.end")
    opened.page.click(f'#waterfall tr[data-run="{model_run["run_id"]}"]')
    shown_events = [json.loads(t) for t in opened.page.locator("#run-content pre").all_inner_texts()]
    logged = [e for e in events if e["run_id"] == model_run["run_id"]]
    assert shown_events == [{k: v for k, v in e.items() if k not in ("service", "trace_id")} for e in logged]


def test_filters_recompute_every_figure_from_the_requests_they_keep(opened: Opened, log: Path):
    events = events_of(log)
    requests = requests_in(events)
    uses_big = {
        e["trace_id"] for e in events if e.get("model") == "gpt-4o" and e["event"] == "chat_model.end"
    }
    opened.select("model", "gpt-4o")
    view = opened.view()
    assert view["totals"]["requests"] == len(uses_big) == 8
    assert [r["model"] for r in view["byModel"]] == ["gpt-4o"]
    opened.select("model", "")
    opened.select("outcome", "failed")
    failed = [
        t for t, e in requests.items() if e.get("outcome") != "ok" or (e.get("errors") or {}).get("count")
    ]
    assert opened.view()["totals"]["requests"] == len(failed)
    listed = opened.page.locator("#failed-body tr").evaluate_all("rows => rows.map(r => r.dataset.trace)")
    assert sorted(listed) == sorted(failed)
    opened.select("outcome", "")
    opened.page.fill("#f-thread", "t-1")
    opened.page.press("#f-thread", "Enter")
    on_thread = [t for t, e in requests.items() if e.get("thread_id") == "t-1"]
    assert opened.view()["totals"]["requests"] == len(on_thread) == 6
    opened.page.click("#f-clear")
    assert opened.view()["totals"]["requests"] == len(requests)
    # dragging across a chart narrows the whole page to that time
    box = opened.page.locator("#charts .u-over").first.bounding_box()
    assert box is not None
    y = box["y"] + box["height"] / 2
    opened.page.mouse.move(box["x"] + 1, y)
    opened.page.mouse.down()
    opened.page.mouse.move(box["x"] + box["width"] * 0.5, y, steps=5)
    opened.page.mouse.up()
    view, filters = opened.view(), opened.page.evaluate("window.lclogReport.filters")
    assert filters["from"] is not None and filters["to"] is not None
    data = build_report([str(log)])["requests"]
    within = [t for t in data["start"] if filters["from"] <= t <= filters["to"]]
    assert 0 < view["totals"]["requests"] == len(within) < len(requests)
    assert opened.page.input_value("#f-from") != ""


def test_the_conversation_view_is_what_lclog_thread_rebuilds(opened: Opened, log: Path):
    expected = json.loads(lclog("thread", "demo-thread", str(log), "--json").stdout)
    opened.page.click('#threads button[data-thread="demo-thread"]')
    texts = opened.page.locator("#conversation .message .text").all_inner_texts()
    assert texts == [m["message"]["content"] for m in expected["messages"]]
    assert len(texts) > 4


def test_hostile_content_stays_text_runs_nothing_and_no_secret_reaches_the_page(
    opened: Opened, page_file: Path
):
    html = page_file.read_text()
    assert SECRET not in html and SECRET[:12] not in html
    assert "</script><script>window" not in html and "<img src=x" not in html
    # the names and prompt are on the page, as text
    opened.page.click("#more")  # 50 rows a list: every request of this log, however fast it ran
    cell = opened.page.locator("#slowest-body td.name", has_text="onerror")
    assert cell.first.inner_text() == HOSTILE_NAME
    opened.page.click('#threads button[data-thread="javascript:window.__pwned=4"]')
    assert HOSTILE_PROMPT in opened.page.locator("#conversation").inner_text()
    assert "[REDACTED:openai_key]" in opened.page.locator("#conversation").inner_text()
    assert opened.page.evaluate("window.__pwned") is None
    assert opened.page.locator("#conversation img, #slowest-body img, a").count() == 0


def test_the_page_allows_only_its_own_scripts_and_no_network(page_file: Path):
    html = page_file.read_text()
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)
    assert policy is not None
    directives = dict(d.strip().split(" ", 1) for d in policy.group(1).split(";") if d.strip())
    assert directives["default-src"] == "'none'"
    scripts = re.findall(r"<script>(.*?)</script>", html, re.S)
    hashes = {
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'" for s in scripts
    }
    assert set(directives["script-src"].split()) == hashes and len(hashes) == 2
    script = (Path(__file__).parents[2] / "lclog/cli/report_assets/report.js").read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "Function("):
        assert sink not in script


def test_stdin_gzip_rotated_and_plain_files_give_the_same_page_data(log: Path, tmp_path: Path):
    rotated = tmp_path / "app.jsonl.1.gz"
    rotated.write_bytes(gzip.compress(log.read_bytes()))
    from_file = build_report([str(log)])
    assert build_report([str(rotated)]) == from_file
    done = lclog("report", "-o", "-", stdin=log.read_bytes())
    assert done.returncode == 0
    data = re.search(rb'<script type="application/json" id="lclog-data">(.*?)</script>', done.stdout, re.S)
    assert data is not None and json.loads(data.group(1)) == json.loads(json.dumps(from_file))
    assert from_file["details"]  # the second pass read stdin again, from its copy


def test_past_its_limits_the_page_keeps_a_uniform_sample_and_says_so_with_exact_totals(
    log: Path, tmp_path: Path, browser: Any
):
    full = build_report([str(log)])
    small = build_report([str(log)], Limits(top=2, max_requests=10, detail_bytes=20_000))
    assert small["meta"]["sampled"] and small["meta"]["rows"] == 10 and len(small["requests"]["trace"]) == 10
    assert small["totals"] == full["totals"]  # over every request, not the sample
    assert set(small["requests"]["trace"]) <= set(full["requests"]["trace"])
    assert len(small["details"]) <= 2 * 3
    kept = sum(len(d["events"]) for d in small["details"].values())
    assert kept and sum(d["cut"] for d in small["details"].values()) > 0  # the shared byte budget
    path = tmp_path / "small.html"
    path.write_bytes(render_page(small))
    report = Opened(browser, path)
    banner = report.page.locator("#sampled")
    assert banner.is_visible()
    said = banner.inner_text()
    assert (
        "uniform sample of 10" in said
        and f"Over every request: {full['totals']['requests']} requests" in said
    )
    assert report.view()["totals"]["requests"] == 10


def test_a_log_without_events_or_unreadable_fails_with_a_clear_message(tmp_path: Path):
    empty = tmp_path / "empty.log"
    empty.write_text("plain text\n")
    done = lclog("report", str(empty), "-o", str(tmp_path / "r.html"))
    assert done.returncode == 1 and b"no lclog events" in done.stderr
    done = lclog("report", str(tmp_path / "missing.jsonl"))
    assert done.returncode == 1 and b"cannot read" in done.stderr and b"Traceback" not in done.stderr


def test_logs_in_the_ecs_and_otel_layouts_give_the_same_page(tmp_path: Path):
    paths = {schema: tmp_path / f"{schema}.jsonl" for schema in ("default", "ecs", "otel")}
    handlers = [
        LoggingCallbackHandler({"schema": schema, "outputs": [{"type": "file", "path": str(path)}]})
        for schema, path in paths.items()
    ]
    mini = _model("gpt-4o-mini", 12, 100)
    for n in range(6):

        def request(x: str, config: RunnableConfig) -> str:
            return str(mini.invoke(x, config=config).content)

        metadata = {"thread_id": f"t-{n % 2}", "user_id": "ada"}
        RunnableLambda(request, name="answer").invoke(f"q{n}", {"callbacks": handlers, "metadata": metadata})
    for handler in handlers:
        handler.close()
    pages = {schema: build_report([str(path)]) for schema, path in paths.items()}
    default = pages["default"]
    assert default["totals"]["requests"] == 6 and default["totals"]["cost_usd"]

    # each handler times the runs itself (so the rows' order by start may differ too): all but
    # the times must be the same
    def rows(page: dict[str, Any]) -> dict[str, Any]:
        r, c, strings = page["requests"], page["calls"], page["strings"]
        out: dict[str, Any] = {}
        for i, trace in enumerate(r["trace"]):
            text = tuple(strings[r[k][i]] for k in ("name", "service", "thread", "user", "outcome"))
            figures = tuple(r[k][i] for k in ("errors", "in", "out", "cost"))
            calls = sorted(
                (strings[c["model"][j]], c["in"][j], c["out"][j], c["cost"][j], c["err"][j])
                for j in range(len(c["req"]))
                if c["req"][j] == i
            )
            out[trace.replace("-", "")] = (text, figures, calls)
        return out

    for schema in ("ecs", "otel"):
        page = pages[schema]
        for key in ("requests", "failed", "input_tokens", "output_tokens", "cost_usd"):
            assert page["totals"][key] == default["totals"][key], (schema, key)
        assert rows(page) == rows(default), schema
        # trace ids as each layout writes them (ECS and OpenTelemetry: 32 hex digits)
        assert all(len(t) == 32 for t in page["requests"]["trace"])
        assert len(page["details"]) == len(default["details"]) == 6
        assert [len(d["runs"]) for d in page["details"].values()] == [
            len(d["runs"]) for d in default["details"].values()
        ]
        assert set(page["threads"]) == {"t-0", "t-1"}


_int64 = st.integers(-(2**63), 2**64 - 1)  # what JSON from orjson holds
_json = st.recursive(
    st.none() | st.booleans() | _int64 | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
_ids = st.sampled_from(["t1", "t2", "01a250ee-5159-70f2-b4d9-2e7cf2244de6", ""]) | st.text(max_size=6)
_event = st.fixed_dictionaries(
    {
        "event": st.sampled_from(
            ["trace.end", "chain.start", "chain.end", "chat_model.end", "llm.error", "tool.error", "x"]
        ),
        "run_id": _ids,
        "trace_id": _ids,
    },
    optional={
        "parent_run_id": _ids | st.none(),
        "depth": st.integers(-5, 10**9) | _json,
        "timestamp": st.sampled_from(["2026-12-01T00:00:00.000001Z", "2026-13-01", "1796654125"])
        | _int64
        | st.floats(allow_nan=False)
        | st.text(max_size=30),
        "duration_ms": st.floats(allow_nan=False) | _int64 | _json,
        "name": st.text() | _json,
        "model": st.text(max_size=20) | _json,
        "thread_id": st.text(max_size=20) | _json,
        "outcome": st.sampled_from(["ok", "error", "<b>"]) | _json,
        "usage": st.fixed_dictionaries({"input_tokens": _json, "output_tokens": _json}) | _json,
        "cost": st.fixed_dictionaries({"total": _json}) | _json,
        "errors": st.fixed_dictionaries({"count": _json}) | _json,
        "error": _json,
        "inputs": _json,
        "outputs": _json,
        "history_writer": _json,
    },
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    events=st.lists(_event, max_size=25),
    markup=st.sampled_from(["</script>", "<!--", "]]>", "&lt;", "\u2028"]),
)
def test_any_events_make_a_page_whose_data_is_inert_and_reads_back_whole(tmp_path: Path, events, markup):
    path = tmp_path / "hostile.jsonl"
    lines = [orjson.dumps({**e, "name": f"{markup}{e.get('name')}"}) for e in events]
    path.write_bytes(b"\n".join([*lines, b"not json", b"{broken"]) + b"\n")
    data = build_report([str(path)])
    page = render_page(data)
    block = page.split(b'<script type="application/json" id="lclog-data">', 1)[1].split(b"</script>", 1)[0]
    assert not set(block) & set(b"<>&")  # nothing in it can end the element or start markup
    assert orjson.loads(block) == orjson.loads(orjson.dumps(data))
    assert page.count(b"<script") == 3 and data["meta"]["skipped_lines"] == 2


def test_a_page_of_malformed_events_opens_without_an_error_and_every_request_opens(
    browser: Any, tmp_path: Path
):
    odd: list[dict[str, Any]] = [
        {"event": "chain.start", "run_id": "r1", "trace_id": "r1", "depth": 0, "name": {"a": [1]}},
        {"event": "tool.error", "run_id": "r2", "trace_id": "r1", "parent_run_id": "r1", "depth": 10**9,
         "name": None, "error": "not a dict", "duration_ms": "slow", "timestamp": "2026-12-01T00:00:01Z"},
        {"event": "chain.end", "run_id": "r1", "trace_id": "r1", "depth": 0, "duration_ms": 1e308,
         "timestamp": 1796654125000, "outcome": "<b>", "thread_id": ["x"], "node": {"n": 1}, "step": [2]},
        {"event": "trace.end", "run_id": "r1", "trace_id": "r1", "depth": 0, "errors": {"count": "many"},
         "usage": [1, 2], "cost": {"total": "free"}, "timestamp": "yesterday", "thread_id": "t"},
        {"event": "chat_model.end", "run_id": "m", "trace_id": "m", "depth": 0, "duration_ms": -3,
         "usage": {"input_tokens": 2**63, "output_tokens": -1}, "cost": {"total": -0.5}, "model": ""},
        {"event": "chain.end", "run_id": "far", "trace_id": "far", "depth": 0, "duration_ms": 1e300,
         "timestamp": "2026-12-01T00:00:01Z", "outputs": {"messages": [{"role": "ai", "content": "x"}]}},
        {"event": "trace.end", "run_id": "old", "trace_id": "old", "depth": 0, "duration_ms": 1,
         "timestamp": "1900-01-01T00:00:00Z", "errors": {"count": 1}},
        {"event": "chat_model.error", "run_id": "e", "trace_id": "e", "depth": 0, "thread_id": "t",
         "inputs": {"messages": [{"role": "human", "content": None, "seq": "x"}]}, "history_writer": 5},
    ]  # fmt: skip
    log = tmp_path / "odd.jsonl"
    log.write_bytes(b"\n".join(orjson.dumps(e) for e in odd) + b"\n")
    page = tmp_path / "odd.html"
    data = build_report([str(log)])
    page.write_bytes(render_page(data))
    report = Opened(browser, page)
    traces = data["requests"]["trace"]
    assert set(traces) == {"r1", "m", "e", "far", "old"}
    for trace in traces:
        assert report.page.evaluate("t => window.lclogReport.showRequest(t)", trace)
        for row in report.page.locator("#waterfall tbody tr").all():
            row.click()
    for button in report.page.locator("#threads button").all():
        button.click()
    assert report.errors == [] and report.requests == [report.url]


def test_memory_stays_bounded_when_the_log_holds_no_request_ends(tmp_path: Path):
    # `events: [chat_model.end]` leaves every request's end out: model calls of 30,000 requests
    # that never end are not all held until the log ends.
    log = tmp_path / "calls.jsonl"
    calls = (
        {"event": "chat_model.end", "run_id": f"m{i}", "trace_id": f"t{i}", "parent_run_id": f"t{i}",
         "depth": 1, "model": "gpt-4o-mini", "duration_ms": 1.0}
        for i in range(30_000)
    )  # fmt: skip
    log.write_bytes(b"\n".join(orjson.dumps(c) for c in calls) + b"\n")
    from lclog.cli import report

    scan = report._Scan(Limits())
    for line in log.read_bytes().splitlines():
        scan.add(report.parse(line))  # type: ignore[arg-type]
        assert len(scan.calls) <= scan._PENDING
    assert build_report([str(log)])["meta"]["events"] == 30_000
