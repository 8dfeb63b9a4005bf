"""`lclog thread ID`: one conversation rebuilt from the logs — its messages as its state now holds
them, what left it, and (`--inputs`) every model call's exact input.

Events of the thread (`thread_id`) or trace (`trace_id`) are read from any number of files and
processes, in time order. A message list reads back exactly: a history reference
(`{"role": "history", "from": 12, "messages": 5}`) stands for the messages numbered 12 to 16 by
the event's `history_writer` (see events/history.py), wherever in the logs they were written.

The conversation's state is its latest full list: a root run's output (a LangGraph graph's state
`messages`), or else the latest model call's input with the model's answer. A message that was in
an earlier such list and is not in the latest one was removed (`RemoveMessage`, a summary
replacing the history) or replaced (edited in place: the same id, new content), and is listed as
such, never mixed into the conversation.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import orjson

from lclog.cli.lines import parse
from lclog.outputs.pretty import safe_text
from lclog.pipeline.genai import is_message

__all__ = ["Conversation", "conversation_of", "read_events", "render_inputs", "render_text"]

_FIELDS = ("inputs", "outputs", "data", "interrupts", "tool_input")
_MAX_DEPTH = 16
_MODEL_STARTS = ("chat_model.start", "llm.start")
_MODEL_ENDS = ("chat_model.end", "llm.end")
_INPUT_CHARS = 100  # a message's line in `--inputs`, past which it is cut (`--json` has it whole)

Entry = tuple[dict[str, Any], dict[str, Any]]  # (message, the event that wrote it in full)


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
class ModelInput:
    """One model call's input as the model got it (None: a message not in the logs read)."""

    origin: dict[str, Any]
    messages: list[Entry | None]


@dataclass
class Conversation:
    """A conversation as the logs hold it."""

    id: str
    messages: list[dict[str, Any]] = field(default_factory=list)  # its state now, in order
    origins: list[dict[str, Any]] = field(default_factory=list)  # the event that first wrote each
    removed: list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = field(default_factory=list)
    inputs: list[ModelInput] = field(default_factory=list)
    unresolved: int = 0  # messages referenced whose full form is in none of the logs read
    left_out: int = 0  # messages `max_items` cut (`history: full`)
    events: int = 0

    def as_json(self, inputs: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "messages": [{"message": m, **o} for m, o in zip(self.messages, self.origins, strict=True)],
            "removed": [
                {"message": m, **o, "left_at": {k: left.get(k) for k in ("timestamp", "event", "run_id")}}
                for m, o, left in self.removed
            ],
            "unresolved": self.unresolved,
            "left_out": self.left_out,
            "events": self.events,
        }
        if inputs:
            out["inputs"] = [
                {**i.origin, "messages": [None if e is None else e[0] for e in i.messages]}
                for i in self.inputs
            ]
        return out


def _is_reference(value: Any) -> bool:
    return isinstance(value, dict) and value.get("role") == "history" and "messages" in value


def _count(item: Any) -> int:
    """How many messages a list's item stands for."""
    if is_message(item):
        return 1
    if _is_reference(item) and isinstance(item.get("from"), int) and isinstance(item.get("messages"), int):
        return max(item["messages"], 0)
    return 0


def _is_omitted(value: Any) -> bool:
    return (
        isinstance(value, dict) and value.get("role") == "omitted" and isinstance(value.get("messages"), int)
    )


def _origin(event: dict[str, Any]) -> dict[str, Any]:
    return {k: event.get(k) for k in ("timestamp", "event", "run_id", "name")}


