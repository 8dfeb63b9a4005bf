"""The stdlib bridge: events as records of a `logging` logger, fields as record attributes."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from typing import Any

from lclog.outputs.base import Item, Output

__all__ = ["StdlibOutput", "json_handler"]

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}
# LogRecord's own attributes: an event field of the same name is renamed `lclog_<name>`
# (`name`, the run's name, becomes `run_name`).
_RESERVED = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


def json_handler(stream: str = "stdout") -> logging.Handler:
    """A handler writing each record as one JSON object with python-json-logger (orjson backend)."""
    from pythonjsonlogger.orjson import OrjsonFormatter

    handler = logging.StreamHandler(getattr(sys, stream))
    handler.setFormatter(OrjsonFormatter("{message}", style="{"))
    return handler


class StdlibOutput(Output):
    """Sends each event to `logging.getLogger(logger)` at the event's level, fields in `extra`.

    With `formatter="json"` lclog attaches a python-json-logger handler to that logger (and stops
    propagation); with "none" the service's own logging configuration decides everything.
    """

    needs_events = True

    def __init__(self, logger: str = "lclog", formatter: str = "none", stream: str = "stdout") -> None:
        self.name = f"stdlib:{logger}"
        self.logger = logging.getLogger(logger)
        self._handler: logging.Handler | None = None
        self._told = False  # that the logger's level drops events (once)
        if formatter == "json":
            self._saved = (self.logger.level, self.logger.propagate)
            self._handler = json_handler(stream)
            self.logger.addHandler(self._handler)
            self.logger.setLevel(logging.DEBUG)
            self.logger.propagate = False

    def close(self) -> None:
        """Removes the handler lclog attached and gives the logger back its level and propagation."""
        handler, self._handler = self._handler, None
        if handler is not None:
            self.logger.removeHandler(handler)
            self.logger.setLevel(self._saved[0])
            self.logger.propagate = self._saved[1]
            handler.close()

    def _tell(self, level: int) -> None:
        """Says once, on stderr, that the logger's level drops lclog's events."""
        self._told = True
        name = self.logger.name
        print(
            f"lclog: output {self.name}: logger {name!r} is at "
            f"{logging.getLevelName(self.logger.getEffectiveLevel())}, so lclog's "
            f"{logging.getLevelName(level).lower()} events are not written; set its level: "
            f"logging.getLogger({name!r}).setLevel(logging.INFO)",
            file=sys.stderr,
        )

    def write(self, items: Sequence[Item]) -> None:
        log = self.logger
        for event, _ in items:
            level = _LEVELS.get(str(event.get("level") or event.get("log.level") or "info"), logging.INFO)
            if not log.isEnabledFor(level):
                if not self._told:
                    self._tell(level)
                continue
            extra: dict[str, Any] = {}
            for key, value in event.items():
                if key == "name":
                    key = "run_name"
                elif key in _RESERVED:
                    key = f"lclog_{key}"
                extra[key] = value
            message = event.get("event") or event.get("message") or event.get("body") or "lclog"
            log.log(level, message, extra=extra)
