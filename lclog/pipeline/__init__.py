"""Event -> line: your processors, the field layout (ecs, otel, in the conventions' terms of
genai.py) and the JSON rendering."""
