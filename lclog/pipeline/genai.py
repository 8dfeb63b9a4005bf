"""lclog's values in the OpenTelemetry GenAI semantic conventions' terms, and back.

Messages become `{"role", "parts": [...]}` (text, tool calls, tool results), providers the
conventions' well-known names, operations their operation names, token counts their usage
attributes. The versions followed are named in tests/data/specs/README.md.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "OPERATIONS",
    "PROVIDERS",
    "USAGE",
    "from_messages",
    "is_marker",
    "is_message",
    "provider_name",
    "split_markers",
    "to_messages",
    "to_output_messages",
]

# run_type -> gen_ai.operation.name; chains are no GenAI operation and carry none.
OPERATIONS = {
    "chat_model": "chat",
    "llm": "text_completion",
    "tool": "execute_tool",
    "retriever": "retrieval",
}
# LangChain's provider names (`ls_provider`) -> gen_ai.provider.name's well-known values. Others
# (ollama, fake models ...) are not named there: lclog keeps them in `lclog.provider`.
PROVIDERS = {
    "openai": "openai",
    "anthropic": "anthropic",
    "azure": "azure.ai.openai",
    "azure_openai": "azure.ai.openai",
    "azure_ai": "azure.ai.inference",
    "google_genai": "gcp.gemini",
    "google_vertexai": "gcp.vertex_ai",
    "google_anthropic_vertex": "gcp.vertex_ai",
    "bedrock": "aws.bedrock",
    "amazon_bedrock": "aws.bedrock",
    "bedrock_converse": "aws.bedrock",
    "cohere": "cohere",
    "groq": "groq",
    "mistral": "mistral_ai",
    "mistralai": "mistral_ai",
    "deepseek": "deepseek",
    "xai": "x_ai",
    "perplexity": "perplexity",
    "ibm": "ibm.watsonx.ai",
    "watsonx": "ibm.watsonx.ai",
    "moonshot": "moonshot_ai",
}
# lclog's usage keys -> gen_ai.usage.<name>
USAGE = {
    "input_tokens": "input_tokens",
    "output_tokens": "output_tokens",
    "input_cache_read_tokens": "cache_read.input_tokens",
    "input_cache_creation_tokens": "cache_creation.input_tokens",
    "input_audio_tokens": "audio.input_tokens",
    "output_reasoning_tokens": "reasoning.output_tokens",
    "output_audio_tokens": "audio.output_tokens",
}
_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool", "function": "tool"}
_LC_ROLES = {"user": "human", "assistant": "ai", "system": "system", "tool": "tool"}
# lclog's own keys a message keeps in the conventions' shape (the history references name them)
_KEPT = ("name", "id", "seq")


def provider_name(provider: Any) -> str | None:
    """The conventions' name for a LangChain provider, or None when they name none."""
    return PROVIDERS.get(provider.lower()) if isinstance(provider, str) else None


def is_message(value: Any) -> bool:
    """A message as lclog serializes it (`role`, `content` ...)."""
    return isinstance(value, dict) and isinstance(value.get("role"), str) and "content" in value


def is_marker(value: Any) -> bool:
    """A history reference or a left-out marker in a message list (events/history.py)."""
    return isinstance(value, dict) and value.get("role") in ("history", "omitted")


def _parts(content: Any) -> list[Any]:
    if content is None or content == "":
        return []
    if not isinstance(content, list):
        return [{"type": "text", "content": content}]
    parts: list[Any] = []
    for part in content:
        if isinstance(part, dict) and part.get("type") == "text":
            parts.append({"type": "text", "content": part.get("text")})
        elif isinstance(part, dict) and isinstance(part.get("type"), str):
            parts.append(part)  # images, audio, files ...: a part of its own type, as LangChain gave it
        else:
            parts.append({"type": "text", "content": part})
    return parts


