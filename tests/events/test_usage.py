"""What the real provider clients report reaches the events: model, usage with its details,
finish reason, parameters, cost, errors, streams. ChatOpenAI and ChatAnthropic talk HTTP to
loopback stand-ins of the OpenAI and Anthropic APIs answering as those APIs document."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import langchain_anthropic as anthropic
import langchain_openai as openai
import pytest
from langchain_core.tools import tool

from lclog.testing import capture
from tests.events.test_cost import by_hand
from tests.loopback import LoopbackServer, Reply

# What a caller's code holds: keys that must never reach a log line.
OPENAI_KEY = "sk-proj-Xq7vR2mT9wK4pL8nB3cF6hJ1aZ0yE5uW"
ANTHROPIC_KEY = "sk-ant-api03-Xq7vR2mT9wK4pL8nB3cF6hJ1aZ0yE5uWqq-AAAA"


def openai_completion(content: str | None = "Paris.", tool_calls: list[Any] | None = None) -> bytes:
    """A Chat Completions response, as the API documents it (cached and reasoning tokens too)."""
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return json.dumps(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1764633600,
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": "tool_calls" if tool_calls else "stop",
                }
            ],
            "usage": {
                "prompt_tokens": 1200,
                "completion_tokens": 30,
                "total_tokens": 1230,
                "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
            },
            "system_fingerprint": "fp_1",
        }
    ).encode()


def openai_stream(words: list[str]) -> list[bytes]:
    """A streamed Chat Completion (`stream_options.include_usage`): server-sent events."""
    head = {"id": "chatcmpl-2", "object": "chat.completion.chunk", "created": 1764633600}
    head["model"] = "gpt-4o-mini-2024-07-18"

    def chunk(delta: dict[str, Any], finish: str | None = None, **more: Any) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return b"data: " + json.dumps({**head, "choices": [choice], **more}).encode() + b"\n\n"

    events = [chunk({"role": "assistant", "content": ""})]
    events += [chunk({"content": word}) for word in words]
    events.append(chunk({}, "stop"))
    usage = {"prompt_tokens": 9, "completion_tokens": len(words), "total_tokens": 9 + len(words)}
    events.append(b"data: " + json.dumps({**head, "choices": [], "usage": usage}).encode() + b"\n\n")
    return [*events, b"data: [DONE]\n\n"]


def anthropic_message() -> bytes:
    """A Messages API response, with prompt caching's read and write counts."""
    return json.dumps(
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-3-5-haiku-20241022",
            "content": [{"type": "text", "text": "Paris."}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {
                "input_tokens": 50,
                "output_tokens": 10,
                "cache_read_input_tokens": 2000,
                "cache_creation_input_tokens": 500,
            },
        }
    ).encode()


JSON = {"Content-Type": "application/json"}


@pytest.fixture
def api() -> Iterator[LoopbackServer]:
    server = LoopbackServer("")
    yield server
    server.close()


def sent_headers(api: LoopbackServer) -> dict[str, str]:
    return {name.lower(): value for name, value in api.requests[0].headers.items()}


def chat_openai(api: LoopbackServer, **kwargs: Any) -> Any:
    return openai.ChatOpenAI(
        model="gpt-4o-mini", api_key=OPENAI_KEY, base_url=f"{api.url}/v1", max_retries=0, **kwargs
    )


def test_chat_openai_reports_its_model_usage_details_finish_reason_and_cost(api):
    api.script.append(Reply(body=openai_completion(), headers=JSON))
    model = chat_openai(api, temperature=0.2, max_tokens=64)
    with capture() as events:
        model.invoke("Capital of France?", config={"callbacks": [events.handler]})
    (start,) = events.named("chat_model.start")
    (end,) = events.named("chat_model.end")
    assert start["model"] == "gpt-4o-mini" and start["provider"] == "openai"
    # langchain-openai sends max_tokens as the API's max_completion_tokens
    assert start["params"]["temperature"] == 0.2 and start["params"]["max_completion_tokens"] == 64
    assert end["model"] == "gpt-4o-mini-2024-07-18"  # the model that answered
    assert end["usage"] == {
        "input_tokens": 1200,
        "output_tokens": 30,
        "total_tokens": 1230,
        "input_audio_tokens": 0,
        "input_cache_read_tokens": 1024,
        "output_audio_tokens": 0,
        "output_reasoning_tokens": 0,
    }
    assert end["usage_source"] == "usage_metadata" and end["finish_reason"] == "stop"
    assert end["outputs"]["content"] == "Paris." and end["outputs"]["role"] == "ai"
    assert end["cost"]["total"] == pytest.approx(by_hand("gpt-4o-mini", 1200, 30, read=1024), rel=1e-9)
    assert OPENAI_KEY.encode() not in b"".join(events.lines)
    assert sent_headers(api)["authorization"] == f"Bearer {OPENAI_KEY}"  # it was sent, not logged


