"""The command line, run as a user would: a subprocess on the installed package."""

from __future__ import annotations

import os
import subprocess
import sys

import orjson
import pytest

from lclog.cli.demo import DEMO_API_KEY, DEMO_EMAIL


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lclog", *args], input=stdin, capture_output=True, text=True, timeout=120
    )


def test_demo_json_is_valid_redacted_and_complete():
    proc = run("demo", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    events = [orjson.loads(line) for line in proc.stdout.splitlines()]
    names = {e["event"] for e in events}
    assert {"chain.start", "chat_model.end", "retriever.end", "tool.error", "tool.end"} <= names
    assert DEMO_EMAIL not in proc.stdout and DEMO_API_KEY not in proc.stdout
    assert "[REDACTED:email]" in proc.stdout and "[REDACTED:openai_key]" in proc.stdout
    streamed = [e for e in events if e["event"] == "chat_model.end" and e.get("chunks")]
    assert streamed and streamed[0]["ttft_ms"] >= 0
    assert "FakeToolChatModel" in proc.stderr and "internal_errors=0" in proc.stderr  # metrics summary
    # the default verbosity, and what `full` would have written: both shown, both real counts
    full = run("demo", "--format", "json", "--verbosity", "full")
    every = [orjson.loads(line) for line in full.stdout.splitlines()]
    volume = f"== volume: {len(events)} lines with verbosity: standard; {len(every)} with verbosity: full"
    assert volume in proc.stderr and len(every) > 1.5 * len(events)
    assert {e["name"] for e in every if e["event"] == "chain.start"} > {
        e["name"] for e in events if e["event"] == "chain.start"
    }


def test_demo_pretty_shows_tree_and_metrics():
    proc = run("demo", "--format", "pretty")
    assert proc.returncode == 0, proc.stderr
    assert "== 4. a tool-calling agent" in proc.stdout
    # the conversation: its later turns refer to what the first wrote
    assert "== 5. three turns of a conversation" in proc.stdout and "earlier messages" in proc.stdout
    assert "tool.error" in proc.stdout and "ConnectionError" in proc.stdout
    assert "== metrics" in proc.stdout and "starts" in proc.stdout


def test_demo_into_a_closed_pipe_exits_cleanly():
    proc = subprocess.run(
        f"{sys.executable} -m lclog demo --format json | head -1",
        shell=True, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert len(proc.stdout.splitlines()) == 1
    # The reader leaving is not a failure: no error line, no metrics block after it.
    for noise in ("Traceback", "BrokenPipe", "failed:", "== metrics", "output_errors"):
        assert noise not in proc.stderr


def test_redact_text_json_and_explain():
    proc = run("redact", stdin=f"mail {DEMO_EMAIL}\n" + '{"password": "x", "note": "call 555-123-4567"}\n')
    assert proc.stdout.splitlines() == [
        "mail [REDACTED:email]",
        '{"password":"[REDACTED:password]","note":"call [REDACTED:phone]"}',
    ]
    proc = run("redact", "--explain", stdin=f"hello\nmail {DEMO_EMAIL}\n")
    assert proc.stdout.strip() == "email\t2:5-25\tjan…(20 chars)"  # line 2, characters 5 to 25


def test_check_config(tmp_path):
    assert run("check-config", "config/default.yaml").stdout.startswith("config/default.yaml: ok")
    bad = tmp_path / "bad.yaml"
    bad.write_text("redaction:\n  patterns:\n    - {name: x, regex: '(a)\\1'}\n")
    proc = run("check-config", str(bad))
    assert proc.returncode == 2 and "redaction.patterns.x" in proc.stderr


_LOADED = """
import json, sys
from lclog.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
heavy = ("langchain", "langsmith", "langgraph", "pydantic", "structlog")
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules if m.startswith(heavy)})), file=sys.stderr)
"""
_EVENT = orjson.dumps({"event": "llm.end", "run_id": "r1", "name": "m", "duration_ms": 5}).decode()


@pytest.mark.parametrize(
    ("argv", "stdin", "allowed"),
    [
        (["--help"], "", set()),
        (["pretty", "--no-color"], _EVENT, set()),
        (["stats"], _EVENT, set()),
        (["report", "-o", "-"], _EVENT, set()),
        (["redact"], "mail a@b.io", {"pydantic", "pydantic_core"}),
        (["check-config", "config/elk.yaml"], "", {"pydantic", "pydantic_core", "structlog"}),
    ],
)
def test_command_line_tools_start_without_langchain(argv, stdin, allowed):
    # The tools that read logs or configs never need LangChain: they do not load it, and the
    # log readers load no config machinery either (start-up time: see docs/cli.md).
    done = subprocess.run(
        [sys.executable, "-c", _LOADED, *argv], input=stdin, capture_output=True, text=True, timeout=60
    )
    loaded = set(orjson.loads(done.stderr.strip().splitlines()[-1]))
    assert loaded <= allowed, f"{argv} loaded {sorted(loaded - allowed)}"


def test_check_config_warns_when_hashes_will_not_match_across_processes(tmp_path, monkeypatch):
    monkeypatch.delenv("LCLOG_HASH_KEY", raising=False)
    path = tmp_path / "hash.yaml"
    path.write_text("redaction:\n  modes: {email: hash}\n")
    done = run("check-config", str(path))
    assert done.returncode == 0 and "ok" in done.stdout
    assert "warning:" in done.stderr and "LCLOG_HASH_KEY" in done.stderr
    keyed = subprocess.run(
        [sys.executable, "-m", "lclog", "check-config", str(path)],
        capture_output=True, text=True, env={**os.environ, "LCLOG_HASH_KEY": "shared-secret"},
    )  # fmt: skip
    assert keyed.returncode == 0 and "warning" not in keyed.stderr


def test_redact_into_a_pipe_keeps_line_order_and_catches_a_key_spread_over_lines():
    lines = [f"line {i} mail jane{i}@corp.io" for i in range(5000)]
    lines[1000] = '{"token": "abc123def456", "n": 1}'  # JSON in the middle of text
    lines[3000:3000] = [
        "-----BEGIN PRIVATE KEY-----",
        "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
        "-----END PRIVATE KEY-----",
    ]
    proc = run("redact", stdin="\n".join(lines) + "\n")  # stdout is a pipe: redacted in blocks
    out = proc.stdout.splitlines()
    assert len(out) == len(lines) - 2  # the key's three lines became one marker line
    assert out[0] == "line 0 mail [REDACTED:email]" and out[-1] == "line 4999 mail [REDACTED:email]"
    assert out[1000] == '{"token":"[REDACTED:token]","n":1}'
    assert "[REDACTED:private_key]" in out[3000] and "MIIE" not in proc.stdout
