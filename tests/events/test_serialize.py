"""Serialization of arbitrary objects: always JSON-safe, bounded, never raising."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import math
import uuid
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.documents import Document
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from pydantic import BaseModel

from lclog.events.serialize import Limits, to_jsonable
from lclog.redact.redactor import Redactor


class BadRepr:
    def __repr__(self) -> str:
        raise RuntimeError("repr exploded")


class BadModel(BaseModel):
    x: int = 1

    def model_dump(self, *a: Any, **k: Any) -> Any:
        raise ValueError("dump exploded")


@dataclasses.dataclass
class Point:
    x: int
    y: list[int]


class Color(enum.Enum):
    RED = "red"


def dumps(value: Any) -> bytes:
    return orjson.dumps(to_jsonable(value))


def test_langchain_objects_become_plain_dicts():
    msg = AIMessage(content="hi", tool_calls=[{"name": "t", "args": {"a": 1}, "id": "c1"}])
    assert to_jsonable(msg) == {
        "role": "ai",
        "content": "hi",
        "tool_calls": [{"id": "c1", "name": "t", "args": {"a": 1}}],
    }
    assert to_jsonable(ToolMessage(content="r", tool_call_id="c1")) == {
        "role": "tool",
        "content": "r",
        "tool_call_id": "c1",
    }
    multimodal = HumanMessage(
        content=[{"type": "text", "text": "see"}, {"type": "image_url", "image_url": {"url": "x"}}]
    )
    assert to_jsonable(multimodal)["content"][1]["type"] == "image_url"
    assert to_jsonable(Document(page_content="p", metadata={"k": 1})) == {
        "content": "p",
        "metadata": {"k": 1},
    }


def test_common_python_types():
    u = uuid.uuid4()
    value = {
        "u": u,
        "d": dt.datetime(2024, 1, 2, 3, 4, 5),
        "td": dt.timedelta(seconds=1.5),
        "set": {1},
        "bytes": b"\x00" * 10,
        "enum": Color.RED,
        "dc": Point(1, [2]),
        "exc": ValueError("bad"),
        1: "int key",
        (1, 2): "tuple key",
    }
    out = to_jsonable(value)
    assert out["u"] == str(u) and out["d"] == "2024-01-02T03:04:05" and out["td"] == 1.5
    assert out["set"] == [1] and out["bytes"] == "<bytes len=10>" and out["enum"] == "red"
    assert out["dc"] == {"x": 1, "y": [2]} and out["exc"] == {"type": "ValueError", "message": "bad"}
    assert out["1"] == "int key" and "tuple key" in out.values()
    orjson.dumps(out)


def test_hostile_objects_never_raise():
    assert "repr failed" in to_jsonable(BadRepr())
    assert "serialization failed" in to_jsonable(BadModel())
    cyclic: list[Any] = [1]
    cyclic.append(cyclic)
    assert to_jsonable(cyclic) == [1, "<cycle>"]
    deep: Any = []
    for _ in range(10_000):
        deep = [deep]
    assert "beyond max_depth" in dumps(deep).decode()
    assert to_jsonable(10**400).startswith("<int with") or len(to_jsonable(10**400)) <= 200
    assert orjson.dumps(to_jsonable(math.nan)) == b"null"


def test_limits_truncate_visibly():
    out = to_jsonable({"s": "x" * 10_000, "l": list(range(500))}, Limits(max_chars=100, max_items=10))
    assert out["s"].startswith("x" * 100) and out["s"].endswith("[truncated 9900 chars]")
    assert len(out["l"]) == 11 and out["l"][-1] == "…[490 more items]"


def test_limits_hold_while_redacting():
    # Redaction fused with serialization takes shorter paths for strings, dicts and messages:
    # the same limits, the same markers, and the secret gone either way.
    key = "sk-proj-Xq7vR2mT9wK4pL8nB3cF6hJ1"
    limits = Limits(max_chars=100, max_items=10)
    wide = {f"k{i}": f"{key} {i}" for i in range(50)}
    out = to_jsonable({"wide": wide, "long": key + " x" * 500}, limits, Redactor())
    assert list(out["wide"])[:10] == [f"k{i}" for i in range(10)]
    assert out["wide"]["…"] == "[40 more keys]" and len(out["wide"]) == 11
    assert out["wide"]["k3"] == "[REDACTED:openai_key] 3"
    # Redacted first, then cut: the marker counts what was left out of the redacted text.
    redacted_length = len("[REDACTED:openai_key]" + " x" * 500)
    assert out["long"].startswith("[REDACTED:openai_key] x")
    assert out["long"].endswith(f"[truncated {redacted_length - 100} chars]")
    message = to_jsonable(HumanMessage(key + " y" * 500), limits, Redactor())
    assert message["role"] == "human"
    assert message["content"].endswith(f"[truncated {redacted_length - 100} chars]")
    assert key not in orjson.dumps([out, message]).decode()


def test_message_ids_langchain_made_are_kept_and_any_other_is_redacted_every_time():
    # LangChain's and LangGraph's own ids are remembered once matched (they recur in every
    # event of a conversation); an id of any other shape goes through redaction each time.
    own = [str(uuid.uuid4()), f"lc_run--{uuid.uuid4()}-0", f"run-{uuid.uuid4()}"]
    secret = "sk-proj-Xq7vR2mT9wK4pL8nB3cF6hJ1"
    redactor = Redactor()
    for _ in range(2):
        for msg_id in own:
            assert to_jsonable(AIMessage("a", id=msg_id), scrub=redactor)["id"] == msg_id
        # An own id with a secret appended is not an own id.
        for msg_id in (secret, f"{own[0]}-{secret}", f"lc_run--{secret}"):
            out = to_jsonable(AIMessage("a", id=msg_id), scrub=redactor)
            assert secret not in out["id"] and "[REDACTED:openai_key]" in out["id"]


def test_tool_calls_keep_their_shape_and_redact_their_values():
    secret = "sk-proj-Xq7vR2mT9wK4pL8nB3cF6hJ1"
    call = {"name": f"send {secret}", "args": {"api_key": "k-123456789", "to": "x"}, "id": secret}
    out = to_jsonable(AIMessage("", tool_calls=[call]), scrub=Redactor())["tool_calls"]
    assert list(out[0]) == ["id", "name", "args"]
    assert out[0]["name"] == "send [REDACTED:openai_key]" and out[0]["id"] == "[REDACTED:openai_key]"
    assert out[0]["args"]["to"] == "x" and out[0]["args"]["api_key"].startswith("[REDACTED")


def test_huge_string_is_bounded():
    out = to_jsonable("y" * 50_000_000, Limits(max_chars=4000))
    assert len(out) < 4100


leaves = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(), st.binary(), st.uuids(),
    st.datetimes(), st.decimals(allow_nan=True), st.complex_numbers(), st.builds(BadRepr),
)  # fmt: skip
objects = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.lists(children),
        st.tuples(children, children),
        st.frozensets(st.integers()),
        st.dictionaries(st.one_of(st.text(), st.integers(), st.none()), children),
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(objects)
def test_any_object_serializes_to_json(value):
    orjson.dumps(to_jsonable(value), option=orjson.OPT_NON_STR_KEYS)


_ROLES = {"system": SystemMessage, "human": HumanMessage, "ai": AIMessage}


@settings(max_examples=300, deadline=None)
@given(
    systems=st.integers(0, 4),
    roles=st.lists(st.sampled_from(["human", "ai", "system"]), max_size=300),
    max_messages=st.integers(1, 50),
)
def test_a_long_message_list_keeps_its_system_messages_and_the_newest(
    systems: int, roles: list[str], max_messages: int
):
    messages = [SystemMessage(f"rule {i}") for i in range(systems)]
    messages += [_ROLES[r](f"{r} {i}") for i, r in enumerate(roles)]
    if not messages:
        return
    out = to_jsonable(messages, Limits(max_items=max_messages, max_messages=max_messages))
    contents = [m.content for m in messages]
    if len(messages) <= max_messages:
        assert [m["content"] for m in out] == contents  # nothing cut
        return
    (marker,) = [m for m in out if m["role"] == "omitted"]
    at = out.index(marker)
    head, tail = out[:at], out[at + 1 :]
    assert len(head) + len(tail) == max_messages and marker["messages"] == len(messages) - max_messages
    # The leading system messages (up to half the room), then the newest, the last one always.
    assert [m["role"] for m in head] == ["system"] * len(head)
    leading = next((i for i, m in enumerate(messages) if m.type != "system"), len(messages))
    assert len(head) == min(leading, max_messages // 2)
    assert [m["content"] for m in head] == contents[: len(head)]
    assert [m["content"] for m in tail] == contents[len(contents) - len(tail) :]
    assert tail[-1]["content"] == contents[-1]


def test_other_long_lists_keep_their_first_items():
    out = to_jsonable([HumanMessage("a"), "b", "c", "d"], Limits(max_items=2, max_messages=2))
    assert out[1:] == ["b", "…[2 more items]"]
