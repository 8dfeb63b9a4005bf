"""The base of every settings model: unknown keys are errors, values are frozen."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["Options"]


class Options(BaseModel):
    """A settings model (a component's options, or the config that holds them)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
