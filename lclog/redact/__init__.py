"""Redaction: the rules, the scanner that finds them, and the Redactor that applies them."""

from lclog.redact.redactor import Redactor

__all__ = ["Redactor"]
