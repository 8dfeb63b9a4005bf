"""`history: once`: each message of a conversation is written once; later events reference it.

A conversation is a LangGraph thread (or history session), else the trace from its second model
call on (an agent loop; a single call's trace is written as it is). A message is named by
its id, else by a keyed hash (HMAC with the redaction hash key) of its redacted form. Before an
event is processed, messages already *written* in its conversation are replaced by a reference;
after the event is written, the messages it carried in full become known. So a reference never
points at an event that was sampled out, filtered, dropped or never written; what this process
did not write itself (a restart, another worker) it writes again.

A reference stands for a run of consecutive messages:
    {"role": "history", "messages": 158, "first": "<id of the first>", "last": "<id of the last>"}
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import orjson

from lclog._threads import fork_safe
from lclog.events.serialize import Message

__all__ = ["MAX_KNOWN", "History", "Pending"]

# Messages remembered as written, over all conversations (least recently seen forgotten first):
# about 20 MB at most. A message forgotten is written in full again when next seen.
MAX_KNOWN = 100_000
# Event fields that hold content, where messages appear.
_FIELDS = ("inputs", "outputs", "data", "interrupts", "tool_input")
_CONTAINERS = (dict, list, Message)

# (fingerprint, name) of the messages an event writes in full
Pending = list[tuple[int, str]]


# A message with only these fields (and text content) is fingerprinted without serializing it.
_PLAIN = frozenset({"role", "content", "id", "name", "tool_call_id", "hash"})


def fingerprint(conversation: str, message: Message) -> int:
    """What a message says in a conversation (not its id), as a number: equal for equal messages
    in one process (Python's string hash is keyed per process)."""
    content = message.get("content")
    if type(content) is str and message.keys() <= _PLAIN:
        return hash(
            (conversation, message.get("role"), content, message.get("name"), message.get("tool_call_id"))
        )
    said = {k: v for k, v in message.items() if k != "id" and k != "hash"}
    return hash((conversation, orjson.dumps(said, option=orjson.OPT_NON_STR_KEYS)))


class History:
    """Which messages of which conversations this handler has written; thread-safe.

    Inside, a message is known by what it says (role, content, tool calls ...; not its id, which
    LangGraph adds after a tool's result is first seen): an edited message is new again.
    Written, it is named by its id, else by the keyed hash of its redacted form (`hash`).
    """

    def __init__(self, digest: Callable[[bytes], str], max_known: int = MAX_KNOWN) -> None:
        self._digest = digest
        self._max = max_known
        # fingerprint (conversation and message) -> the name it was written under
        self._known: OrderedDict[int, str] = OrderedDict()
        self._lock = fork_safe(threading.Lock())

    def __len__(self) -> int:
        return len(self._known)

    def through(self, pipeline: Any, event: dict[str, Any], run: Any) -> Any:
        """The pipeline's result for an event of `run`, in a conversation (see event_step), with
        what the conversation wrote before referenced; what the event writes in full is known
        once the pipeline passed it."""
        conversation = run.thread or run.trace_id
        if not pipeline.redacts:  # redacted as it was built: referenced now, before your processors
            pending = self.condense(event, conversation)
            item = pipeline.process(event)
        else:  # referenced once the pipeline has redacted it
            box: list[Pending | None] = []
            item = pipeline.process(event, lambda e: box.append(self.condense(e, conversation)))
            pending = box[0] if box else None
        if item is not None and pending is not None:
            self.commit(pending)
        return item

    def condense(self, event: dict[str, Any], conversation: str) -> Pending | None:
        """Replaces the messages already written in `conversation` by references; returns what
        to `commit` once the event is written (None: it carries no new message)."""
        new: dict[int, str] | None = None
        referenced = [0]
        for field in _FIELDS:
            value = event.get(field)
            if value is None or type(value) not in _CONTAINERS:
                continue
            if new is None:
                new = {}
            with self._lock:
                event[field] = self._walk(value, conversation, new, referenced)
        if referenced[0]:
            event["history_messages"] = referenced[0]
        return list(new.items()) if new else None

    def commit(self, pending: Pending) -> None:
        """Marks the messages of a written event as known."""
        with self._lock:
            known = self._known
            for key, name in pending:
                known[key] = name
                known.move_to_end(key)
            while len(known) > self._max:
                known.popitem(last=False)

    # -- walking an event's content ----------------------------------------------------------

    def _written(self, conversation: str, message: Message, new: dict[int, str]) -> str | None:
        """The name the message was written under already (or earlier in this event), else None
        (and it is named now, to be written in full)."""
        key = fingerprint(conversation, message)
        name = new.get(key) or self._known.get(key)
        if name is not None:
            if key in self._known:
                self._known.move_to_end(key)
            return name
        name = message.get("id")
        if type(name) is not str or not name:
            name = "h:" + self._digest(
                orjson.dumps(message, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
            )
            message["hash"] = name  # written with it, so that references to it resolve
        new[key] = name
        return None

    def _walk(self, value: Any, conversation: str, new: dict[int, str], referenced: list[int]) -> Any:
        t = type(value)
        if t is Message:
            name = self._written(conversation, value, new)
            if name is None:
                return value
            referenced[0] += 1
            return {"role": "history", "messages": 1, "first": name, "last": name}
        if t is dict:
            for k, v in value.items():
                if type(v) in _CONTAINERS:
                    value[k] = self._walk(v, conversation, new, referenced)
            return value
        if t is not list:
            return value
        out: list[Any] = []
        ref: dict[str, Any] | None = None
        for item in value:
            if type(item) is Message:
                name = self._written(conversation, item, new)
                if name is not None:
                    referenced[0] += 1
                    if ref is None:
                        ref = {"role": "history", "messages": 1, "first": name, "last": name}
                        out.append(ref)
                    else:
                        ref["messages"] += 1
                        ref["last"] = name
                    continue
                out.append(item)
            else:
                out.append(
                    self._walk(item, conversation, new, referenced) if type(item) in _CONTAINERS else item
                )
            ref = None
        return out
