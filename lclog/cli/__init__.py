"""The `lclog` command: demo, redact, pretty, stats, check-config."""

from lclog.cli.main import main

__all__ = ["main"]
