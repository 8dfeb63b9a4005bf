"""`history: once`: each message of a conversation is written once; later events reference it.

A conversation is a LangGraph thread (or history session), else the trace from its second model
call on (an agent loop; a single call's trace is written as it is).

Each process numbers the messages it writes in full in a conversation: `seq` 0, 1, 2 ... under a
name of its own for that numbering (`history_writer`, on every event that uses it). A list's
messages already written become references to runs of those numbers, in the list's own order:

    {"role": "history", "from": 0, "messages": 158}    # the messages numbered 0 to 157

so an event's every message list reads back exactly as LangChain passed it (order, repeats,
gaps, trims), and an append-only conversation adds one reference per event, never longer ones.

A message is an earlier one only by identity, never because it says the same thing:
- the same LangChain/LangGraph `id` with the same content (an edit in place, same id and new
  content, is a new message, written in full);
- the same Python object, first seen without an id (LangGraph gives a graph's input and a tool's
  result their id as it adds them to the state) and unchanged;
- without an id, the same item at the same place: the same position of a list at the same place
  of an event of the same run name, as a chat history's list is from one turn to the next.
`RemoveMessage`s (edits of the state) are always written as they are.

A message becomes known only once an event carrying it in full has gone through the pipeline, so
a reference never points at an event that was sampled out, filtered, dropped or never written;
what this process did not write itself (a restart, another worker) it writes again.
"""

from __future__ import annotations

import itertools
import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import orjson

from lclog._threads import fork_safe, restarted_after_fork
from lclog.events.serialize import Message

__all__ = ["MAX_KNOWN", "History", "Pending"]

# Messages remembered as written, over all conversations (the least recently used conversations
# are forgotten first). A conversation forgotten gets a new numbering and writes in full again.
MAX_KNOWN = 100_000
# Event fields that hold content, where messages appear.
_FIELDS = ("inputs", "outputs", "data", "interrupts", "tool_input")
_CONTAINERS = (dict, list, Message)
# A message with only these fields (and text content) is fingerprinted without serializing it.
_PLAIN = frozenset({"role", "content", "id", "seq", "name", "tool_call_id"})


def fingerprint(message: Message) -> int:
    """What a message says (not its id or number), as a number: equal for equal messages in one
    process."""
    content = message.get("content")
    if type(content) is str and len(message) <= 6 and message.keys() <= _PLAIN:
        return hash((message.get("role"), content, message.get("name"), message.get("tool_call_id")))
    said = {k: v for k, v in message.items() if k != "id" and k != "seq"}
    return hash(orjson.dumps(said, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SORT_KEYS))


# A numbering's name: random per process (renewed in a forked child), then a count.
_prefix = [os.urandom(4).hex()]
_names = itertools.count()


def _writer_name() -> str:
    return f"{_prefix[0]}{next(_names):x}"


def _new_prefix() -> None:
    _prefix[0] = os.urandom(4).hex()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_prefix)


class _Conversation:
    """What one conversation's numbering holds: messages by id, by object, lists by place."""

    __slots__ = ("by_id", "by_object", "lists", "next", "numbers", "owner", "size", "writer")

    def __init__(self) -> None:
        self.writer = _writer_name()
        self.next = 0  # the next number
        # A message is known by the number it was written in full under (its `seq`)...
        self.by_id: dict[str, tuple[int, int]] = {}  # id -> (seq, fingerprint)
        self.by_object: dict[int, tuple[int, int]] = {}  # Message.source -> (seq, fingerprint)
        # ... and may have more numbers: those of lists numbered whole (`as`), newest last.
        self.numbers: dict[int, list[int]] = {}  # seq -> its other numbers (the last few)
        self.owner: dict[int, int] = {}  # every number -> the seq of the message it stands for
        # a list's place -> (fingerprint, seq) of each of its items (None: not a numbered message)
        self.lists: dict[tuple[Any, ...], list[tuple[int, int] | None]] = {}
        self.size = 0  # entries held, for the bound over all conversations


