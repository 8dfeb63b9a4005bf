"""Who spent what: the user, tenant and conversation of a request on every event of its trace,
`lclog stats --by user|tenant|thread` over real logs, and each model call priced once."""

from __future__ import annotations

import asyncio
import gzip
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import RunnableConfig, RunnableLambda, RunnableParallel
from langchain_core.tools import tool

from lclog import LoggingCallbackHandler
from lclog.testing import capture
from tests.events.test_cost import Provider, by_hand

pytest.importorskip("genai_prices")


def usage(i: int, o: int, cached: int = 0, reasoning: int = 0) -> dict[str, Any]:
    return {
        "input_tokens": i,
        "output_tokens": o,
        "total_tokens": i + o,
        "input_token_details": {"cache_read": cached},
        "output_token_details": {"reasoning": reasoning},
    }


def model(*usages: dict[str, Any]) -> Provider:
    answers = iter(
        AIMessage("ok", usage_metadata=u, response_metadata={"model_name": "gpt-4o-mini"}) for u in usages
    )
    return Provider(messages=answers)


def test_every_event_of_a_trace_says_whose_it_is_even_from_other_threads_and_tasks():
    @tool
    def lookup(order: str) -> str:
        """Looks an order up (sync: in an executor thread under asyncio)."""
        return "shipped"

    chat = model(usage(10, 2), usage(10, 2))

    async def work(x: str, config: RunnableConfig) -> str:
        await chat.ainvoke(x, config=config)
        return await lookup.ainvoke({"order": x}, config=config)

    chain = RunnableParallel(a=RunnableLambda(work), b=RunnableLambda(work))
    config: RunnableConfig = {"metadata": {"user_id": "u-42", "org_id": "acme", "team": "support"}}
    with capture(verbosity="full") as events:
        config["callbacks"] = [events.handler]
        asyncio.run(chain.ainvoke("A-1", config=config))
    assert len(events) > 10
    assert all(e["user_id"] == "u-42" and e["tenant_id"] == "acme" for e in events)
    root = next(e for e in events if e["event"] == "chain.start" and e["depth"] == 0)
    assert root["metadata"] == {"team": "support"}  # the keys that named them are fields now
    (end,) = events.named("trace.end")
    assert end["user_id"] == "u-42" and end["tenant_id"] == "acme"


def test_users_are_redacted_by_the_same_rules_and_a_keyed_hash_still_groups_them():
    config = {"redaction": {"fields": {"user_id": "hash"}, "hash_key": "k-1"}}
    hashes = []
    for _ in range(2):  # two handlers, as two processes would be
        with capture(**config) as events:
            RunnableLambda(lambda x: x, name="r").invoke(
                1, {"callbacks": [events.handler], "metadata": {"user_id": "ada"}}
            )
        hashes.append(events[0]["user_id"])
    assert hashes[0] == hashes[1] and hashes[0].startswith("[user_id:") and "ada" not in hashes[0]
    with capture() as events:
        config2: RunnableConfig = {"callbacks": [events.handler], "metadata": {"user": "ada@example.com"}}
        RunnableLambda(lambda x: x, name="r").invoke(1, config2)
    assert events[0]["user_id"] == "[REDACTED:email]"


