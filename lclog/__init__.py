"""lclog: structured, redacted JSON logs for every LangChain run."""

from lclog.config import ConfigError, Settings, load_config
from lclog.handler import LoggingCallbackHandler
from lclog.instrument import instrument, instrumented_handler, uninstrument
from lclog.redaction import Redactor

__all__ = [
    "ConfigError",
    "LoggingCallbackHandler",
    "Redactor",
    "Settings",
    "instrument",
    "instrumented_handler",
    "load_config",
    "uninstrument",
]
__version__ = "0.1.0"
