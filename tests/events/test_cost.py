"""What each LLM call cost, through real LangChain runs whose usage is known, checked against the
providers' published prices per million tokens computed by hand."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage
from langchain_core.outputs import ChatGenerationChunk

from lclog.config import load_config
from lclog.errors import ConfigError
from lclog.testing import capture

pytest.importorskip("genai_prices")


class Provider(GenericFakeChatModel):
    """A fake chat model LangChain reports as a given provider's model (as ChatOpenAI,
    ChatAnthropic ... do through `ls_provider` and `ls_model_name`)."""

    provider: str = "openai"
    model_name: str = "gpt-4o-mini"

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> Any:
        params = super()._get_ls_params(stop=stop, **kwargs)
        return {**params, "ls_provider": self.provider, "ls_model_name": self.model_name}


def answer(usage: dict[str, Any], model: str) -> AIMessage:
    return AIMessage("done", usage_metadata=usage, response_metadata={"model_name": model})


def one_call(model: GenericFakeChatModel, **config: Any) -> tuple[dict[str, Any], Any]:
    with capture(**config) as events:
        model.invoke("hi", config={"callbacks": [events.handler]})
    (end,) = events.named("chat_model.end")
    return end, events.handler


# The providers' published prices, USD per million tokens: (input, output, cache read, cache write)
PUBLISHED = {
    "gpt-4o-mini": (0.15, 0.60, 0.075, None),
    "o3-mini": (1.10, 4.40, 0.55, None),
    "claude-3-5-haiku-latest": (0.80, 4.00, 0.08, 1.00),
}


def by_hand(model: str, inp: int, out: int, read: int = 0, write: int = 0) -> float:
    p_in, p_out, p_read, p_write = PUBLISHED[model]
    return ((inp - read - write) * p_in + read * p_read + write * (p_write or p_in) + out * p_out) / 1e6


def test_openai_shaped_usage_with_cache_reads_and_reasoning():
    usage = {
        "input_tokens": 12_000,
        "output_tokens": 3_000,
        "total_tokens": 15_000,
        "input_token_details": {"cache_read": 8_000},
        "output_token_details": {"reasoning": 2_000},  # part of the output tokens, priced as output
    }
    for model in ("gpt-4o-mini", "o3-mini"):
        end, handler = one_call(Provider(messages=iter([answer(usage, model)]), model_name=model))
        cost = end["cost"]
        assert cost["total"] == pytest.approx(by_hand(model, 12_000, 3_000, read=8_000), rel=1e-9)
        assert cost["input"] + cost["output"] == pytest.approx(cost["total"])
        assert cost["currency"] == "USD" and cost["source"].startswith("genai-prices ")
        assert handler.stats.unpriced_calls == 0


def test_anthropic_shaped_usage_with_cache_reads_and_writes():
    model = "claude-3-5-haiku-latest"
    usage = {
        "input_tokens": 10_000,  # LangChain counts cache reads and writes in the input tokens
        "output_tokens": 500,
        "total_tokens": 10_500,
        "input_token_details": {"cache_read": 6_000, "cache_creation": 2_000},
    }
    chat = Provider(messages=iter([answer(usage, model)]), provider="anthropic", model_name=model)
    end, _ = one_call(chat)
    assert end["cost"]["total"] == pytest.approx(
        by_hand(model, 10_000, 500, read=6_000, write=2_000), rel=1e-9
    )


def test_an_unknown_model_or_no_usage_is_unpriced_and_counted():
    unknown = Provider(
        messages=iter([answer({"input_tokens": 5, "output_tokens": 1, "total_tokens": 6}, "x")])
    )
    unknown.model_name = "house-model-7b"
    end, handler = one_call(unknown)
    assert end["cost"] is None and handler.stats.unpriced_calls == 1
    silent = Provider(messages=iter([AIMessage("done")]))  # reports no usage
    end, handler = one_call(silent)
    assert end["cost"] is None and handler.stats.unpriced_calls == 1


def test_your_prices_win_and_alias_a_deployment():
    usage = {"input_tokens": 2_000_000, "output_tokens": 1_000_000, "total_tokens": 3_000_000}
    prices = {
        "house-model-7b": {"input": 0.2, "output": 0.4},
        "gpt-4o-mini": {"input": 0.1, "output": 0.5},  # a negotiated rate
        "prod-mini-deployment": {"same_as": "o3-mini"},
    }
    expected = {
        "house-model-7b": 0.2 * 2 + 0.4,
        "gpt-4o-mini": 0.1 * 2 + 0.5,
        "prod-mini-deployment": 1.1 * 2 + 4.4,
    }
    for model, total in expected.items():
        chat = Provider(messages=iter([answer(usage, model)]), provider="azure", model_name=model)
        end, _ = one_call(chat, prices=prices)
        assert end["cost"]["total"] == pytest.approx(total)
        # an alias is priced from the database, like the model it names
        assert end["cost"]["source"] == "config" or model == "prod-mini-deployment"


def test_a_failed_stream_is_priced_from_its_partial_usage():
    class Breaks(Provider):
        def _stream(
            self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any
        ) -> Iterator[Any]:
            usage = {"input_tokens": 100_000, "output_tokens": 300, "total_tokens": 100_300}
            yield ChatGenerationChunk(message=AIMessageChunk(content="par", usage_metadata=usage))
            raise ConnectionError("stream cut")

    with capture() as events, pytest.raises(ConnectionError):
        for _ in Breaks(messages=iter([])).stream("hi", config={"callbacks": [events.handler]}):
            pass
    (error,) = events.named("chat_model.error")
    assert error["cost"]["total"] == pytest.approx(by_hand("gpt-4o-mini", 100_000, 300), rel=1e-9)


def test_an_agents_calls_add_up_in_handler_metrics():
    pytest.importorskip("langgraph")
    from lclog.cli.demo import agent_messages, build_agent

    class ToolCalling(Provider):
        def bind_tools(self, tools: Any, **kwargs: Any) -> ToolCalling:
            return self

    agent = build_agent(ToolCalling(messages=agent_messages()))  # three calls: 42/12, 60/14, 85/17 tokens
    with capture() as events:
        agent.invoke(
            {"messages": [HumanMessage("Weather in Paris?")]}, config={"callbacks": [events.handler]}
        )
    ends = events.named("chat_model.end")
    expected = [by_hand("gpt-4o-mini", i, o) for i, o in ((42, 12), (60, 14), (85, 17))]
    assert [e["cost"]["total"] for e in ends] == pytest.approx(expected)
    totals = events.handler.metrics.snapshot()["chat_model"]["gpt-4o-mini"]
    assert totals["priced"] == 3 and totals["cost_usd"] == pytest.approx(sum(expected))


def test_bad_prices_fail_at_load_naming_the_model_and_the_fix():
    with pytest.raises(ConfigError, match=r"prices\.my-model.*needs `input` and `output`"):
        load_config(None, prices={"my-model": {"input": 1.0}})
    with pytest.raises(ConfigError, match=r"prices\.my-model\.output"):
        load_config(None, prices={"my-model": {"input": 1.0, "output": -2}})
    with pytest.raises(ConfigError, match="same_as"):
        load_config(None, prices={"alias": {"same_as": "gpt-4o", "input": 1.0}})


def test_lclog_stats_sums_cost_per_model(tmp_path: Any, capsys: pytest.CaptureFixture[str]):
    from lclog.cli.main import main

    usage = {"input_tokens": 10_000, "output_tokens": 2_000, "total_tokens": 12_000}
    chat = Provider(messages=iter([answer(usage, "gpt-4o-mini")] * 3))
    unknown = Provider(messages=iter([answer(usage, "house-model-7b")]), model_name="house-model-7b")
    with capture() as events:
        for _ in range(3):
            chat.invoke("hi", config={"callbacks": [events.handler]})
        unknown.invoke("hi", config={"callbacks": [events.handler]})
    path = tmp_path / "log.jsonl"
    path.write_bytes(b"".join(events.lines))
    assert main(["stats", "--json", str(path)]) == 0
    rows = json.loads(capsys.readouterr().out)
    one = by_hand("gpt-4o-mini", 10_000, 2_000)
    assert rows["chat_model gpt-4o-mini"]["cost_usd"] == pytest.approx(3 * one)
    assert rows["chat_model gpt-4o-mini"]["cost_per_call_usd"] == pytest.approx(one)
    assert rows["chat_model house-model-7b"]["cost_usd"] is None  # unknown, not free
    assert main(["stats", str(path)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert "cost $" in table[0] and "$/call" in table[0]
    row = next(line for line in table if line.startswith("chat_model gpt-4o-mini"))
    assert row.split()[-2:] == [f"{3 * one:.6f}", f"{one:.6f}"]


def test_pretty_shows_what_a_call_cost():
    from lclog.outputs.pretty import render_pretty

    usage = {"input_tokens": 10_000, "output_tokens": 2_000, "total_tokens": 12_000}
    end, _ = one_call(Provider(messages=iter([answer(usage, "gpt-4o-mini")])))
    assert f"${by_hand('gpt-4o-mini', 10_000, 2_000):.6f}" in render_pretty(end)
