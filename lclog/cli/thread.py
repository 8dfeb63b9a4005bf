"""`lclog thread ID`: one conversation rebuilt from the logs, every message once and in order.

Events of the thread (`thread_id`) or trace (`trace_id`) are read in time order, from any number
of files and processes. Each message list in their content is expanded (a history reference
stands for messages an earlier event wrote) and merged into the conversation: a list holding
every message known so far is the conversation's state and replaces it; a message not yet known
is placed after the one before it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import orjson

from lclog.cli.lines import parse
from lclog.outputs.pretty import safe_text
from lclog.pipeline.genai import is_message

__all__ = ["Conversation", "conversation_of", "read_events", "render_text"]

_FIELDS = ("inputs", "outputs", "data", "interrupts", "tool_input")
_MAX_DEPTH = 16


def read_events(streams: Iterable[IO[bytes]]) -> Iterator[dict[str, Any]]:
    """lclog's events (any layout) from binary streams, normalized to the default layout."""
    for stream in streams:
        for line in stream:
            event = parse(line)
            if event is not None:
                yield event


def _same_id(value: Any, wanted: str) -> bool:
    return isinstance(value, str) and value.replace("-", "").lower() == wanted


@dataclass
class Conversation:
    """A conversation as the logs hold it."""

    id: str
    messages: list[dict[str, Any]] = field(default_factory=list)  # each as an event wrote it
    origins: list[dict[str, Any]] = field(default_factory=list)  # the event that first wrote it
    unresolved: int = 0  # messages referenced whose full form is in none of the logs read
    left_out: int = 0  # messages `max_items` cut (`history: full`) or never logged
    events: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "messages": [{"message": m, **o} for m, o in zip(self.messages, self.origins, strict=True)],
            "unresolved": self.unresolved,
            "left_out": self.left_out,
            "events": self.events,
        }


def _is_reference(value: Any) -> bool:
    return isinstance(value, dict) and value.get("role") == "history" and "first" in value


def _is_omitted(value: Any) -> bool:
    return (
        isinstance(value, dict) and value.get("role") == "omitted" and isinstance(value.get("messages"), int)
    )


class _Builder:
    def __init__(self) -> None:
        self.order: list[str] = []  # identities, in conversation order
        self.known: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}  # identity -> (message, origin)
        self.names: dict[str, str] = {}  # a written name (id, hash) -> identity
        self.by_content: dict[bytes, str] = {}  # what an id-less message says -> identity
        self.missing: dict[str, int] = {}  # first name of a reference -> messages not in the logs read
        self.left_out = 0

    def identity(self, message: dict[str, Any], origin: dict[str, Any]) -> str:
        said = orjson.dumps(
            {k: v for k, v in message.items() if k not in ("id", "hash")}, option=orjson.OPT_SORT_KEYS
        )
        msg_id = message.get("id")
        if isinstance(msg_id, str) and msg_id:
            ident = self.names.get(msg_id) or self.by_content.get(said) or msg_id
        else:
            ident = self.by_content.setdefault(said, "c:" + said.decode())
        for name in (msg_id, message.get("hash")):
            if isinstance(name, str) and name:
                self.names.setdefault(name, ident)
        if ident not in self.known:
            self.known[ident] = (message, origin)
        return ident

    def expand(self, ref: dict[str, Any]) -> list[str | None]:
        """The identities a reference stands for; None for each one not in the logs read."""
        count = ref.get("messages")
        count = count if isinstance(count, int) and count > 0 else 1
        first, last = str(ref.get("first")), str(ref.get("last"))
        order = self.order
        found: list[str | None] = []
        end = self.names.get(last)
        if end is not None:
            for j in range(len(order) - 1, -1, -1):  # the latest match
                if order[j] == end:
                    found = list(order[max(0, j - count + 1) : j + 1])
                    break
        missing = count - len(found)
        if missing:  # written in logs not read (an older file, another process's)
            self.missing[first] = max(self.missing.get(first, 0), missing)
        return [None] * missing + found

    def sequence(self, items: list[Any], origin: dict[str, Any]) -> list[str | None] | None:
        """The identities a list stands for, or None if it holds no message."""
        out: list[str | None] = []
        found = False
        for item in items:
            if is_message(item):
                out.append(self.identity(item, origin))
                found = True
            elif _is_reference(item):
                out.extend(self.expand(item))
                found = True
            elif _is_omitted(item):
                self.left_out += item["messages"]
                found = True
        return out if found else None

    def merge(self, sequence: list[str | None]) -> None:
        resolved = [s for s in sequence if s is not None]
        present = set(resolved)
        if len(resolved) >= len(self.order) and all(s in present for s in self.order):
            self.order = resolved  # the conversation's state: every message known, in its order
            return
        present = set(self.order)
        after = len(self.order) - 1  # a message with none before it in the list: at the end
        for ident in resolved:
            if ident in present:
                after = self.order.index(ident)
                continue
            self.order.insert(after + 1, ident)
            present.add(ident)
            after += 1

    def walk(self, value: Any, origin: dict[str, Any], depth: int = 0) -> None:
        if depth > _MAX_DEPTH:
            return
        if type(value) is list:
            sequence = self.sequence(value, origin)
            if sequence is not None:
                self.merge(sequence)
            for item in value:
                if not (is_message(item) or _is_reference(item)):
                    self.walk(item, origin, depth + 1)
        elif is_message(value):
            self.merge([self.identity(value, origin)])
        elif _is_reference(value):
            self.merge(self.expand(value))
        elif isinstance(value, dict):
            for item in value.values():
                self.walk(item, origin, depth + 1)