class History:
    """Which messages of which conversations this handler has written; thread-safe."""

    def __init__(self, max_known: int = MAX_KNOWN) -> None:
        self._max = max_known
        self._conversations: OrderedDict[str, _Conversation] = OrderedDict()
        self._size = 0
        self._lock = fork_safe(threading.RLock())  # a flush from a SIGTERM handler may build here
        _histories.add(self)

    def _after_fork(self) -> None:
        """In a forked child: the parent's numberings are the parent's (a child writes in full)."""
        self._conversations = OrderedDict()
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def through(self, pipeline: Any, event: dict[str, Any], run: Any) -> Any:
        """The pipeline's result for an event of `run`, in a conversation (see event_step), with
        what the conversation wrote before referenced; what the event writes in full is known
        once the pipeline passed it."""
        conversation = run.thread or run.trace_id
        if not pipeline.redacts:  # redacted as it was built: referenced now, before your processors
            pending = self.condense(event, conversation)
            item = pipeline.process(event)
        else:  # referenced once the pipeline has redacted it
            box: list[_Walk | None] = []
            item = pipeline.process(event, lambda e: box.append(self.condense(e, conversation)))
            pending = box[0] if box else None
        if item is not None and pending:
            self.commit(pending)
        return item

    def condense(self, event: dict[str, Any], conversation: str) -> Pending | None:
        """Replaces the messages already written in `conversation` by references and numbers the
        others; returns what to `commit` once the event is written."""
        walk: _Walk | None = None
        with self._lock:
            for field in _FIELDS:
                value = event.get(field)
                if value is None or type(value) not in _CONTAINERS:
                    continue
                if walk is None:
                    walk = _Walk(self._conversation(conversation), str(event.get("name")))
                event[field] = walk.value(value, field)
        if walk is None or not walk.used:
            return None
        event["history_writer"] = walk.state.writer
        if walk.referenced:
            event["history_messages"] = walk.referenced
        return walk

    def _conversation(self, key: str) -> _Conversation:
        state = self._conversations.get(key)
        if state is None:
            state = self._conversations[key] = _Conversation()
        else:
            self._conversations.move_to_end(key)
        return state

    def forget(self, conversation: str) -> None:
        """Forgets what `conversation` wrote (its events were not written after all): its next
        event writes in full, under a new numbering."""
        with self._lock:
            state = self._conversations.pop(conversation, None)
            if state is not None:
                self._size -= state.size

    def commit(self, pending: Pending) -> None:
        """Marks what a written event carried in full as known."""
        with self._lock:
            self._size += pending.apply()
            while self._size > self._max:
                key, dropped = self._conversations.popitem(last=False)
                self._size -= dropped.size
                if not self._conversations:  # one conversation past the bound: numbered anew
                    self._conversations[key] = _Conversation()


_histories: weakref.WeakSet[History] = restarted_after_fork()


# Numbers of a message tried as the start of a run (its newest few, and its seq).
_CANDIDATES = 4


