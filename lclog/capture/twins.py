"""Handlers built from the same settings log each run once between them (installed twice, e.g.
by `instrument()` and in `callbacks=`): the first to see a run's start claims it."""

from __future__ import annotations

from uuid import UUID

__all__ = ["claim", "count", "joined", "left", "release"]

# settings key -> [live handlers built from them]: a cell each handler keeps, read in every hook
_twins: dict[str, list[int]] = {}
_claims: dict[UUID, object] = {}  # run id -> the handler logging it
_MAX_CLAIMS = 100_000


def joined(key: str) -> list[int]:
    """A handler with these settings was created; returns the cell holding how many live
    handlers share them (`cell[0] > 1`: twins, without a call)."""
    cell = _twins.setdefault(key, [0])
    cell[0] += 1
    return cell


def left(key: str) -> None:
    """A handler with these settings was closed."""
    cell = _twins.setdefault(key, [1])
    cell[0] -= 1


def count(key: str) -> int:
    """Live handlers built from these settings."""
    cell = _twins.get(key)
    return cell[0] if cell is not None else 0


def claim(run_id: UUID, handler: object) -> object:
    """The handler that logs this run: the first to claim it."""
    if len(_claims) > _MAX_CLAIMS:  # runs that never ended: forget the oldest claims
        for key in list(_claims)[:10_000]:
            _claims.pop(key, None)
    return _claims.setdefault(run_id, handler)


def release(run_id: UUID) -> None:
    """The run ended: its claim is no longer needed."""
    _claims.pop(run_id, None)
