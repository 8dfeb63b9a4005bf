"""What lclog reads of LangChain's hook arguments, from the objects LangChain really passes."""

from __future__ import annotations

from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableLambda
from langchain_core.tools import tool

from lclog.capture.arguments import MAX_NAME, model_of, model_run, name_of, tool_name_of
from lclog.redact.redactor import CUT_LOOKAHEAD
from lclog.testing import capture


def test_a_run_is_named_by_its_name_then_its_serialized_class_and_kept_short():
    assert name_of({"id": ["langchain", "x", "MyChain"]}, {}, "chain") == "MyChain"
    assert name_of({"name": "Named"}, {"name": "Given"}, "chain") == "Given"
    assert name_of(None, {}, "tool") == "tool"
    # Kept bounded here; cut to MAX_NAME only once redacted, as the event is built.
    assert len(name_of(None, {"name": "n" * 10_000}, "chain")) <= MAX_NAME + CUT_LOOKAHEAD


def test_a_long_run_name_is_cut_in_the_event_after_its_secret_is_redacted():
    key = "sk-proj-" + "Xq7vR2mT9wK4pL8nB3cF6hJ1aZ"
    long_name = "n" * (MAX_NAME - 11) + " " + key  # the key straddles the name's limit
    with capture() as events:
        RunnableLambda(lambda x: x, name=long_name).invoke(1, config={"callbacks": [events.handler]})
    name = events[0]["name"]
    assert len(name) <= MAX_NAME + 40 and "[REDACTED:openai_key" in name
    assert key[:8] not in name


def test_the_model_comes_from_params_then_metadata_then_the_serialized_kwargs():
    assert model_of(None, {"model_name": "gpt-x"}, {"ls_model_name": "other"}) == "gpt-x"
    assert model_of(None, {}, {"ls_model_name": "claude-y"}) == "claude-y"
    assert model_of({"kwargs": {"model": "z"}}, {}, {}) == "z"
    assert model_of(None, {}, {}) is None


def test_bound_tools_are_logged_by_name_whatever_their_shape():
    @tool
    def lookup(order: str) -> str:
        """Looks an order up."""
        return order

    assert tool_name_of(lookup) == "lookup"
    assert tool_name_of({"type": "function", "function": {"name": "fn"}}) == "fn"
    assert tool_name_of({"name": "plain"}) == "plain"
    name, extra = model_run(
        None,
        {"invocation_params": {"temperature": 0.2, "tools": [lookup], "api_key": "k"}},
        {},
        "chat_model",
        dict,
    )
    assert extra["params"] == {"temperature": 0.2, "tools": ["lookup"]}  # never keys or headers
    assert name == "chat_model"


def test_a_real_chat_model_start_is_read_the_same_way():
    model = GenericFakeChatModel(messages=iter([AIMessage(content="ok")]))
    with capture() as events:
        model.invoke("hi", config={"callbacks": [events.handler]})
    (start,) = events.named("chat_model.start")
    assert start["name"] == "GenericFakeChatModel" and start["provider"] == "genericfakechatmodel"