def lclog_stats(*args: str, stdin: bytes | None = None) -> Any:
    done = subprocess.run(
        [sys.executable, "-m", "lclog", "stats", "--json", *args],
        input=stdin,
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_stats_by_user_tenant_and_thread_over_files_gzip_and_stdin(tmp_path: Path):
    path = tmp_path / "app.jsonl"
    handler = LoggingCallbackHandler({"outputs": [{"type": "file", "path": str(path)}]})
    requests = [  # (user, tenant, thread, the model's usage per call)
        ("ada", "acme", "t-1", [usage(1000, 100, cached=400), usage(1200, 50, reasoning=30)]),
        ("ada", "acme", "t-2", [usage(500, 20)]),
        ("bob", "acme", "t-3", [usage(2000, 300, cached=1000, reasoning=200)]),
        ("cy", "globex", "t-4", [usage(100, 10)]),
    ]
    for user, tenant, thread, calls in requests:
        chat = model(*calls)

        def request(x: str, config: RunnableConfig, chat: Any = chat, n: int = len(calls)) -> str:
            for _ in range(n):
                chat.invoke(x, config=config)
            return x

        metadata = {"user_id": user, "tenant_id": tenant, "thread_id": thread}
        RunnableLambda(request, name="request").invoke("hi", {"callbacks": [handler], "metadata": metadata})
    chat = model(usage(50, 5))  # a lone model call: a request of one run
    chat.invoke("hi", {"callbacks": [handler], "metadata": {"user_id": "cy", "tenant_id": "globex"}})
    handler.close()

    def priced(*calls: dict[str, Any]) -> float:
        return sum(
            by_hand(
                "gpt-4o-mini", c["input_tokens"], c["output_tokens"], c["input_token_details"]["cache_read"]
            )
            for c in calls
        )

    by_user = lclog_stats("--by", "user", str(path))
    assert {k: v["calls"] for k, v in by_user.items()} == {"ada": 2, "bob": 1, "cy": 2}  # requests
    ada = by_user["ada"]
    assert (ada["input_tokens"], ada["cached_tokens"], ada["output_tokens"], ada["reasoning_tokens"]) == (
        2700,
        400,
        170,
        30,
    )
    assert ada["cost_usd"] == pytest.approx(priced(*requests[0][3], *requests[1][3]))
    assert by_user["cy"]["cost_usd"] == pytest.approx(priced(requests[3][3][0], usage(50, 5)))
    # rotated and compressed, and from stdin: the same
    gz = tmp_path / "app.jsonl.1.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    assert lclog_stats("--by", "tenant", str(gz)) == lclog_stats("--by", "tenant", stdin=path.read_bytes())
    by_tenant = lclog_stats("--by", "tenant", str(gz))
    assert by_tenant["acme"]["calls"] == 3 and by_tenant["globex"]["calls"] == 2
    assert lclog_stats("--by", "thread", str(path))["t-1"]["output_tokens"] == 150
    # a combination with a run grouping counts runs: here, model calls per user
    by_user_model = lclog_stats("--by", "user,model", str(path))
    assert by_user_model["ada / chat_model gpt-4o-mini"]["calls"] == 3


def test_stats_by_user_counts_the_requests_sampling_dropped_from_their_trace_end(tmp_path: Path):
    path = tmp_path / "app.jsonl"
    config = {"sampling": {"rate": 0.0}, "outputs": [{"type": "file", "path": str(path)}]}
    handler = LoggingCallbackHandler(config)
    for k in range(6):
        chat = model(usage(100, 10))
        request = RunnableLambda(
            lambda x, config, chat=chat: chat.invoke(x, config=config).content, name="request"
        )
        request.invoke("hi", {"callbacks": [handler], "metadata": {"user_id": f"u-{k % 2}"}})
    handler.close()
    rows = lclog_stats("--by", "user", str(path))
    assert rows.pop("coverage")["kept_whole"] == 0
    assert {k: (v["calls"], v["input_tokens"]) for k, v in rows.items()} == {"u-0": (3, 300), "u-1": (3, 300)}


class Wrapper(BaseChatModel):
    """A chat model that answers through another one (a router, a cache, a fallback)."""

    inner: Any

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> Any:
        answer = self.inner.invoke(messages)  # LangChain passes the callbacks on to it
        return ChatResult(generations=[ChatGeneration(message=answer)])  # its usage, passed on

    @property
    def _llm_type(self) -> str:
        return "wrapper"


def test_a_model_call_made_by_a_wrapping_model_is_priced_once():
    inner = model(usage(1000, 200))
    outer = Wrapper(inner=inner)
    with capture(verbosity="full") as events:
        RunnableLambda(lambda x, config: outer.invoke(x, config=config).content, name="request").invoke(
            "hi", {"callbacks": [events.handler]}
        )
    ends = events.named("chat_model.end")
    (wrapper,) = [e for e in ends if e["name"] == "Wrapper"]
    (call,) = [e for e in ends if e["name"] == "Provider"]
    assert call["cost"]["total"] == pytest.approx(by_hand("gpt-4o-mini", 1000, 200))
    assert wrapper["cost"] is None and wrapper["usage"] is None and wrapper["counted_below"] is True
    (end,) = events.named("trace.end")
    assert end["usage"]["input_tokens"] == 1000 and end["cost"]["total"] == pytest.approx(
        call["cost"]["total"]
    )
    assert events.handler.stats.unpriced_calls == 0
    # the trace's total is the sum of its own model calls
    model_costs = [e["cost"]["total"] for e in ends if e["cost"]]
    assert end["cost"]["total"] == pytest.approx(sum(model_costs))


def test_a_second_handler_with_the_same_settings_logs_and_prices_each_call_once(tmp_path: Path):
    path = tmp_path / "app.jsonl"
    config = {"outputs": [{"type": "file", "path": str(path)}]}
    first, second = LoggingCallbackHandler(config), LoggingCallbackHandler(config)
    model(usage(1000, 200)).invoke("hi", {"callbacks": [first, second]})
    first.close()
    second.close()
    ends = [json.loads(line) for line in path.read_text().splitlines() if '"chat_model.end"' in line]
    assert len(ends) == 1 and ends[0]["cost"]["total"] == pytest.approx(by_hand("gpt-4o-mini", 1000, 200))


def test_prompts_of_one_generate_call_are_each_priced():
    from langchain_core.messages import HumanMessage

    chat = model(usage(1000, 200), usage(3000, 100))
    with capture(verbosity="full") as events:
        chat.generate([[HumanMessage("a")], [HumanMessage("b")]], callbacks=[events.handler])
    costs = sorted(e["cost"]["total"] for e in events.named("chat_model.end"))
    assert costs == pytest.approx(
        sorted([by_hand("gpt-4o-mini", 1000, 200), by_hand("gpt-4o-mini", 3000, 100)])
    )
