"""Finding pattern matches in UTF-8 bytes: leftmost first, then the earlier pattern, never overlapping.

A few RE2 programs, each over a part of the patterns (one over all of them for long texts), find
each next match: the leftmost of their next matches; which pattern it was comes from an RE2 set
of that part run on the match and its neighbouring characters. A match the caller rejects (a
validator said no) is first tried shorter, from the same start (an IBAN followed by a currency
code); failing that, its pattern searches again from the next character while the others may
still match inside it: then the patterns run one by one until the text is past every rejected span.
"""

from __future__ import annotations

import heapq
import itertools
import sys
import time
from collections.abc import Callable
from typing import Any

import re2

__all__ = ["ACCEPT", "LEAVE", "REJECT", "SHIELD", "Scanner"]

# What the caller makes of a match: report it, leave the text as it is, not a match at all, or
# not a match that still covers its text (an invalid IBAN: its digits are not a phone number).
ACCEPT, LEAVE, REJECT, SHIELD = "accept", "leave", "reject", "shield"

_BOTH = re2._Anchor.ANCHOR_BOTH
_START = re2._Anchor.ANCHOR_START
_UNANCHORED = re2._Anchor.UNANCHORED
_NO_MATCH = -1
_ANY = "(?s:.)"
# Verdicts remembered per scanner, for matches up to this long (secrets recur across texts).
_JUDGED_ENTRIES = 4096
_JUDGED_MAX_BYTES = 512
# The CPU time the fused search may take on one text. A leftmost search scans on while a partial
# match that started earlier is alive, so a text of long runs keeping partial matches of one rule
# alive, with matches of others inside them, costs a scan to the run's end per match: quadratic.
# Past this budget, far above what any ordinary text takes, the rules run one by one (linear).
# It grows with the matches found: judging a new secret takes microseconds, so text dense with
# secrets is slow for that reason alone, and the fused search remains its fastest path.
_FUSED_BUDGET_NS = 200_000
_FUSED_NS_PER_BYTE = 50
_FUSED_NS_PER_MATCH = 20_000
_CLOCK_EVERY = 8
# Texts longer than this are searched by one program over every pattern (see Scanner).
_WHOLE_FROM = 64 << 10
# A rejected match up to this long is tried shorter and searched again from its next character;
# a longer one only after its end, so that hostile text costs linear time.
_RETRY_MAX_BYTES = 64
# A pattern's next match when it has none left in the text: past any position.
_NONE_LEFT = (sys.maxsize,)

# (text, pattern index, reported span's start and end, the match's start) -> ACCEPT ...
Verdict = Callable[[bytes, int, int, int, int], str]
Span = tuple[int, int, int]


def options() -> Any:
    """RE2 options for every program here: bounded memory, errors raised not logged."""
    opts = re2.Options()
    opts.max_mem = 64 << 20
    opts.log_errors = False
    return opts


def compile_pattern(pattern: str) -> Any:
    """A new compiled RE2 program of a pattern (never the re2 module's cached one, which a
    forked child shares with its parent); raises re2.error."""
    return re2._Regexp(pattern, options())._regexp


def without_groups(pattern: str) -> str:
    """The pattern with every capturing group made non-capturing (same matches, fewer captures)."""
    out: list[str] = []
    i, n = 0, len(pattern)
    in_class = False
    while i < n:
        c = pattern[i]
        if c == "\\":
            text, i = _escape(pattern, i)
        elif in_class:
            text, i, in_class = _in_class(pattern, i)
        elif c == "[":
            text, i = _class_start(pattern, i)
            in_class = True
        elif c == "(":
            text, i = _group_start(pattern, i)
        else:
            text, i = c, i + 1
        out.append(text)
    return "".join(out)


def _escape(pattern: str, i: int) -> tuple[str, int]:
    """An escape at i (`\\Q...\\E`: literal text), and where the pattern goes on."""
    if pattern.startswith("\\Q", i):  # literal text up to \E
        end = pattern.find("\\E", i + 2)
        end = len(pattern) if end < 0 else end + 2
        return pattern[i:end], end
    return pattern[i : i + 2], i + 2


def _in_class(pattern: str, i: int) -> tuple[str, int, bool]:
    """A character class's item at i (`[:alpha:]` whole), where the pattern goes on, and
    whether the class goes on."""
    if pattern.startswith("[:", i):  # [:alpha:] inside a class
        end = pattern.find(":]", i + 2)
        if end >= 0:
            return pattern[i : end + 2], end + 2, True
    c = pattern[i]
    return c, i + 1, c != "]"


def _class_start(pattern: str, i: int) -> tuple[str, int]:
    """A class's opening at i: `[`, `^`, and a leading `]` (a literal)."""
    j = i + 1
    if pattern.startswith("^", j):
        j += 1
    if pattern.startswith("]", j):  # a leading ] is a literal
        j += 1
    return pattern[i:j], j


