"""Error notifications: one per failed trace, deduplicated, delivered by a background thread
(notifier.py), to the targets the options name (options.py)."""

from lclog.notify.notifier import Alerts, Notifier, summary

__all__ = ["Alerts", "Notifier", "summary"]
