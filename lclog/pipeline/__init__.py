"""Event -> line: your processors, the field layout (ecs, otel) and the JSON rendering."""

from lclog.pipeline.processors import Pipeline, Processor

__all__ = ["Pipeline", "Processor"]