def _group_start(pattern: str, i: int) -> tuple[str, int]:
    """A group's opening at i, non-capturing, named ones included."""
    if not pattern.startswith("(?", i):
        return "(?:", i + 1
    for named in ("(?P<", "(?<"):
        if pattern.startswith(named, i):
            end = pattern.find(">", i)
            return "(?:", end + 1 if end >= 0 else len(pattern)  # unclosed: RE2 rejects it
    return "(", i + 1


def _leftmost(programs: list[Any], nexts: list[tuple[int, int, int]], data: bytes, taken: int) -> bool:
    """Puts the leftmost match of all parts first in `nexts` (a heap of each part's next match):
    a part whose next match lies behind the text taken searches again from there, a part with
    none left leaves. False when no part has one."""
    end = len(data)
    while nexts and nexts[0][0] < taken:
        part = nexts[0][1]
        start, stop = programs[part].Match(_UNANCHORED, data, taken, end)[0]
        if start == _NO_MATCH:
            heapq.heappop(nexts)
        else:
            heapq.heapreplace(nexts, (start, part, stop))
    return bool(nexts)


def _window(data: bytes, start: int, stop: int) -> tuple[int, int]:
    """The bounds of a match with one whole (UTF-8) character either side, where there is one."""
    end = len(data)
    before = start - 1 if start else 0
    while before and 0x80 <= data[before] < 0xC0:
        before -= 1
    after = stop + 1 if stop < end else end
    while after < end and 0x80 <= data[after] < 0xC0:
        after += 1
    return before, after


def _next_match(
    single: tuple[Any, int], index: int, data: bytes, pos: int, ahead: dict[int, tuple[int, ...]]
) -> tuple[int, ...]:
    """Pattern index's first match at or after pos, (start, index, stop, reported span), or
    `_NONE_LEFT`; remembered in `ahead`: the first match at or after an earlier position that
    starts at or after pos is also the first at or after pos."""
    known = ahead.get(index)
    if known is None or known[0] < pos:
        regexp, group = single
        spans = regexp.Match(_UNANCHORED, data, pos, len(data))
        start, stop = spans[0]
        known = _NONE_LEFT if start == _NO_MATCH else (start, index, stop, *_reported(spans, group))
        ahead[index] = known
    return known


def _search_set(patterns: list[str]) -> Any:
    """An RE2 set telling which of patterns occur in a text."""
    found = re2.Set.SearchSet(options())
    for p in patterns:
        found.Add(p)
    found.Compile()
    return found._set


def _fused(patterns: list[str]) -> Any:
    """One RE2 program matching any of patterns, leftmost first, then the earlier pattern."""
    return compile_pattern("|".join(f"(?:{without_groups(p)})" for p in patterns))


def _reported(spans: list[tuple[int, int]], group: int) -> tuple[int, int]:
    """The span to report of a match: its `group` (-1: the first that took part), else all of it."""
    if group:
        inner = spans[1:] if group < 0 else spans[group : group + 1]
        for span in inner:
            if span[0] != _NO_MATCH:
                return span
    return spans[0]


def _again(start: int, stop: int) -> int:
    """Where a pattern whose match [start, stop) was rejected searches again."""
    return start + 1 if stop - start <= _RETRY_MAX_BYTES else stop


