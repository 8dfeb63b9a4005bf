"""What a new user meets in the first hour, run as they would run it: no traceback anywhere."""

from __future__ import annotations

import gzip
import logging
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableLambda

import lclog
from lclog.outputs.pretty import render_pretty
from lclog.testing import capture


def lclog_cli(
    *args: str, cwd: Path | None = None, stdin: bytes | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lclog", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        input=stdin.decode() if stdin is not None else None,
    )


@pytest.fixture(scope="module")
def demo_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "demo.jsonl"
    done = lclog_cli("demo", "--format", "json")
    assert done.returncode == 0
    path.write_text(done.stdout)
    return path


@pytest.mark.parametrize("command", [["pretty"], ["stats"], ["stats", "--by", "user"], ["thread", "t-1"]])
def test_a_missing_or_unreadable_input_is_one_line_naming_it(command: list[str], tmp_path: Path):
    for bad, why in ((tmp_path / "nope.jsonl", "No such file or directory"), (tmp_path, "Is a directory")):
        done = lclog_cli(*command, str(bad))
        assert done.returncode == 1
        assert done.stderr == f"lclog: cannot read {bad}: {why}\n"  # one line, no traceback


def test_gzip_rotated_logs_and_stdin_read_as_plain_ones(demo_log: Path, tmp_path: Path):
    gz = tmp_path / "demo.jsonl.1.gz"
    gz.write_bytes(gzip.compress(demo_log.read_bytes()))
    for command in (["pretty", "--no-color"], ["stats", "--json"], ["thread", "demo-thread"]):
        plain = lclog_cli(*command, str(demo_log))
        assert plain.returncode == 0 and plain.stdout
        assert lclog_cli(*command, str(gz)).stdout == plain.stdout
        assert lclog_cli(*command, "-", stdin=demo_log.read_bytes()).stdout == plain.stdout
    empty = tmp_path / "empty.jsonl"
    empty.write_text("not json\n")
    done = lclog_cli("stats", str(empty))
    assert done.returncode == 1 and done.stderr == f"lclog stats: no lclog events in {empty}\n"


def test_the_version_is_known():
    assert lclog_cli("--version").stdout == f"lclog {lclog.__version__}\n"
    assert lclog.__version__.count(".") == 2
    helps = lclog_cli("pretty", "--help").stdout + lclog_cli("check-config", "--help").stdout
    assert (
        "--color, --no-color  default: on a terminal" in helps and "pyproject.toml with [tool.lclog]" in helps
    )


def test_the_demo_ends_with_commands_that_run_as_printed(tmp_path: Path):
    done = lclog_cli("demo", "--format", "json")
    commands = done.stderr.split("== explore what it wrote:\n", 1)[1].split("\n")
    commands = [c.strip() for c in commands if c.strip()]
    assert commands[0] == "lclog demo --format json 2>/dev/null > demo.jsonl"
    assert "lclog thread demo-thread demo.jsonl" in commands
    python = Path(sys.executable).parent
    for command in commands:
        shell = subprocess.run(
            ["bash", "-c", command], cwd=tmp_path, capture_output=True, text=True, timeout=120,
            env={"PATH": f"{python}:/usr/bin:/bin"},
        )  # fmt: skip
        assert shell.returncode == 0, (command, shell.stderr)
        assert shell.stdout or command.startswith(("lclog demo", "lclog report")), command
        assert "Traceback" not in shell.stderr
    page = (tmp_path / "demo.html").read_text()
    assert page.startswith("<!doctype html>") and "lclog-data" in page


def test_outputs_as_a_config_writes_them_are_taken_by_the_handler(tmp_path: Path):
    path = tmp_path / "app.jsonl"
    with lclog.LoggingCallbackHandler(outputs=[{"type": "file", "path": str(path)}]) as handler:
        RunnableLambda(lambda x: x, name="step").invoke(1, {"callbacks": [handler]})
    assert [orjson.loads(line)["event"] for line in path.read_bytes().splitlines()] == [
        "chain.start",
        "chain.end",
    ]
    with pytest.raises(
        lclog.ConfigError, match=r"\(keyword arguments\):\n  outputs\.0: a file output needs a path"
    ):
        lclog.LoggingCallbackHandler(outputs=[{"type": "file"}])


def test_a_stdlib_logger_that_drops_events_is_named_once(capfd: pytest.CaptureFixture[str]):
    logger = logging.getLogger("tests.first_hour")
    logger.setLevel(logging.NOTSET)  # as created: the root's WARNING decides
    with lclog.LoggingCallbackHandler(outputs=[{"type": "stdlib", "logger": "tests.first_hour"}]) as handler:
        for _ in range(3):
            RunnableLambda(lambda x: x, name="step").invoke(1, {"callbacks": [handler]})
    err = capfd.readouterr().err
    assert err.count("lclog: output stdlib:tests.first_hour: logger 'tests.first_hour' is at WARNING") == 1
    assert "logging.getLogger('tests.first_hour').setLevel(logging.INFO)" in err