def _time(event: dict[str, Any]) -> str:
    return str(event.get("timestamp") or "")


def conversation_of(wanted: str, events: Iterable[dict[str, Any]]) -> Conversation:
    """The conversation of thread `wanted` from events in any order; for a trace id, the
    conversation up to the end of that trace (its thread's history included)."""
    key = wanted.replace("-", "").lower()
    threads: dict[str, list[dict[str, Any]]] = {}
    trace: list[dict[str, Any]] = []
    for e in events:
        if e.get("thread_id") is not None:
            threads.setdefault(str(e["thread_id"]), []).append(e)
        if _same_id(e.get("trace_id"), key):
            trace.append(e)
    mine = threads.get(wanted, [])
    if not mine and trace:
        thread = next((e["thread_id"] for e in trace if e.get("thread_id") is not None), None)
        if thread is None:
            mine = trace
        else:
            end = max(_time(e) for e in trace)
            mine = [e for e in threads[str(thread)] if _time(e) <= end]
    mine.sort(key=_time)  # stable: a file's order within a tick
    builder = _Builder()
    for event in mine:
        origin = {k: event.get(k) for k in ("timestamp", "event", "run_id", "name")}
        for name in _FIELDS:
            if event.get(name) is not None:
                builder.walk(event[name], origin)
    unresolved = sum(builder.missing.values())
    conversation = Conversation(wanted, unresolved=unresolved, left_out=builder.left_out, events=len(mine))
    for ident in builder.order:
        message, origin = builder.known[ident]
        conversation.messages.append(message)
        conversation.origins.append(origin)
    return conversation


def _line(message: dict[str, Any]) -> str:
    role = str(message.get("role"))
    head = role + (f" {message['name']}" if message.get("name") else "")
    content = message.get("content")
    text = content if isinstance(content, str) else orjson.dumps(content).decode()
    calls = message.get("tool_calls") or []
    if isinstance(calls, list):
        for call in calls:
            if isinstance(call, dict):
                text += f"\n→ {call.get('name')}({orjson.dumps(call.get('args')).decode()})"
    return f"{head}: {text}" if text else head


def render_text(conversation: Conversation) -> Iterator[str]:
    """The conversation as text, a block per message (control characters shown escaped)."""
    yield (
        f"thread {safe_text(conversation.id)}: {len(conversation.messages)} messages "
        f"from {conversation.events} events"
        + (f", {conversation.unresolved} referenced but not in these logs" if conversation.unresolved else "")
        + (f", {conversation.left_out} left out by max_items" if conversation.left_out else "")
    )
    for i, (message, origin) in enumerate(zip(conversation.messages, conversation.origins, strict=True), 1):
        yield ""
        when, event, name = (safe_text(str(origin.get(k))) for k in ("timestamp", "event", "name"))
        yield f"[{i}] {when}  {event} {name} run {safe_text(str(origin.get('run_id')))}"
        for text in _line(message).split("\n"):
            yield "    " + safe_text(text)