class Scanner:
    """Finds non-overlapping matches of ordered patterns; the caller judges each match."""

    def __init__(
        self,
        patterns: list[str],
        groups: list[int],
        verdict: Verdict,
        shorter: list[bool] | None = None,
        parts: list[int] | None = None,
        leads: list[int] | None = None,
    ) -> None:
        # groups[i]: the capture group holding what to report (0: the whole match, -1: the
        # first group that took part).
        self._singles = [(compile_pattern(p), g) for p, g in zip(patterns, groups, strict=True)]
        # Per pattern: whether a rejected match of it is tried shorter from the same start.
        self._shorter_ok = shorter or [False] * len(patterns)
        # Per pattern: how many bytes before a match its verdict reads (the start of a name the
        # match began inside); a remembered verdict holds for a match where they are the same.
        self._leads = leads or [0] * len(patterns)
        self._verdict = verdict
        self._patterns = patterns
        # The fused search, in parts: the patterns from each index in `parts` to the next are one
        # RE2 program (and one set, which tells the patterns that occur at all). A program over
        # every pattern meets text dense with secrets it has not seen with DFA states for the
        # product of all patterns' states, built anew for every new secret; parts hold the sum.
        # Long texts, mostly prose where a pass per part costs most, are searched by one program.
        bounds = [0, *sorted(set(parts or ()) - {0, len(patterns)}), len(patterns)]
        spans = list(itertools.pairwise(bounds))
        self._parts = ([_fused(patterns[a:b]) for a, b in spans], spans)
        self._whole = ([_fused(patterns)], [(0, len(patterns))])
        self._part_sets = [(a, _search_set(patterns[a:b])) for a, b in spans]
        self._sets: dict[tuple[int, int, bool, bool], Any] = {}
        # Verdicts by match and its neighbouring characters, with the text before the match that
        # the verdict read (b"" where none), which decide them.
        self._judged: dict[tuple[bytes, int, int], tuple[int, int, int, str, bytes]] = {}

    def scan(self, data: bytes) -> list[Span]:
        """Returns (start, end, pattern index) of the accepted matches, left to right."""
        end = len(data)
        programs, spans = self._whole if end > _WHOLE_FROM else self._parts
        # Each part's next match found so far, as (start, part, stop), the leftmost first; at one
        # start the earlier part (its patterns come first).
        nexts: list[tuple[int, int, int]] = [(-1, i, -1) for i in range(len(programs))]
        found: list[Span] = []
        judged, leads = self._judged, self._leads
        present: list[int] | None = None  # the patterns occurring at all, once a match is rejected
        ahead: dict[int, tuple[int, ...]] = {}  # and each one's next match found so far
        taken: int | None = 0
        budget = _FUSED_BUDGET_NS + _FUSED_NS_PER_BYTE * end
        deadline: int | None = None
        countdown = _CLOCK_EVERY
        while taken is not None and taken < end:
            countdown -= 1
            if not countdown:  # the clock is read every few matches, from the first few on
                countdown = _CLOCK_EVERY
                now = time.thread_time_ns()  # this thread's work, not its wait for the GIL
                if deadline is None:
                    deadline = now + budget
                elif now > deadline + _FUSED_NS_PER_MATCH * len(found):
                    # Partial matches of some rule keep the fused search going to their far
                    # end for every match (hostile text): the rules run one by one for the rest.
                    if present is None:
                        present = self._present_in(data)
                    self._one_by_one(data, present, taken, {}, found, ahead, resume=False)
                    break
            if not _leftmost(programs, nexts, data, taken):
                break
            start, part, stop = nexts[0]
            # The match and a character either side decide which pattern it is and its verdict.
            before, after = _window(data, start, stop)
            key = (data[before:after], start - before, stop - before)
            seen = judged.get(key)
            if seen is None or (leads[seen[0]] and data[max(0, start - leads[seen[0]]) : start] != seen[4]):
                seen = self._judge(data, start, stop, key, before < start, after > stop, spans[part])
            index, s, e, outcome, _ = seen
            stop, s, e, outcome = self._settled(data, index, start, stop, start + s, start + e, outcome)
            if outcome is ACCEPT:
                found.append((s, e, index))
            if outcome is REJECT or stop == start:
                # That pattern searches again inside or after its match, the others from where
                # text is free.
                floor = _again(start, stop) if outcome is REJECT else stop + 1
                pos = taken if outcome is REJECT else stop
                if present is None:
                    present = self._present_in(data)
                taken = self._one_by_one(data, present, pos, {index: floor}, found, ahead, resume=True)
            else:
                taken = stop
        return found

    def _present_in(self, data: bytes) -> list[int]:
        """The patterns that occur in data."""
        return [first + i for first, part in self._part_sets for i in part.Match(data)]

    def _judge(
        self,
        data: bytes,
        start: int,
        stop: int,
        key: tuple[bytes, int, int],
        before: bool,
        after: bool,
        part: tuple[int, int],
    ) -> tuple[int, int, int, str, bytes]:
        """(pattern index, reported span relative to start, verdict, the text before the match it
        read) of a match, remembered by key."""
        index, s, e = self._identify(data, start, stop, key[0], before, after, part)
        lead = data[max(0, start - self._leads[index]) : start]
        seen = (index, s - start, e - start, self._verdict(data, index, s, e, start), lead)
        if len(key[0]) <= _JUDGED_MAX_BYTES:
            if len(self._judged) >= _JUDGED_ENTRIES:
                self._judged.clear()
            self._judged[key] = seen
        return seen

    def _settled(
        self, data: bytes, index: int, start: int, stop: int, s: int, e: int, outcome: str
    ) -> tuple[int, int, int, str]:
        """(end, reported span, verdict) of a match as it stands: a rejected or shielded one
        gives way to its longest shorter match that is not; failing that, a shielded match is
        left as it is and a rejected one stays rejected."""
        if outcome is REJECT or outcome is SHIELD:
            shorter = self._shorter(data, index, start, stop)
            if shorter is not None:
                return shorter
            if outcome is SHIELD:
                return stop, s, e, LEAVE
        return stop, s, e, outcome

    def _shorter(self, data: bytes, index: int, start: int, stop: int) -> tuple[int, int, int, str] | None:
        """The longest shorter match of a rejected pattern at the same start that is not rejected:
        (its end, reported span, verdict), or None."""
        if stop - start > _RETRY_MAX_BYTES or not self._shorter_ok[index]:
            return None
        regexp, group = self._singles[index]
        while stop - 1 > start:
            spans = regexp.Match(_START, data, start, stop - 1)
            if spans[0][0] == _NO_MATCH or spans[0][1] == start:
                return None
            stop = spans[0][1]
            s, e = _reported(spans, group)
            outcome = self._verdict(data, index, s, e, start)
            if outcome is not REJECT and outcome is not SHIELD:
                return stop, s, e, outcome
        return None

    def scan_each(self, data: bytes) -> list[Span]:
        """What `scan` returns, found by running each pattern on its own (slower, same result)."""
        found: list[Span] = []
        present = self._present_in(data)
        if present:
            self._one_by_one(data, present, 0, {}, found, {}, resume=False)
        return found

    def _identify(
        self,
        data: bytes,
        start: int,
        stop: int,
        window: bytes,
        before: bool,
        after: bool,
        part: tuple[int, int],
    ) -> tuple[int, int, int]:
        """The pattern whose match the fused search found at [start, stop), and its reported span.

        It is the earliest pattern matching exactly there, given the characters either side
        (`window`, with one character before and/or after): a set anchored on it finds it. It is
        in the part whose program found the match: an earlier part matching here at all would
        have been the fused match.
        """
        first, last = part
        matcher = self._sets.get((first, last, before, after))
        if matcher is None:
            matcher = self._sets[first, last, before, after] = self._window_set(first, last, before, after)
        candidates = matcher.Match(window) if matcher is not False else []
        if candidates:
            # The earliest pattern with a match of exactly this span: an earlier one matching
            # here at all would have been the fused match.
            index = first + min(candidates)
            if not self._singles[index][1]:
                return index, start, stop
            found = self._in_place(data, index, start, stop)
            if found is not None:
                return found
        # A window the set cannot read (not UTF-8): the part's patterns in order, in place.
        for index in range(first, last):
            found = self._in_place(data, index, start, stop)
            if found is not None:
                return found
        raise AssertionError("no pattern matches the fused match")  # the fused program is their union

    def _in_place(self, data: bytes, index: int, start: int, stop: int) -> tuple[int, int, int] | None:
        """Pattern `index` matching exactly [start, stop) in its text: (index, reported span)."""
        regexp, group = self._singles[index]
        spans = regexp.Match(_BOTH, data, start, stop)
        if spans[0][0] == _NO_MATCH:
            return None
        return index, *_reported(spans, group)

    def _window_set(self, first: int, last: int, before: bool, after: bool) -> Any:
        """A set matching each pattern from first to last exactly, with one character before
        and/or after it."""
        matcher = re2.Set(_BOTH, options())
        try:
            for p in self._patterns[first:last]:
                matcher.Add(f"{_ANY if before else ''}(?:{p}){_ANY if after else ''}")
            matcher.Compile()
        except re2.error:
            return False
        return matcher._set

    def _one_by_one(
        self,
        data: bytes,
        present: list[int],
        taken: int,
        floors: dict[int, int],
        found: list[Span],
        ahead: dict[int, tuple[int, ...]],
        *,
        resume: bool,
    ) -> int | None:
        """Runs each present pattern on its own, merged left to right, appending to `found`.

        `floors`: where patterns whose match was rejected search again. `ahead`: each pattern's
        next match found so far in this text, kept across calls so that no stretch of text is
        searched twice by one pattern (hostile text alternating rejected and accepted matches
        would otherwise cost quadratic time). With `resume`, returns where the text is free once
        it is past every floor; otherwise runs to the end (None).
        """
        end = len(data)
        singles, verdict = self._singles, self._verdict
        heap: list[tuple[int, ...]] = []
        limit = max(floors.values(), default=0) if resume else end + 1

        def push(index: int, pos: int) -> None:
            if pos < end:
                known = _next_match(singles[index], index, data, pos, ahead)
                if known is not _NONE_LEFT:
                    heapq.heappush(heap, known)

        for index in present:
            push(index, max(taken, floors.get(index, 0)))
        while heap:
            start, index, stop, s, e = heapq.heappop(heap)
            if start < taken:  # overlaps an accepted span: look again after it
                push(index, taken)
                continue
            after = stop if stop > start else stop + 1
            shortened, s, e, outcome = self._settled(
                data, index, start, stop, s, e, verdict(data, index, s, e, start)
            )
            if outcome is REJECT:
                limit = max(limit, after)
                push(index, _again(start, stop))
                continue
            if shortened != stop:
                stop = after = shortened
            push(index, after)
            if outcome is ACCEPT:
                found.append((s, e, index))
            taken = stop
            if after > stop:
                limit = max(limit, after)
            elif taken >= limit:
                return taken
        return None
