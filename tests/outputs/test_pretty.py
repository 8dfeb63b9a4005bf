"""The pretty view: one line per event that fits the terminal, whatever layout the log is in."""

from __future__ import annotations

import orjson
import pytest

from lclog.cli.demo import run_demo
from lclog.cli.lines import parse
from lclog.outputs.pretty import render_pretty
from lclog.pipeline.layouts import to_ecs, to_otel
from lclog.testing import capture


@pytest.fixture(scope="module")
def demo_events() -> list[dict]:
    with capture() as events:
        run_demo([events.handler], say=lambda _: None)
    return list(events)


def test_lines_fit_the_width_they_are_given(demo_events):
    for event in demo_events:
        line = render_pretty(event, width=80)
        assert len(line) <= 80
        assert render_pretty(event).startswith(line[:-1])  # the same line, cut


def test_graph_runs_show_their_node_and_step(demo_events):
    inside = [e for e in demo_events if e.get("node")]
    assert inside
    for event in inside:
        assert f"[{event['node']}:{event['step']}]" in render_pretty(event)


@pytest.mark.parametrize("layout", [to_ecs, to_otel], ids=["ecs", "otel"])
def test_ecs_and_otel_logs_read_like_the_default_layout(demo_events, layout):
    for event in demo_events:
        back = parse(orjson.dumps(layout(event)))
        assert back is not None
        # Same event, name, node, timing and content preview as the default layout shows.
        assert render_pretty(back, width=400) == render_pretty(event, width=400), event["event"]