def test_chat_openai_tool_calls_and_bound_tools(api):
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "weather", "arguments": '{"city": "Paris"}'},
    }
    api.script.append(Reply(body=openai_completion(None, [call]), headers=JSON))

    @tool
    def weather(city: str) -> str:
        """The weather in a city."""
        return "sunny"

    model = chat_openai(api).bind_tools([weather])
    with capture() as events:
        model.invoke("Weather in Paris?", config={"callbacks": [events.handler]})
    (start,) = events.named("chat_model.start")
    (end,) = events.named("chat_model.end")
    assert start["params"]["tools"] == ["weather"]
    assert end["finish_reason"] == "tool_calls"
    assert end["outputs"]["tool_calls"] == [{"id": "call_1", "name": "weather", "args": {"city": "Paris"}}]
    sent = json.loads(api.requests[0].body)
    assert sent["tools"][0]["function"]["name"] == "weather"


def test_a_chat_openai_stream_reports_first_token_chunks_and_usage(api):
    words = ["The", " capital", " is", " Paris."]
    api.script.append(Reply(body=openai_stream(words), headers={"Content-Type": "text/event-stream"}))
    model = chat_openai(api, stream_usage=True)
    with capture() as events:
        text = "".join(
            str(c.content) for c in model.stream("Capital?", config={"callbacks": [events.handler]})
        )
    assert text == "The capital is Paris."
    (end,) = events.named("chat_model.end")
    assert end["usage"]["input_tokens"] == 9 and end["usage"]["output_tokens"] == len(words)
    assert end["chunks"] >= len(words) and 0 <= end["ttft_ms"] <= end["duration_ms"]
    assert end["outputs"]["content"] == text and end["finish_reason"] == "stop"


def test_an_openai_error_is_logged_without_the_key_it_echoes(api):
    # The API names the key it refused; the client puts that text in its exception.
    error = {
        "error": {
            "message": f"Incorrect API key provided: {OPENAI_KEY}. You can find your API key at ...",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_api_key",
        }
    }
    api.script.append(Reply(status=401, body=json.dumps(error).encode(), headers=JSON))
    model = chat_openai(api)
    with capture() as events, pytest.raises(openai_error("AuthenticationError")) as raised:
        model.invoke("hi", config={"callbacks": [events.handler]})
    (failed,) = events.named("chat_model.error")
    assert failed["error"]["type"] == type(raised.value).__qualname__
    assert "Incorrect API key provided" in failed["error"]["message"]
    assert OPENAI_KEY.encode() not in b"".join(events.lines)


def openai_error(name: str) -> type[BaseException]:
    import openai as sdk

    return getattr(sdk, name)  # type: ignore[no-any-return]


def test_chat_anthropic_reports_cache_reads_and_writes_and_their_cost(api):
    api.script.append(Reply(body=anthropic_message(), headers=JSON))
    model = anthropic.ChatAnthropic(
        model="claude-3-5-haiku-latest", api_key=ANTHROPIC_KEY, base_url=api.url, max_retries=0
    )
    with capture() as events:
        model.invoke("Capital of France?", config={"callbacks": [events.handler]})
    (start,) = events.named("chat_model.start")
    (end,) = events.named("chat_model.end")
    assert start["model"] == "claude-3-5-haiku-latest" and start["provider"] == "anthropic"
    assert end["model"] == "claude-3-5-haiku-20241022" and end["finish_reason"] == "end_turn"
    usage = end["usage"]
    # LangChain counts cache reads and writes in the input tokens, as lclog writes them.
    assert usage["input_tokens"] == 50 + 2000 + 500 and usage["output_tokens"] == 10
    assert usage["input_cache_read_tokens"] == 2000 and usage["input_cache_creation_tokens"] == 500
    expected = by_hand("claude-3-5-haiku-latest", 2550, 10, read=2000, write=500)
    assert end["cost"]["total"] == pytest.approx(expected, rel=1e-9)
    assert ANTHROPIC_KEY.encode() not in b"".join(events.lines)
    sent = sent_headers(api)
    assert ANTHROPIC_KEY in sent.get("x-api-key", sent.get("authorization", ""))  # sent, not logged
