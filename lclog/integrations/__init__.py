"""What lclog does with other libraries when they are present (OpenTelemetry)."""
