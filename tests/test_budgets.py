"""Budget alerts: a request, a user, a tenant or a model over its limit is notified once, with the
real OpenAI client answering from a loopback stand-in of its API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.runnables import RunnableConfig, RunnableLambda

from lclog import LoggingCallbackHandler
from lclog.config import load_config
from lclog.errors import ConfigError
from lclog.events.runs import Run
from lclog.notify import summary
from lclog.notify.budgets import Budgets
from lclog.notify.options import BudgetRule
from tests.events.test_cost import by_hand
from tests.events.test_usage import JSON, chat_openai, openai_completion
from tests.loopback import LoopbackServer, Reply

SENT: list[dict[str, Any]] = []  # what the callable target received
# What one call of the stand-in API costs: 1,200 input tokens (1,024 cached) and 30 output.
CALL_USD = by_hand("gpt-4o-mini", 1200, 30, read=1024)


@pytest.fixture
def api() -> Iterator[LoopbackServer]:
    server = LoopbackServer("")
    yield server
    server.close()


def test_requests_users_and_models_over_budget_are_notified_once(api):
    SENT.clear()
    rules = [
        {"per": "trace", "usd": 1.5 * CALL_USD},  # a request's second call crosses it
        {"per": "user", "usd": 4.5 * CALL_USD, "window_s": 3600},  # u-1's fifth call
        {"per": "model", "usd": 7.5 * CALL_USD},  # the eighth call of the hour
        {"per": "tenant", "tokens": 100_000},  # never reached
    ]
    notify = {"targets": [{"type": "callable", "target": f"{__name__}:SENT.append"}], "budgets": rules}
    handler = LoggingCallbackHandler(service="support-bot", outputs=[], notify=notify)
    model = chat_openai(api)

    def request(question: str, config: RunnableConfig) -> str:
        model.invoke(question, config=config)
        return str(model.invoke(question, config=config).content)

    for user in ("u-1", "u-1", "u-1", "u-2"):
        api.script += [Reply(body=openai_completion(), headers=JSON)] * 2
        config: RunnableConfig = {"callbacks": [handler], "metadata": {"user_id": user, "tenant_id": "acme"}}
        RunnableLambda(request, name="request").invoke("Capital of France?", config)
    handler.close()
    budgets = [n for n in SENT if n["kind"] == "budget"]
    per = {}
    for n in budgets:
        per.setdefault(n["budget"]["per"], []).append(n)
    assert len(per["trace"]) == 4 and len({n["trace_id"] for n in per["trace"]}) == 4
    assert all(n["spent"]["usd"] == pytest.approx(2 * CALL_USD) for n in per["trace"])
    (user,) = per["user"]
    assert user["budget"] == {
        "per": "user",
        "name": "u-1",
        "usd": 4.5 * CALL_USD,
        "tokens": None,
        "window_s": 3600,
    }
    assert user["spent"] == {"usd": pytest.approx(5 * CALL_USD), "tokens": 5 * 1230}
    assert user["user_id"] == "u-1" and user["tenant_id"] == "acme" and user["service"] == "support-bot"
    line = "[support-bot] user u-1 spent $0.0006, 6150 tokens in 3600 s: over its budget of $0.000545"
    assert summary(user).startswith(line)
    (rate,) = per["model"]
    assert rate["budget"]["name"] == "gpt-4o-mini" and rate["spent"]["usd"] == pytest.approx(8 * CALL_USD)
    assert "tenant" not in per and handler.stats.notifications_sent == 6


def test_a_rolling_window_forgets_old_spend_and_alerts_again_after_falling_under():
    now = [0.0]
    raised: list[dict[str, Any]] = []
    budgets = Budgets(
        [BudgetRule(per="user", usd=1.0, window_s=60)],
        lambda kind, trace, details: raised.append(details),
        clock=lambda: now[0],
    )
    run = Run(__import__("uuid").uuid4(), "chat_model", "gpt")
    run.user = "u-1"
    for t, usd in ((0, 0.6), (10, 0.6), (20, 0.3), (75, 0.1), (80, 0.9), (90, 0.5)):
        now[0] = t
        budgets.charged(run, usd, 10)
    # crossed at t=10 (1.2); under again at t=75 (0.3 + 0.1: the first two fell out); crossed
    # again at t=80 (1.3); still over at t=90: one alert per crossing
    assert [round(d["spent"]["usd"], 6) for d in raised] == [1.2, 1.3]


def test_a_budget_without_a_limit_fails_at_load():
    with pytest.raises(ConfigError, match=r"notify\.budgets\.0.*needs a limit: `usd: 5\.0`"):
        load_config({"notify": {"budgets": [{"per": "user"}]}})
    with pytest.raises(ConfigError, match=r"notify\.budgets\.0\.per"):
        load_config({"notify": {"budgets": [{"per": "team", "usd": 1}]}})