def _message(message: Any) -> dict[str, Any]:
    if not isinstance(message, dict) or not isinstance(message.get("role"), str):
        return {"role": "user", "parts": _parts(message)}  # a prompt string, or content of another shape
    role = message["role"]
    if role in ("tool", "function"):
        parts = [
            {
                "type": "tool_call_response",
                "id": message.get("tool_call_id"),
                "result": message.get("content"),
            }
        ]
    else:
        parts = _parts(message.get("content"))
    for call in message.get("tool_calls") or []:
        if isinstance(call, dict):
            parts.append(
                {
                    "type": "tool_call",
                    "id": call.get("id"),
                    "name": call.get("name"),
                    "arguments": call.get("args"),
                }
            )
    out = {"role": _ROLES.get(role, role), "parts": parts}
    for key in _KEPT:
        if message.get(key) is not None:
            out[key] = message[key]
    return out


def split_markers(items: list[Any]) -> tuple[list[Any], list[dict[str, Any]]]:
    """(the messages, the history markers with `at`: their place in items)."""
    messages, markers = [], []
    for at, item in enumerate(items):
        if is_marker(item):
            markers.append({"at": at, **item})
        else:
            messages.append(item)
    return messages, markers


def to_messages(inputs: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A model run's inputs (messages, prompt strings, a batch of either) as gen_ai.input.messages,
    and the history markers they held (kept by lclog, with their place)."""
    items = inputs if isinstance(inputs, list) else [inputs]
    if items and all(isinstance(i, list) for i in items):  # a batch: its first prompt
        items = items[0]
    messages, markers = split_markers(items)
    return [_message(m) for m in messages], markers


def to_output_messages(outputs: Any, finish_reason: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A model run's outputs (a message, a text, or one per choice) as gen_ai.output.messages."""
    items = outputs if isinstance(outputs, list) else [outputs]
    choices, markers = split_markers(items)
    messages = []
    for choice in choices:
        message = _message(choice)
        message["role"] = "assistant"
        if finish_reason is not None:
            message["finish_reason"] = finish_reason
        messages.append(message)
    return messages, markers


def _content(parts: list[Any]) -> Any:
    texts = [p.get("content") for p in parts if isinstance(p, dict) and p.get("type") == "text"]
    if len(texts) == len(parts) == 1:
        return texts[0]
    if not parts:
        return ""
    return [{"type": "text", "text": p.get("content")} if p.get("type") == "text" else p for p in parts]


def from_messages(messages: Any, markers: Any = None) -> Any:
    """gen_ai.*.messages (and lclog's history markers) back as lclog's messages."""
    if not isinstance(messages, list):
        return messages
    out: list[Any] = []
    for message in messages:
        if not isinstance(message, dict):
            out.append(message)
            continue
        parts = [p for p in message.get("parts") or [] if isinstance(p, dict)]
        calls = [p for p in parts if p.get("type") == "tool_call"]
        results = [p for p in parts if p.get("type") == "tool_call_response"]
        rest = [p for p in parts if p.get("type") not in ("tool_call", "tool_call_response")]
        role = _LC_ROLES.get(str(message.get("role")), message.get("role"))
        back: dict[str, Any] = {"role": role}
        if message.get("name") is not None:
            back["name"] = message["name"]
        back["content"] = results[0].get("result") if results else _content(rest)
        if calls:
            back["tool_calls"] = [
                {"id": c.get("id"), "name": c.get("name"), "args": c.get("arguments")} for c in calls
            ]
        if results:
            back["tool_call_id"] = results[0].get("id")
        for key in ("id", "seq"):
            if message.get(key) is not None:
                back[key] = message[key]
        out.append(back)
    for marker in sorted(markers or [], key=lambda m: m.get("at", 0) if isinstance(m, dict) else 0):
        if isinstance(marker, dict):
            item = {k: v for k, v in marker.items() if k != "at"}
            out.insert(min(int(marker.get("at", len(out))), len(out)), item)
    return out
