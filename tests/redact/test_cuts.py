"""Redact, then cut: a secret placed across any limit leaves no fragment in any output.

Each claimed kind is placed at every offset around a limit (the field characters of every content
path, error messages, stack traces, run names, dict keys, `lclog redact`'s blocks), and the output
is searched for any 8 characters of the secret.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import subprocess
import sys
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.language_models import FakeListChatModel, GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.runnables import RunnableLambda
from langchain_core.tools import tool

from lclog.events.serialize import Limits, to_jsonable
from lclog.redact.redactor import Redactor
from lclog.testing import capture


@tool
def fetch(q: str) -> str:
    """Returns the record asked for."""
    return q


def _fail(value: str) -> None:
    raise RuntimeError(value)


# (kind, text written, the secret part of it): the kinds docs/redaction.md claims, as people write them.
SECRETS = [
    ("openai_key", "sk-proj-Xq7vR2mT9wK4pL8nB3cF6hJ1aZ0yQ5", "Xq7vR2mT9wK4pL8nB3cF6hJ1aZ0yQ5"),
    ("github_token", "ghp_x7VqR2mT9wK4pL8nB3cF6hJ1aZ0yQ5dE7gS2", "x7VqR2mT9wK4pL8nB3cF6hJ1aZ0yQ5dE7gS2"),
    ("email", "jane.doe.customer@corp-mail.io", "jane.doe.customer@corp-mail.io"),
    (
        "jwt",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        "eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    ),
    ("url_credentials", "postgres://admin:Tr0ub4dor-and-3@db.internal/app", "Tr0ub4dor-and-3"),
    ("aws_secret_access_key", "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLQKE",
     "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLQKE"),
    ("key_value", 'password: "correct horse battery staple"', "correct horse battery staple"),
    ("xml", "<password>correct horse battery staple</password>", "correct horse battery staple"),
]  # fmt: skip
FRAGMENT = 8


def fragments(secret: str) -> set[str]:
    return {secret[i : i + FRAGMENT] for i in range(len(secret) - FRAGMENT + 1)}


def leaked(secret: str, written: str) -> list[str]:
    return sorted(f for f in fragments(secret) if f in written)


def placed(text: str, offset: int, length: int) -> str:
    """text at offset in filler words, the whole `length` characters long."""
    filler = "lorem ipsum dolor sit amet " * (length // 20 + 2)
    return (filler[:offset].rstrip() + " " + text + " " + filler)[:length]


@pytest.mark.parametrize(("kind", "text", "secret"), SECRETS, ids=[s[0] for s in SECRETS])
@pytest.mark.parametrize("fused", [True, False], ids=["fused", "pipeline"])
def test_a_secret_at_every_offset_around_the_field_limit_leaves_no_fragment(kind, text, secret, fused):
    redactor = Redactor()
    limit = 120
    limits = Limits(max_chars=limit, cut=redactor.cut)
    for offset in range(limit - len(text) - 2, limit + 2):
        value = placed(text, max(offset, 0), limit * 3)
        out = to_jsonable({"v": value, "m": HumanMessage(value), "e": ValueError(value)}, limits,
                          redactor if fused else None)  # fmt: skip
        written = str(out if fused else redactor.redact_value(out))
        assert not leaked(secret, written), (offset, written)
        assert "[truncated" in written  # the limit did cut


@pytest.mark.parametrize(("kind", "text", "secret"), SECRETS, ids=[s[0] for s in SECRETS])
def test_through_every_content_path_no_fragment_survives_the_cut(kind, text, secret):
    limit = 200
    with capture({"max_field_chars": limit, "include_stacktrace": True}) as events:
        config: Any = {"callbacks": [events.handler]}
        for offset in range(limit - len(text) - 2, limit + 2, 3):
            value = placed(text, offset, limit * 2)
            RunnableLambda(lambda x: x[:10], name="chain").invoke(value, config)
            GenericFakeChatModel(messages=iter([AIMessage(value)])).invoke([HumanMessage(value)], config)

            fetch.invoke({"q": value}, config)
            with contextlib.suppress(RuntimeError):
                RunnableLambda(_fail).invoke(value, config)
    written = b"\n".join(events.lines).decode()
    assert written.count("[truncated") >= 5 * len(range(limit - len(text) - 2, limit + 2, 3))
    assert not leaked(secret, written)


@settings(max_examples=60, deadline=None)
@given(kind=st.sampled_from(SECRETS), offset=st.integers(0, 140), limit=st.integers(20, 120))
def test_any_limit_at_any_offset_leaves_no_fragment(kind, offset, limit):
    _, text, secret = kind
    redactor = Redactor()
    value = placed(text, offset, offset + len(text) + 200)
    written = redactor.cut(value, limit)
    assert not leaked(secret, written), written


def test_a_marker_is_never_cut_in_two():
    redactor = Redactor()
    text = "word " * 19 + "sk-proj-Xq7vR2mT9wK4pL8nB3cF6hJ1aZ0yQ5 and more words here"
    for limit in range(90, 120):
        written = redactor.cut(text, limit)
        assert "[REDACTED:openai_key]" in written or written.endswith(f"{text[:limit]}") is False
        head = written.split("…[truncated")[0]
        assert head.count("[") == head.count("]"), head


def test_names_keys_errors_and_stack_traces_are_redacted_before_they_are_cut():
    key = "sk-proj-Xq7vR2mT9wK4pL8nB3cF6hJ1aZ0yQ5"
    with capture({"include_stacktrace": True, "max_field_chars": 100}) as events:
        config: Any = {"callbacks": [events.handler]}
        RunnableLambda(lambda x: x, name="n" * 240 + " " + key).invoke({"k" * 240 + " " + key: 1}, config)

        def fail(_: Any) -> None:
            raise RuntimeError("x" * 350 + " " + key)  # across the stack trace's 400

        with contextlib.suppress(RuntimeError):
            RunnableLambda(fail).invoke(1, config)
    written = b"\n".join(events.lines).decode()
    assert written.count("[REDACTED:openai_key") >= 4
    assert not leaked(key[8:], written)


@pytest.mark.parametrize("final_chunk", [False, True])
def test_lclog_redact_holds_a_secret_that_spans_its_block_boundary(final_chunk):
    body = "\n".join("MIIEowIBAAKCAQEAwJ8" + f"{i:02d}" + "Q7vR2mT9wK4pL8nB3cF6hJ1" for i in range(60))
    pem = f"-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----\n"
    line = "words " * 20 + "\n"
    # The block is 1 MiB: the PEM key starts a few lines before its end.
    filler = line * ((1 << 20) // len(line) - 3)
    data = (filler + pem + ("tail\n" if final_chunk else "")).encode()
    out = subprocess.run(
        [sys.executable, "-m", "lclog", "redact"], input=data, capture_output=True, check=True
    ).stdout.decode()
    assert "[REDACTED:private_key]" in out and "MIIEowIBAAKCAQEAwJ8" not in out
    assert out.count("\n") == filler.count("\n") + 1 + final_chunk


def test_a_value_past_its_redaction_budget_is_replaced_whole_counted_and_named(capsys):
    # Each string is new text: 30 of 4,000 characters are 120,000 characters to redact, past a
    # budget of 50,000 per value. No secret of the strings past it may reach the log.
    key = "sk-proj-Xq7vR2mT9wK4pL8nB3cF6hJ1aZ0yQ5"
    docs = [f"doc {i} " + "lorem ipsum " * 330 + key for i in range(30)]
    with capture({"redaction": {"max_chars_per_value": 50_000}}) as events:
        RunnableLambda(lambda x: len(x)).invoke(docs, config={"callbacks": [events.handler]})
    (start,) = [e for e in events if e["event"] == "chain.start"]
    inputs = start["inputs"]
    over = [s for s in inputs if s == "[REDACTED:over_budget]"]
    assert 15 <= len(over) <= 20 and inputs[0].startswith("doc 0 ")
    assert key not in b"\n".join(events.lines).decode()
    assert events.handler.stats.redaction_over_budget == len(over)
    assert "redaction.max_chars_per_value=50000" in capsys.readouterr().err
    # The budget is per value: the next call's value starts with a full one.
    with capture({"redaction": {"max_chars_per_value": 50_000}}) as events:
        RunnableLambda(lambda x: len(x)).invoke(docs[:5], config={"callbacks": [events.handler]})
    assert "[REDACTED:over_budget]" not in b"\n".join(events.lines).decode()


# -- a model's stream: every token boundary is a cut ---------------------------------------------


def _streamed(events: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    tokens = events.named("chat_model.token")
    (end,) = events.named("chat_model.end")
    return tokens, end


@pytest.mark.parametrize(("kind", "text", "secret"), SECRETS, ids=[s[0] for s in SECRETS])
@pytest.mark.parametrize("model", ["characters", "words"])
def test_a_secret_streamed_over_many_tokens_leaves_no_fragment_in_their_events(kind, text, secret, model):
    reply = f"here it is:\n{text}\nkeep it safe"
    chat = (
        FakeListChatModel(responses=[reply])  # one token per character
        if model == "characters"
        else GenericFakeChatModel(messages=iter([AIMessage(reply)]))  # per word and space
    )
    with capture({"stream_tokens": True}) as events:
        assert "".join(c.content for c in chat.stream("go", {"callbacks": [events.handler]})) == reply
    tokens, end = _streamed(events)
    assert len(tokens) > 5 and [t["index"] for t in tokens] == list(range(len(tokens)))
    written = b"\n".join(events.lines).decode()
    assert not leaked(secret, written)
    # The tokens put together read as the reply does in the run's end event.
    assert "".join(t["token"] for t in tokens) == end["outputs"]["content"]
    assert "[REDACTED:" in end["outputs"]["content"]


# Two redactors: a stream's result is remembered as its text's, which the other must find itself.
_STREAMS, _TEXTS = Redactor(), Redactor()


@settings(max_examples=200, deadline=None)
@given(
    kind=st.sampled_from(SECRETS),
    before=st.text(max_size=30),
    cuts=st.lists(st.integers(0, 200), max_size=12),
)
def test_pieces_redacted_together_read_as_their_text_redacted_whole(kind, before, cuts):
    _, text, secret = kind
    whole = f"{before} {text} tail"
    bounds = sorted({0, len(whole), *(c for c in cuts if c < len(whole))})
    pieces = [whole[a:b] for a, b in itertools.pairwise(bounds)]
    out = _STREAMS.redact_stream(pieces, 10_000)
    assert len(out) == len(pieces)
    assert "".join(out) == _TEXTS.redact_text(whole)
    assert not leaked(secret, "".join(out))


def test_streamed_tokens_are_written_at_the_runs_end_with_their_own_times():
    reply = "one two three"
    with capture({"stream_tokens": True}) as events:
        handler = events.handler
        stream = FakeListChatModel(responses=[reply]).stream("go", {"callbacks": [handler]})
        for _ in range(4):
            next(stream)
        assert events.named("chat_model.token") == []  # held: what follows may finish a secret
        rest = list(stream)
    assert len(rest) == len(reply) - 4
    tokens, end = _streamed(events)
    assert "".join(t["token"] for t in tokens) == reply
    times = [t["timestamp"] for t in tokens]
    assert times == sorted(times) and times[-1] <= end["timestamp"]
    assert events.index(tokens[-1]) < events.index(end)


def test_a_stream_past_the_redaction_budget_writes_markers_at_once_and_counts_them():
    reply = " ".join(["word"] * 2_100) + " sk-proj-Xq7vR2mT9wK4pL8nB3cF6hJ1aZ0yQ5"  # 10,538 characters
    with capture({"stream_tokens": True, "redaction": {"max_chars_per_value": 10_000}}) as events:
        chat = GenericFakeChatModel(messages=iter([AIMessage(reply)]))
        stream = chat.stream("go", {"callbacks": [events.handler]})
        for _ in range(4_100):  # 10,250 characters: past the budget, nothing more is held
            next(stream)
        assert len(events.named("chat_model.token")) == 4_100
        list(stream)
        over = events.handler.stats.redaction_over_budget
    tokens, _ = _streamed(events)
    assert [t["index"] for t in tokens] == list(range(4_201))
    assert {t["token"] for t in tokens} == {"[REDACTED:over_budget]"}
    assert over >= 4_201  # each token, and the end event's text
    assert "Xq7vR2mT9wK4pL8nB3cF6hJ1aZ0yQ5" not in b"\n".join(events.lines).decode()


def test_tokens_of_a_model_still_streaming_when_the_handler_closes_are_written_redacted():
    key = "sk-proj-Xq7vR2mT9wK4pL8nB3cF6hJ1aZ0yQ5"
    with capture({"stream_tokens": True}) as events:
        stream = FakeListChatModel(responses=[f"the key {key} and more"]).stream(
            "go", {"callbacks": [events.handler]}
        )
        said = "".join(next(stream).content for _ in range(len(f"the key {key}")))
        events.handler.close()
    tokens = events.named("chat_model.token")
    assert len(tokens) == len(said)
    assert "".join(t["token"] for t in tokens) == "the key [REDACTED:openai_key]"
    stream.close()


def test_streams_on_an_event_loop_are_redacted_together_each_on_its_own():
    keys = [f"sk-proj-{c * 6}Xq7vR2mT9wK4pL8nB3cF6hJ1" for c in "ABCD"]
    with capture({"stream_tokens": True}) as events:
        config: Any = {"callbacks": [events.handler]}

        async def one(key: str) -> str:
            chat = FakeListChatModel(responses=[f"use {key} now"])
            return "".join([c.content async for c in chat.astream("go", config)])

        async def all_of_them() -> list[str]:
            return await asyncio.gather(*(one(key) for key in keys))

        assert asyncio.run(all_of_them()) == [f"use {key} now" for key in keys]
    ends = events.named("chat_model.end")
    assert len(ends) == 4
    for end in ends:
        tokens = [t for t in events.named("chat_model.token") if t["run_id"] == end["run_id"]]
        assert "".join(t["token"] for t in tokens) == "use [REDACTED:openai_key] now"
    written = b"\n".join(events.lines).decode()
    assert not any(leaked(key[8:], written) for key in keys)


def test_a_failure_writing_held_tokens_at_close_is_counted_not_raised(monkeypatch, capsys):
    with capture({"stream_tokens": True}) as events:
        handler = events.handler

        def broken(*_: Any) -> list[str]:
            raise RuntimeError("boom")

        monkeypatch.setattr(handler._recorder.redactor, "redact_stream", broken)
        stream = FakeListChatModel(responses=["still talking"]).stream("go", {"callbacks": [handler]})
        next(stream)
        handler.close()  # must not raise
        assert handler.stats.internal_errors == 1
    assert "lclog: close" in capsys.readouterr().err
    stream.close()


def test_a_run_given_up_while_it_streams_writes_every_token_once():
    reply = "first part, then the rest"
    with capture({"stream_tokens": True, "run_ttl_s": 0.3}) as events:
        stream = FakeListChatModel(responses=[reply]).stream("go", {"callbacks": [events.handler]})
        head = "".join(next(stream).content for _ in range(10))
        time.sleep(0.5)
        assert len(events.named("chat_model.orphaned")) == 1  # flushing expired it
        assert "".join(t["token"] for t in events.named("chat_model.token")) == head
        rest = "".join(c.content for c in stream)
    assert head + rest == reply
    tokens = events.named("chat_model.token")
    assert [t["index"] for t in tokens] == list(range(len(reply)))
    assert "".join(t["token"] for t in tokens) == reply