class _Walk:
    """One event's content walked: messages numbered or referenced, and what it makes known
    once written (`History.commit`)."""

    def __init__(self, state: _Conversation, run_name: str) -> None:
        self.state = state
        self.run_name = run_name
        # What the event makes known once it is written (see apply)
        self.new_ids: dict[str, tuple[int, int]] = {}  # id -> (seq, fingerprint), also within the event
        self.new_objects: list[tuple[int, tuple[int, int]]] | None = None
        self.new_lists: list[tuple[tuple[Any, Any], list[tuple[int, int] | None], int | None]] | None = None
        self.referenced = 0
        self.used = False

    def value(self, value: Any, place: Any) -> Any:
        t = type(value)
        if t is Message:
            if value.get("role") == "remove":  # an edit of the state: written as it is
                self.used = True
                return value
            fp = fingerprint(value)
            seq = self._known(value, fp, None)
            if seq is None:
                self._number(value, fp, None)
                return value
            self.referenced += 1
            self.used = True
            return {"role": "history", "from": seq, "messages": 1}
        if t is dict:
            for k, v in value.items():
                if type(v) in _CONTAINERS:
                    value[k] = self.value(v, (place, k))
            return value
        if t is list:
            return self._list(value, place)
        return value

    def _list(self, items: list[Any], place: Any) -> list[Any]:
        for item in items:
            if type(item) is Message:
                break
        else:
            return [self.value(v, (place, i)) if type(v) in _CONTAINERS else v for i, v in enumerate(items)]
        key = (self.run_name, place)
        before = self.state.lists.get(key) or ()
        resolved, all_ids, first = self._resolve(items, place, before)
        if first is not None:  # the common case: all known by id, one run of numbers
            self.used = True
            self.referenced += len(items)
            return [{"role": "history", "from": first, "messages": len(items)}]
        out, now, block = self._encode(resolved)
        if block is not None or not all_ids or before:  # places matter to messages without an id
            if self.new_lists is None:
                self.new_lists = []
            self.new_lists.append((key, now, block))
        return out

    def _resolve(
        self, items: list[Any], place: Any, before: Sequence[tuple[int, int] | None]
    ) -> tuple[list[tuple[Any, int | None, int | None]], bool, int | None]:
        """Each item as (message, fingerprint, its seq if written before), or (value, None,
        None); whether every message has an id; and, when all are known by id and their numbers
        run on from the first, that first number."""
        resolved: list[tuple[Any, int | None, int | None]] = []
        all_ids = run_on = True
        first = -1
        ids, by_id = self.new_ids, self.state.by_id
        for i, item in enumerate(items):
            if type(item) is not Message or item.get("role") == "remove":
                value = self.value(item, (place, i)) if type(item) in _CONTAINERS else item
                resolved.append((value, None, None))
                run_on = False
                continue
            said = fingerprint(item)
            msg_id = item.get("id")
            if type(msg_id) is str:  # the common case, inline: known by its id
                hit = ids.get(msg_id) or by_id.get(msg_id)
                if hit is not None and hit[1] == said:
                    resolved.append((item, said, hit[0]))
                    if i == 0:
                        first = hit[0]
                    elif hit[0] != first + i:
                        run_on = False
                    continue
            else:
                all_ids = False
            run_on = False
            resolved.append((item, said, self._known(item, said, before[i] if i < len(before) else None)))
        return resolved, all_ids, first if run_on and all_ids else None

    def _encode(
        self, resolved: list[tuple[Any, int | None, int | None]]
    ) -> tuple[list[Any], list[tuple[int, int] | None], int | None]:
        """The list as written (new messages numbered, known ones as runs of references), each
        item's (fingerprint, seq), and the first number of the list when it is numbered whole."""
        plain = self._runs(resolved)
        whole = len(plain) > 1 and all(fp is not None for _, fp, _ in resolved)
        block = self.state.next if whole else None  # numbered whole: the list's messages in order
        if whole:
            self.state.next += len(resolved)
        out: list[Any] = []
        now: list[tuple[int, int] | None] = []
        runs = iter(plain)
        unsaid = block is not None
        left = 0  # references the run under way still covers
        for i, (item, fp, known) in enumerate(resolved):
            if fp is None or known is None:
                now.append(
                    None if fp is None else (fp, self._number(item, fp, None if block is None else block + i))
                )
                out.append(item)
                left = 0
                continue
            now.append((fp, known))
            self.referenced += 1
            self.used = True
            if left:
                left -= 1
                continue
            first, count = next(runs)
            ref: dict[str, Any] = {"role": "history", "from": first, "messages": count}
            if unsaid:  # said once, on the list's first reference
                ref["as"] = block
                unsaid = False
            out.append(ref)
            left = count - 1
        return out, now, block

    def apply(self) -> int:
        """Makes what the event carried known (the event was written); returns the entries added."""
        state = self.state
        before = len(state.by_id) + len(state.by_object)
        state.by_id.update(self.new_ids)
        if self.new_objects is not None:
            state.by_object.update(self.new_objects)
        added = len(state.by_id) + len(state.by_object) - before
        for key, now, block in self.new_lists or ():
            old = state.lists.get(key)
            state.lists[key] = now
            added += len(now) - (len(old) if old else 0)
            if block is not None:
                for i, entry in enumerate(now):
                    if entry is not None and entry[1] != block + i:
                        others = state.numbers.setdefault(entry[1], [])
                        others.append(block + i)
                        if len(others) > _CANDIDATES:
                            del others[0]
                        state.owner[block + i] = entry[1]
                        added += 1
        state.size += added
        return added

    def _runs(self, resolved: list[tuple[Any, int | None, int | None]]) -> list[tuple[int, int]]:
        """The references a list's known messages make, as runs of consecutive numbers, each
        started from the number of its first message that its successors continue furthest."""
        numbers, owner = self.state.numbers, self.state.owner
        runs: list[tuple[int, int]] = []
        size = len(resolved)
        i = 0
        while i < size:
            seq = resolved[i][2]
            if seq is None:
                i += 1
                continue
            # the stretch of known messages from here: no run goes past it
            end = i + 1
            while end < size and resolved[end][2] is not None:
                end += 1
            best = (seq, 1)
            for first in (seq, *reversed(numbers.get(seq, ()))):
                n = 1
                while i + n < end and owner.get(first + n, first + n) == resolved[i + n][2]:
                    n += 1
                if n > best[1]:
                    best = (first, n)
                if i + n == end:  # to the stretch's end: none does better
                    break
            runs.append(best)
            i += best[1]
        return runs

    def _known(self, message: Message, fp: int, at: tuple[int, int] | None) -> int | None:
        """The seq the message was written under, if it is one written before; else None."""
        msg_id = message.get("id")
        if type(msg_id) is str:
            known = self.new_ids.get(msg_id) or self.state.by_id.get(msg_id)
            if known is not None:
                return known[0] if known[1] == fp else None  # else edited in place: new content
        source = getattr(message, "source", None)
        if source is not None:
            seen = self.state.by_object.get(source)
            if seen is not None and seen[1] == fp:
                if type(msg_id) is str:  # the id it was given since
                    self._remember_id(msg_id, seen[0], fp)
                return seen[0]
        if msg_id is None and at is not None and at[0] == fp:
            return at[1]
        return None

    def _number(self, message: Message, fp: int, seq: int | None) -> int:
        """Numbers a message written in full now (`seq`, or the next number); returns it."""
        self.used = True
        state = self.state
        if seq is None:
            seq = state.next
            state.next += 1
        message["seq"] = seq
        msg_id = message.get("id")
        if type(msg_id) is str:
            self._remember_id(msg_id, seq, fp)
        source = getattr(message, "source", None)
        if source is not None:
            if self.new_objects is None:
                self.new_objects = []
            self.new_objects.append((source, (seq, fp)))
        return seq

    def _remember_id(self, msg_id: str, seq: int, fp: int) -> None:
        self.new_ids[msg_id] = (seq, fp)


Pending = _Walk  # what `condense` returns and `commit` takes
