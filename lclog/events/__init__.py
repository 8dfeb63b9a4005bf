"""Capture -> event: the event vocabulary, serialization, routing by level and run metrics."""
