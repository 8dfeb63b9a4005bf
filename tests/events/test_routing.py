"""Volume control decisions: presets, overrides, sampling and the minimum level."""

from __future__ import annotations

import uuid

import pytest

from lclog.events.routing import Router, sampled


@pytest.mark.parametrize(
    ("verbosity", "event", "default", "root", "expected"),
    [
        ("full", "chain.start", "info", False, "info"),
        ("standard", "chain.start", "info", False, None),  # internal chain -> debug, below info
        ("standard", "chain.start", "info", True, "info"),
        ("standard", "tool.end", "info", False, "info"),
        ("minimal", "chat_model.start", "info", False, None),
        ("minimal", "chat_model.end", "info", False, "info"),
        ("minimal", "chain.end", "info", True, "info"),
        ("minimal", "chain.error", "error", False, "error"),
        ("minimal", "retry", "warning", False, "warning"),
    ],
)
def test_presets(verbosity, event, default, root, expected):
    assert Router(verbosity, {}, "info").level(event, default, root=root) == expected


def test_overrides_and_min_level():
    router = Router("full", {"chain.start": "drop", "retry": "error", "text": "debug"}, "warning")
    assert router.level("chain.start", "info", root=True) is None
    assert router.level("retry", "warning", root=False) == "error"
    assert router.level("chain.end", "info", root=True) is None  # below warning
    assert Router("full", {}, "debug").level("text", "debug", root=False) == "debug"


def test_sampling_is_deterministic_and_keeps_errors():
    ids = [str(uuid.uuid4()) for _ in range(2000)]
    kept = [t for t in ids if sampled(t, 0.25)]
    assert kept == [t for t in ids if sampled(t, 0.25)]
    assert 350 < len(kept) < 650
    router = Router("full", {}, "info")
    assert router.level("chain.end", "info", root=True, sampled=False) is None
    assert router.level("chain.error", "error", root=True, sampled=False) == "error"
    assert all(sampled(t, 1.0) for t in ids) and not any(sampled(t, 0.0) for t in ids)
    # A run's UUID and its text form decide alike (the hook passes the UUID).
    assert [t for t in ids if sampled(uuid.UUID(t), 0.25)] == kept


def test_by_default_chain_runs_below_the_root_are_debug_but_a_failure_keeps_its_ancestors_ends():
    """verbosity: standard (the default): the root, model and tool runs are written; a graph's
    nodes and routing functions are not — except the end of a node a failed tool ran in."""
    from langchain_core.messages import HumanMessage

    from lclog.cli.demo import FakeToolChatModel, agent_messages, build_agent
    from lclog.testing import capture

    agent = build_agent(FakeToolChatModel(messages=agent_messages()))
    question = {"messages": [HumanMessage("Weather in Paris, and where is order A-1001?")]}
    with capture() as events:
        agent.invoke(question, config={"callbacks": [events.handler]})
    assert events.handler.settings.verbosity == "standard"
    written = [(e["event"], e["name"], e["depth"]) for e in events]
    assert ("chain.start", "agent", 0) in written and ("chain.end", "agent", 0) in written
    assert {"chat_model.start", "chat_model.end", "tool.start", "tool.end", "tool.error", "trace.end"} <= {
        event for event, _, _ in written
    }
    below = [(event, name) for event, name, depth in written if event.startswith("chain.") and depth > 0]
    # the `tools` step whose tool failed ends where it can be read; no other chain below the root
    assert below == [("chain.end", "tools")]
    (failed,) = [e for e in events if e["event"] == "tool.error"]
    (step,) = [e for e in events if e["event"] == "chain.end" and e["depth"] > 0]
    assert failed["parent_run_id"] == step["run_id"]
    with capture(verbosity="full") as every:
        build_agent(FakeToolChatModel(messages=agent_messages())).invoke(
            question, config={"callbacks": [every.handler]}
        )
    assert len(every) > 2 * len(events)
