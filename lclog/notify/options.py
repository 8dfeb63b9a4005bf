"""The notifier's options: the config's `notify` section and its targets."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from lclog._imports import IMPORT_PATH
from lclog._options import Options

__all__ = ["BudgetRule", "CallableTarget", "LogTarget", "NotifySettings", "NotifyTarget", "WebhookTarget"]


class WebhookTarget(Options):
    """POST each notification as JSON."""

    type: Literal["webhook"]
    url: str = Field(pattern=r"^https?://")
    format: Literal["generic", "slack"] = "generic"
    headers: dict[str, str] = {}
    # Every attempt and pause of one notification fits in the default flush_timeout_s (5 s):
    # 3 attempts of 1 s and pauses of 0.25 s and 0.5 s.
    timeout_s: float = Field(1.0, gt=0, le=120)
    retries: int = Field(2, ge=0, le=10)
    backoff_s: float = Field(0.25, ge=0, le=60)


class LogTarget(Options):
    """Log each notification on a stdlib logger at ERROR."""

    type: Literal["log"]
    logger: str = "lclog.notify"


class CallableTarget(Options):
    """Call "module:function" with each notification dict."""

    type: Literal["callable"]
    target: str = Field(pattern=IMPORT_PATH)


NotifyTarget = Annotated[WebhookTarget | LogTarget | CallableTarget, Field(discriminator="type")]


class BudgetRule(Options):
    """A spend limit: one request (`per: trace`), or one user, tenant or model within a rolling
    window, over `usd` dollars or `tokens` tokens, is notified once as it crosses the limit."""

    per: Literal["trace", "user", "tenant", "model"]
    usd: float | None = Field(None, gt=0)
    tokens: int | None = Field(None, gt=0)
    window_s: float = Field(3600.0, gt=0)  # per user, tenant or model: the spend of the last window_s

    @model_validator(mode="after")
    def _a_limit(self) -> BudgetRule:
        if self.usd is None and self.tokens is None:
            raise ValueError(
                f"a budget per {self.per} needs a limit: `usd: 5.0` (dollars) or `tokens: 100000`"
            )
        return self


class NotifySettings(Options):
    """Error notifications: off until a target is configured."""

    targets: list[NotifyTarget] = []
    on: list[Literal["llm", "chat_model", "tool", "retriever", "chain", "root"]] = [
        "llm",
        "chat_model",
        "tool",
        "retriever",
        "root",
    ]
    recovered: bool = False
    slow_ms: float | None = Field(None, gt=0)
    budgets: list[BudgetRule] = []
    min_interval_s: float = Field(60.0, ge=0)
    queue_size: int = Field(1000, ge=1)