def test_stats_by_trace_counts_a_model_called_on_its_own(tmp_path: Path):
    path = tmp_path / "app.jsonl"
    usage = {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}
    reply = AIMessage("x", usage_metadata=usage, response_metadata={"model_name": "gpt-4o-mini"})
    with lclog.LoggingCallbackHandler(outputs=[{"type": "file", "path": str(path)}]) as handler:
        GenericFakeChatModel(messages=iter([reply])).invoke("hi", {"callbacks": [handler]})
    rows = orjson.loads(lclog_cli("stats", "--by", "trace", "--json", str(path)).stdout)
    (row,) = rows["most_expensive"]
    assert row["name"] == "GenericFakeChatModel" and row["cost_usd"] > 0 and row["errors"] == 0


def test_metrics_name_a_model_by_the_one_that_answered_as_stats_does():
    replies = [AIMessage("x", response_metadata={"model_name": f"gpt-4o-mini-{k}"}) for k in range(4)]
    model = GenericFakeChatModel(messages=iter(replies))
    with capture() as events:
        for _ in range(4):
            model.invoke("hi", {"callbacks": [events.handler]})
    rows = events.handler.metrics.snapshot()["chat_model"]
    assert {name: (r["starts"], r["completions"]) for name, r in rows.items()} == {
        f"gpt-4o-mini-{k}": (1, 1) for k in range(4)
    }
    assert {e["model"] for e in events.named("chat_model.end")} == set(rows)


def test_a_notification_one_target_took_is_sent():
    targets = [
        {"type": "webhook", "url": "http://127.0.0.1:9/hook", "retries": 0, "timeout_s": 0.2},
        {"type": "log", "logger": "tests.first_hour.notify"},
    ]

    def fails(x: int) -> int:
        raise ValueError("no")

    handler = lclog.LoggingCallbackHandler(outputs=[lclog.MemoryOutput()], notify={"targets": targets})
    with pytest.raises(ValueError):
        RunnableLambda(fails, name="boom").invoke(1, {"callbacks": [handler]})
    handler.close()
    assert handler.stats.notifications_sent == 1 and handler.stats.notifier_failures == 1


def test_pretty_says_one_earlier_message_and_starts_without_a_blank_line(demo_log: Path):
    line = render_pretty(
        {"event": "chat_model.start", "name": "m", "inputs": [{"role": "history", "from": 0, "messages": 1}]}
    )
    assert '…1 earlier message"' in line and "messages" not in line
    out = lclog_cli("pretty", "--no-color", str(demo_log)).stdout
    assert out.startswith("── trace ")


def test_check_config_reports_every_problem_of_a_file_in_one_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("NO_SUCH_A", raising=False)
    monkeypatch.delenv("NO_SUCH_B", raising=False)
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "servce: api\n"
        "max_field_chars: 1\n"
        "redaction:\n  mode: scramble\n  patterns:\n    - {name: x, regex: '(a)\\1'}\n"
        "processors: ['nonexistent_mod:fn']\n"
        "notify:\n  targets: [{type: pager}]\n"
        "prices:\n  prod: {same_as: no-such-model}\n"
        "outputs:\n  - {type: loki, url: 'http://l/x', headers: {A: '${NO_SUCH_A}', B: '${NO_SUCH_B}'}}\n"
    )
    done = lclog_cli("check-config", str(bad))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert lines[0] == f"lclog: invalid lclog config {bad}:"
    assert [line.split(":")[0].strip() for line in lines[1:]] == [
        "outputs.0.headers.A",
        "outputs.0.headers.B",
        "max_field_chars",
        "redaction.mode",
        "notify.targets.0",
        "servce",
        "redaction.patterns.x",
        "processors",
        "prices.prod.same_as",
    ]
    assert "servce: is not a key lclog knows (did you mean `service`?)" in done.stderr
    assert "max_field_chars: must be at least 64" in done.stderr
    assert "unknown type 'pager': use one of 'webhook', 'log', 'callable'" in done.stderr
    assert "genai-prices knows no model 'no-such-model'" in done.stderr


def test_files_that_are_not_configs_say_so(tmp_path: Path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "app"\n')
    done = lclog_cli("check-config", str(pyproject))
    assert done.stderr.startswith(f"lclog: lclog config {pyproject} has no [tool.lclog] table: put ")
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1
    broken = tmp_path / "broken.yaml"
    broken.write_text("service: [unclosed\n")
    done = lclog_cli("check-config", str(broken))
    assert f"in {broken}, line 1" in done.stderr and "<unicode string>" not in done.stderr


def test_lclog_redact_applies_the_rules_the_handler_applies(tmp_path: Path):
    config = tmp_path / "lclog.yaml"
    config.write_text("redaction:\n  hash_key: k-1\n  fields: {user_id: hash}\n")
    with lclog.LoggingCallbackHandler(config, outputs=[lclog.MemoryOutput()]) as handler:
        RunnableLambda(lambda x: x, name="r").invoke(
            1, {"callbacks": [handler], "metadata": {"user_id": "u-42"}}
        )
        handler.flush()
        written = handler.outputs[0].events[0]
    line = orjson.dumps({"user_id": "u-42", "password": "hunter2"}).decode() + "\n"
    redacted = orjson.loads(lclog_cli("redact", "--config", str(config), stdin=line.encode()).stdout)
    assert redacted == {"user_id": written["user_id"], "password": "[REDACTED:password]"}
    assert written["user_id"].startswith("[user_id:")
