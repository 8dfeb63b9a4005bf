"""Budget alerts: what requests, users, tenants and models spend, against `notify.budgets`.

Each priced model call is charged to its trace, its user, its tenant and its model; a rule's
spend is the trace's so far, or the last `window_s` seconds' of a user, tenant or model. A
notification is raised once as the spend crosses the limit, and again only after it fell back
under it (a rolling window empties). Called as model runs end, in the writer thread: it keeps
small sums and hands notifications on.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from lclog.events.runs import Run
from lclog.notify.options import BudgetRule

__all__ = ["Budgets"]

# Traces, users, tenants and models followed per rule at most; past it the oldest is forgotten.
MAX_KEYS = 10_000


class _Spend:
    __slots__ = ("calls", "crossed", "tokens", "usd")

    def __init__(self) -> None:
        self.calls: deque[tuple[float, float, int]] = deque()  # (time, usd, tokens)
        self.usd = 0.0
        self.tokens = 0
        self.crossed = False


def _key(rule: BudgetRule, run: Run) -> str | None:
    if rule.per == "trace":
        return run.trace_id
    if rule.per == "user":
        return run.user
    if rule.per == "tenant":
        return run.tenant
    return run.model


class Budgets:
    """The spend each rule follows; `submit(kind, trace_id, details)` raises a notification."""

    def __init__(
        self,
        rules: Sequence[BudgetRule],
        submit: Callable[[str, str, dict[str, Any]], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rules = list(rules)
        self._submit = submit
        self._clock = clock
        self._spend: list[dict[str, _Spend]] = [{} for _ in self._rules]

    def charged(self, run: Run, usd: float, tokens: int) -> None:
        """A model call of `run` cost `usd` and used `tokens`."""
        now = self._clock()
        for rule, spends in zip(self._rules, self._spend, strict=True):
            key = _key(rule, run)
            if key is None:
                continue
            spend = spends.get(key)
            if spend is None:
                spend = spends[key] = _Spend()
                if len(spends) > MAX_KEYS:
                    spends.pop(next(iter(spends)))
            spend.usd += usd
            spend.tokens += tokens
            if rule.per != "trace":
                spend.calls.append((now, usd, tokens))
                self._expire(spend, now - rule.window_s)
            over = (rule.usd is not None and spend.usd > rule.usd) or (
                rule.tokens is not None and spend.tokens > rule.tokens
            )
            if over and not spend.crossed:
                self._submit("budget", run.trace_id, self._details(rule, key, spend, run))
            spend.crossed = over

    @staticmethod
    def _expire(spend: _Spend, before: float) -> None:
        calls = spend.calls
        while calls and calls[0][0] < before:
            _, usd, tokens = calls.popleft()
            spend.usd -= usd
            spend.tokens -= tokens

    @staticmethod
    def _details(rule: BudgetRule, key: str, spend: _Spend, run: Run) -> dict[str, Any]:
        budget: dict[str, Any] = {"per": rule.per, "name": key, "usd": rule.usd, "tokens": rule.tokens}
        if rule.per != "trace":
            budget["window_s"] = rule.window_s
        return {
            "budget": budget,
            "spent": {"usd": round(spend.usd, 10), "tokens": spend.tokens},
            "run": {"type": run.run_type, "name": run.name, "run_id": run.id, "model": run.model},
            "user_id": run.user,
            "tenant_id": run.tenant,
        }