class _Reader:
    """The messages every event wrote in full, by (writer, number), and the lists numbered whole
    (`as`); lists expanded with them."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.full: dict[tuple[str, int], Entry] = {}
        self.blocks: dict[str, list[tuple[int, int, list[Any], dict[str, Any]]]] = {}  # (start, n, ...)
        self.resolved: dict[tuple[str, int], Entry | None] = {}
        self.unresolved: set[tuple[str, int]] = set()
        self.old_references = 0  # references of an older format, which named no numbers
        self.left_out = 0
        # With `history: full`, a list cut at max_items (an `omitted` marker) is filled from the
        # lists read before it, which held what it left out.
        self.earlier: list[tuple[list[Entry | None], dict[Any, int]]] = []  # (list, version -> place)
        self.cut = False  # any list cut in the events read
        for event in events:
            writer = event.get("history_writer")
            origin = _origin(event)
            for name in _FIELDS:
                self._index(event.get(name), writer if isinstance(writer, str) else None, origin, 0)
        for blocks in self.blocks.values():
            blocks.sort(key=lambda b: b[0])

    def _index(self, value: Any, writer: str | None, origin: dict[str, Any], depth: int) -> None:
        if depth > _MAX_DEPTH:
            return
        if is_message(value):
            seq = value.get("seq")
            if isinstance(seq, int) and writer is not None:
                self.full.setdefault((writer, seq), (value, origin))
        elif isinstance(value, dict):
            for item in value.values():
                self._index(item, writer, origin, depth + 1)
        elif isinstance(value, list):
            self.cut = self.cut or any(_is_omitted(i) for i in value)
            start = next((i.get("as") for i in value if _is_reference(i) and "as" in i), None)
            if isinstance(start, int) and writer is not None:
                count = sum(_count(item) for item in value)
                self.blocks.setdefault(writer, []).append((start, count, value, origin))
            for item in value:
                self._index(item, writer, origin, depth + 1)

    def resolve(self, writer: str, number: int, depth: int = 0) -> Entry | None:
        """The message numbered `number` by `writer`: written in full under it, or the item at
        its place in a list numbered whole."""
        key = (writer, number)
        found = self.full.get(key)
        if found is not None or key in self.resolved:
            return found or self.resolved[key]
        entry = None
        blocks = self.blocks.get(writer, [])
        at = bisect.bisect_right(blocks, number, key=lambda b: b[0]) - 1
        if at >= 0 and depth < _MAX_DEPTH * 4:
            start, count, items, origin = blocks[at]
            offset = number - start
            if offset < count:
                for item in items:
                    n = _count(item)
                    if offset < n:
                        if is_message(item):
                            entry = (item, origin)
                        else:
                            entry = self.resolve(writer, item["from"] + offset, depth + 1)
                        break
                    offset -= n
        self.resolved[key] = entry
        return entry

    def expand(self, items: list[Any], event: dict[str, Any]) -> list[Entry | None] | None:
        """The messages a list stands for, in its order; None if it holds no message."""
        writer = event.get("history_writer")
        origin = _origin(event)
        out: list[Entry | None] = []
        gaps: list[tuple[int, int]] = []  # (place in out, messages a cut left out there)
        found = False
        for item in items:
            if is_message(item):
                seq = item.get("seq")
                known = isinstance(seq, int) and isinstance(writer, str)
                entry = self.full.get((writer, seq)) if known else None  # type: ignore[arg-type]
                out.append(entry or (item, origin))
                found = True
            elif _is_reference(item):
                found = True
                start, count = item.get("from"), item.get("messages")
                if not isinstance(count, int) or count < 1:
                    continue
                if not isinstance(start, int) or not isinstance(writer, str):
                    self.old_references += count
                    out.extend([None] * count)
                    continue
                for seq in range(start, start + count):
                    entry = self.resolve(writer, seq)
                    if entry is None:
                        self.unresolved.add((writer, seq))
                    out.append(entry)
            elif _is_omitted(item):
                gaps.append((len(out), item["messages"]))
                found = True
        if not found:
            return None
        for at, count in reversed(gaps):
            out[at:at] = self._fill(out[at:], count)
        if self.cut:
            self.earlier.append((out, {_version(e[0]): i for i, e in enumerate(out) if e is not None}))
        return out

    def _fill(self, after: list[Entry | None], count: int) -> list[Entry | None]:
        """The `count` messages a cut left out before `after`, from the latest list read that
        holds the message after the cut with messages before it."""
        first = next((e for e in after if e is not None), None)
        found: list[Entry | None] = []
        if first is not None:
            version = _version(first[0])
            for entries, places in reversed(self.earlier):
                at = places.get(version)
                if at:
                    found = entries[max(0, at - count) : at]
                    break
        self.left_out += count - len(found)
        return found

    def message_lists(
        self, value: Any, event: dict[str, Any], depth: int = 0
    ) -> Iterator[list[Entry | None]]:
        """Every list of messages in value (a single message is a list of one)."""
        if depth > _MAX_DEPTH:
            return
        if isinstance(value, list):
            expanded = self.expand(value, event)
            if expanded is not None:
                yield expanded
                return
            for item in value:
                yield from self.message_lists(item, event, depth + 1)
        elif is_message(value) or _is_reference(value):
            expanded = self.expand([value], event)
            if expanded:
                yield expanded
        elif isinstance(value, dict):
            for item in value.values():
                yield from self.message_lists(item, event, depth + 1)


def _select(wanted: str, events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
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
    return mine


def _time(event: dict[str, Any]) -> str:
    return str(event.get("timestamp") or "")


State = tuple[list[Entry | None], dict[str, Any]]  # a full list of the conversation, its event


def conversation_of(wanted: str, events: Iterable[dict[str, Any]]) -> Conversation:
    """The conversation of thread `wanted` from events in any order; for a trace id, the
    conversation up to the end of that trace (its thread's history included)."""
    mine = _select(wanted, events)
    reader = _Reader(mine)
    inputs, states = _calls_and_states(reader, mine)
    conversation = Conversation(wanted, inputs=inputs, events=len(mine))
    if states:
        final = states[-1][0]
        for entry in final:
            if entry is not None:
                conversation.messages.append(entry[0])
                conversation.origins.append(entry[1])
        conversation.removed = _removed(states)
        conversation.unresolved = final.count(None)
    conversation.unresolved = max(conversation.unresolved, len(reader.unresolved) + reader.old_references)
    conversation.left_out = reader.left_out
    return conversation


def _calls_and_states(reader: _Reader, events: list[dict[str, Any]]) -> tuple[list[ModelInput], list[State]]:
    """Each model call's input, and the conversation's full lists in time order: what a graph's
    root run returned, and each model call's input with its answer."""
    inputs: list[ModelInput] = []
    open_calls: dict[Any, list[Entry | None]] = {}
    states: list[State] = []
    for event in events:
        name = event.get("event")
        if reader.cut:  # every list, for the conversation's order
            for field in _FIELDS:
                for _ in reader.message_lists(event.get(field), event):
                    pass
        if name in _MODEL_STARTS:
            for messages in reader.message_lists(event.get("inputs"), event):
                inputs.append(ModelInput(_origin(event), messages))
                open_calls[event.get("run_id")] = messages
                break  # a batch: one call per prompt would need one run each; its first
        elif name in _MODEL_ENDS:
            answer = [m for lst in reader.message_lists(event.get("outputs"), event) for m in lst]
            prompt = open_calls.pop(event.get("run_id"), None)
            if prompt is not None:
                states.append(([*prompt, *answer[:1]], event))
        elif event.get("parent_run_id") is None and name == "chain.end":
            state = _root_state(reader, event)
            if state is not None:
                states.append((state, event))
    return inputs, states


def _root_state(reader: _Reader, event: dict[str, Any]) -> list[Entry | None] | None:
    """The message list a root run returned: a graph's state `messages`, or a list of messages."""
    outputs = event.get("outputs")
    graph_state = isinstance(outputs, dict) and "messages" in outputs
    source = outputs["messages"] if graph_state else outputs  # type: ignore[index]
    for messages in reader.message_lists(source, event):
        return messages if graph_state or len(messages) > 1 else None
    return None


def _removed(states: list[State]) -> list[tuple[Any, ...]]:
    """Each message (each version of one edited in place) that was in a state and is not in the
    last one: (message, the event that wrote it, the event of the first state without it)."""
    last_seen: dict[Any, tuple[Entry, int]] = {}  # a version -> (entry, state index)
    for index, (state, _) in enumerate(states):
        for entry in state:
            if entry is not None:
                last_seen[_version(entry[0])] = (entry, index)
    final = {_version(e[0]) for e in states[-1][0] if e is not None}
    return [
        (entry[0], entry[1], _origin(states[index + 1][1]))
        for version, (entry, index) in last_seen.items()
        if version not in final
    ]


def _version(message: dict[str, Any]) -> Any:
    """A message as one version of it: its id and what it says, else the writing it came from."""
    msg_id = message.get("id")
    said = {k: v for k, v in message.items() if k != "seq"}
    if isinstance(msg_id, str) and msg_id:
        return ("id", orjson.dumps(said, option=orjson.OPT_SORT_KEYS, default=str))
    if isinstance(message.get("seq"), int):
        return ("written", id(message))  # one writing of a message without an id: one message
    return ("said", orjson.dumps(said, option=orjson.OPT_SORT_KEYS, default=str))


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
    return f"{head}: {text}" if text and not text.startswith("\n") else head + text


def _block(i: str, message: dict[str, Any], origin: dict[str, Any]) -> Iterator[str]:
    when, event, name = (safe_text(str(origin.get(k))) for k in ("timestamp", "event", "name"))
    yield f"[{i}] {when}  {event} {name} run {safe_text(str(origin.get('run_id')))}"
    for text in _line(message).split("\n"):
        yield "    " + safe_text(text)


def render_text(conversation: Conversation) -> Iterator[str]:
    """The conversation as text, a block per message (control characters shown escaped)."""
    yield (
        f"thread {safe_text(conversation.id)}: {len(conversation.messages)} messages "
        f"from {conversation.events} events"
        + (f", {len(conversation.removed)} removed or replaced" if conversation.removed else "")
        + (f", {conversation.unresolved} referenced but not in these logs" if conversation.unresolved else "")
        + (f", {conversation.left_out} left out by max_items" if conversation.left_out else "")
    )
    for i, (message, origin) in enumerate(zip(conversation.messages, conversation.origins, strict=True), 1):
        yield ""
        yield from _block(str(i), message, origin)
    if conversation.removed:
        yield ""
        yield f"removed or replaced ({len(conversation.removed)}): no longer in the conversation"
        for i, (message, origin, left) in enumerate(conversation.removed, 1):
            yield ""
            yield from _block(f"-{i}", message, origin)
            yield f"    left at {safe_text(str(left.get('timestamp')))}  {safe_text(str(left.get('event')))}"


def _count_of(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def render_inputs(conversation: Conversation) -> Iterator[str]:
    """Every model call's input, message by message, as the model got it."""
    yield f"thread {safe_text(conversation.id)}: {_count_of(len(conversation.inputs), 'model call')}"
    for n, call in enumerate(conversation.inputs, 1):
        origin = call.origin
        yield ""
        yield (
            f"call {n}: {safe_text(str(origin.get('timestamp')))}  {safe_text(str(origin.get('name')))} "
            f"run {safe_text(str(origin.get('run_id')))}, {_count_of(len(call.messages), 'message')}"
        )
        for i, entry in enumerate(call.messages, 1):
            if entry is None:
                yield f"  [{i}] (not in these logs)"
                continue
            for j, text in enumerate(_line(entry[0]).split("\n")):
                text = safe_text(text)
                text = text if len(text) <= _INPUT_CHARS else text[: _INPUT_CHARS - 1] + "…"
                yield (f"  [{i}] " if j == 0 else "      ") + text
