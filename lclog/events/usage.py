"""What a model's response (an LLMResult) says of the call: token usage, finish reason, model."""

from __future__ import annotations

from typing import Any

__all__ = ["reported_by", "usage_of"]


def usage_of(response: Any) -> tuple[dict[str, int] | None, str | None]:
    """Token usage and where it came from: AIMessage.usage_metadata, else llm_output.

    (None, None) when the response reports none: unknown is never written as zero.
    """
    totals: dict[str, int] = {}
    for generations in getattr(response, "generations", None) or []:
        for gen in generations:
            usage = getattr(getattr(gen, "message", None), "usage_metadata", None)
            if usage:
                for key in ("input_tokens", "output_tokens", "total_tokens"):
                    totals[key] = totals.get(key, 0) + int(usage.get(key) or 0)
                for side in ("input", "output"):  # cache reads, reasoning, audio ...
                    for k, v in (usage.get(f"{side}_token_details") or {}).items():
                        if isinstance(v, int):
                            totals[f"{side}_{k}_tokens"] = totals.get(f"{side}_{k}_tokens", 0) + v
    if totals:
        return totals, "usage_metadata"
    llm_output = getattr(response, "llm_output", None) or {}
    raw = llm_output.get("token_usage") or llm_output.get("usage")
    if isinstance(raw, dict):
        inp = raw.get("prompt_tokens", raw.get("input_tokens"))
        out = raw.get("completion_tokens", raw.get("output_tokens"))
        if isinstance(inp, int) or isinstance(out, int):
            usage = {"input_tokens": int(inp or 0), "output_tokens": int(out or 0)}
            usage["total_tokens"] = int(
                raw.get("total_tokens") or usage["input_tokens"] + usage["output_tokens"]
            )
            return usage, "llm_output"
    return None, None


def _finish_and_model(response: Any) -> tuple[str | None, str | None]:
    for generations in getattr(response, "generations", None) or []:
        for gen in generations:
            info = getattr(gen, "generation_info", None) or {}
            meta = getattr(getattr(gen, "message", None), "response_metadata", None) or {}
            reason = info.get("finish_reason") or meta.get("finish_reason") or meta.get("stop_reason")
            model = meta.get("model_name") or meta.get("model")
            return (str(reason) if reason else None), (str(model) if model else None)
    return None, None


def reported_by(response: Any) -> tuple[Any, ...]:
    """What an LLMResult says, as plain values: (usage, usage source, finish reason, model)."""
    usage, source = usage_of(response)
    return (usage, source, *_finish_and_model(response))
