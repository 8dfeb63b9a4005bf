"""lclog: structured, redacted JSON logs for every LangChain run."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lclog.capture.context import RunContextFilter, current_run
    from lclog.capture.handler import LoggingCallbackHandler
    from lclog.config import ConfigError, Settings, load_config
    from lclog.instrument import instrument, instrumented_handler, uninstrument
    from lclog.outputs.base import FileOutput, MemoryOutput, Output
    from lclog.outputs.structlogger import StructlogOutput
    from lclog.pipeline.processors import Processor
    from lclog.redact.redactor import Redactor

__all__ = [
    "ConfigError",
    "FileOutput",
    "LoggingCallbackHandler",
    "MemoryOutput",
    "Output",
    "Processor",
    "Redactor",
    "RunContextFilter",
    "Settings",
    "StructlogOutput",
    "current_run",
    "instrument",
    "instrumented_handler",
    "load_config",
    "uninstrument",
]
__version__ = "0.1.0"

# Each public name is imported on first use, so that `import lclog` and the command-line tools
# that need no LangChain (redact, pretty, stats, check-config) do not load it.
_HOMES = {
    "ConfigError": "lclog.config",
    "Settings": "lclog.config",
    "load_config": "lclog.config",
    "LoggingCallbackHandler": "lclog.capture.handler",
    "instrument": "lclog.instrument",
    "instrumented_handler": "lclog.instrument",
    "uninstrument": "lclog.instrument",
    "Redactor": "lclog.redact.redactor",
    # Your own log lines, joined to the run they were written in.
    "RunContextFilter": "lclog.capture.context",
    "current_run": "lclog.capture.context",
    # Extension points: your own outputs and processors.
    "Output": "lclog.outputs.base",
    "FileOutput": "lclog.outputs.base",
    "MemoryOutput": "lclog.outputs.base",
    "StructlogOutput": "lclog.outputs.structlogger",
    "Processor": "lclog.pipeline.processors",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'lclog' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOMES])
