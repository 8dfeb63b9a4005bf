"""The demo says which agent it runs, and where its failure is notified."""

from __future__ import annotations

import sys

from langchain_core.messages import HumanMessage

from lclog.cli.demo import FakeToolChatModel, agent_kind, agent_messages, build_agent
from lclog.testing import capture


def test_without_langgraph_the_demo_says_its_agent_is_a_plain_loop(monkeypatch):
    assert "LangGraph graph" in agent_kind() and "agent > tools > lookup_order" in agent_kind()
    monkeypatch.setitem(sys.modules, "langgraph.graph", None)  # as if langgraph were not installed
    assert "plain tool loop" in agent_kind() and "agent > lookup_order" in agent_kind()
    agent = build_agent(FakeToolChatModel(messages=agent_messages()))
    with capture() as events:
        agent.invoke(
            {"messages": [HumanMessage("Where is order A-1001?")]}, config={"callbacks": [events.handler]}
        )
    (failed,) = events.named("tool.error")
    parent = {e["run_id"]: e for e in events.named("chain.start")}[failed["parent_run_id"]]
    assert failed["name"] == "lookup_order" and parent["name"] == "agent"  # the path the note names


def test_the_demo_tells_where_the_failure_is_notified(tmp_path):
    import subprocess

    config = tmp_path / "c.yaml"
    config.write_text("outputs: [{type: stdout, format: pretty}]\n")
    mine = subprocess.run(
        [sys.executable, "-m", "lclog", "demo", "--format", "pretty", "--config", str(config)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert "notified as your config's notify section says" in mine.stdout
    assert "lclog notification" not in mine.stderr  # no notify section: nothing is sent
    own = subprocess.run(
        [sys.executable, "-m", "lclog", "demo", "--format", "pretty"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "the demo's own setup: a log target with recovered: true" in own.stdout
    assert "lclog notification" in own.stderr
