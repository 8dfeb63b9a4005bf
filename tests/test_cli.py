"""The command line, run as a user would: a subprocess on the installed package."""

from __future__ import annotations

import subprocess
import sys

import orjson

from lclog.demo import DEMO_API_KEY, DEMO_EMAIL


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


def test_demo_pretty_shows_tree_and_metrics():
    proc = run("demo", "--format", "pretty")
    assert proc.returncode == 0, proc.stderr
    assert "== 4. a tool-calling agent" in proc.stdout
    assert "tool.error" in proc.stdout and "ConnectionError" in proc.stdout
    assert "== metrics" in proc.stdout and "starts" in proc.stdout


def test_demo_into_a_closed_pipe_exits_cleanly():
    proc = subprocess.run(
        f"{sys.executable} -m lclog demo --format json | head -1",
        shell=True, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert len(proc.stdout.splitlines()) == 1
    assert "Traceback" not in proc.stderr


def test_redact_text_json_and_explain():
    proc = run("redact", stdin=f"mail {DEMO_EMAIL}\n" + '{"password": "x", "note": "call 555-123-4567"}\n')
    assert proc.stdout.splitlines() == [
        "mail [REDACTED:email]",
        '{"password":"[REDACTED:password]","note":"call [REDACTED:phone]"}',
    ]
    proc = run("redact", "--explain", stdin=f"mail {DEMO_EMAIL}\n")
    assert proc.stdout.strip() == "email\t5-25\tjan…(20 chars)"


def test_check_config(tmp_path):
    assert run("check-config", "config/default.yaml").stdout.startswith("config/default.yaml: ok")
    bad = tmp_path / "bad.yaml"
    bad.write_text("redaction:\n  patterns:\n    - {name: x, regex: '(a)\\1'}\n")
    proc = run("check-config", str(bad))
    assert proc.returncode == 2 and "redaction.patterns.x" in proc.stderr
