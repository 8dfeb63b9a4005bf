"""The secret scanner: one fused search must find exactly what every rule finds on its own."""

from __future__ import annotations

import string
from typing import Any

import pytest
import re2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lclog import ConfigError, Redactor, load_config
from lclog.config import RedactionSettings
from lclog.redact import _scanner
from lclog.redact._scanner import compile_pattern, without_groups
from tests.redact.test_redactor import SECRETS

_UNANCHORED = re2._Anchor.UNANCHORED

# Shapes a validator rejects, shapes kept as they are, and text glued to them without spaces, so
# that word boundaries, overlaps and rejected matches with others inside them all come up.
NEAR_MISSES = st.sampled_from(
    [
        "4111111111111112",  # fails Luhn
        "4111 1111 1111 1112",
        "666-12-3456",  # SSN area never issued
        "999.1.1.1",
        "+1 415-555-01",
        "123-45-6789-0",
        "Bearer authentication",
        "01a2105e-5c13-76b7-8e69-92b80c9da44e",
        "2024-05-01T10:00:00Z",
        "v1.2.3",
        "[REDACTED:email]",
        "[email:0123456789ab]",
        "token=",
        "api_key:",
        "sk-",
        "@",
        "://",
        "eyJ",
        "DE89 3704 0044 0532 0130 01",
    ]
)
GLUE = st.sampled_from(
    ["", " ", "\n", "=", ":", '"', "'", "/", "-", "_", ".", "é", "日本", "x", "7", "\udcff"]
)
PIECE = st.one_of(st.one_of(*SECRETS.values()), NEAR_MISSES, st.text(string.printable, max_size=6))
TEXT = st.lists(st.tuples(PIECE, GLUE), max_size=10).map(lambda parts: "".join(p + g for p, g in parts))

DEFAULT = Redactor()
CONFIGURED = Redactor(
    RedactionSettings(
        patterns=[
            {"name": "employee_id", "regex": r"\bEMP-(?P<digits>[0-9]{6})\b"},
            {"name": "ticket", "regex": r"(?i)tick(et)?[#:]\d+"},
            {"name": "word_code", "regex": r"\bcode-[0-9]{4}"},
            {"name": "any_code", "regex": r"code-[0-9]{4}"},
        ],
        allow={"values": ["jane@example.com"], "patterns": [r"[a-z]+@example\.test"]},
        modes={"email": "hash"},
        hash_key="k",
        disable=["slack_webhook", "artifactory_token"],  # rules that begin a part of the search
    )
)


def _both(redactor: Redactor, text: str) -> tuple[Any, Any]:
    data = text.encode("utf-8", "surrogatepass")
    scanner = redactor._scanner
    return scanner.scan(data), scanner.scan_each(data)


@settings(max_examples=500, deadline=None)
@given(TEXT)
def test_fused_search_finds_what_each_rule_finds_on_its_own(text):
    fused, each = _both(DEFAULT, text)
    assert fused == each


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(TEXT)
def test_rules_one_by_one_take_over_mid_text_with_the_same_result(monkeypatch, text):
    # Past its time budget the fused search hands the rest of the text to the rules one by one.
    monkeypatch.setattr(_scanner, "_FUSED_BUDGET_NS", -(10**12))
    fused, each = _both(DEFAULT, text)
    assert fused == each


@settings(max_examples=200, deadline=None)
@given(
    TEXT,
    st.sampled_from(
        ["EMP-123456", "ticket#42", "TICK:7", "code-1234", "jane@example.com", "ann@example.test"]
    ),
)
def test_fused_search_agrees_with_custom_patterns_and_allowlists(text, extra):
    fused, each = _both(CONFIGURED, f"{text}{extra} {text}")
    assert fused == each


NAME_WORD = st.sampled_from(["", "api", "test", "OPENAI", "sort", "mon", "%3F", "name", "x"])


def _judged_afresh(redactor: Redactor, text: str) -> str:
    redactor._scanner._judged.clear()
    redactor._cache.clear()
    return redactor.redact_text(text)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(NAME_WORD, NAME_WORD), min_size=2, max_size=6, unique=True),
    st.sampled_from(["_", "__", "", "."]),
    st.sampled_from(["key", "KEY", "token"]),
    st.sampled_from(["=", ": ", " := "]),
    st.sampled_from(["hunter2", "3", "Xk39fjs02kfJ2mxqP7"]),
)
def test_a_verdict_remembered_from_one_text_never_decides_another(words, joint, key, operator, value):
    # The same value under names that differ before or after the secret word (`test__key=hunter2`,
    # then `api__key=hunter2`): what one text's name made of the match must not carry over.
    names = [f"{head}{joint}{key}{'_' if tail else ''}{tail}" for head, tail in words]
    texts = [f"{name}{operator}{value}" for name in names]
    expected = {text: _judged_afresh(DEFAULT, text) for text in texts}
    for first in texts:
        for then in texts:
            _judged_afresh(DEFAULT, first)
            DEFAULT._cache.clear()  # the whole-text cache: the second text is scanned too
            assert DEFAULT.redact_text(then) == expected[then], (first, then)


def test_a_secret_under_a_secret_name_is_redacted_after_the_same_value_under_a_plain_one():
    redactor = Redactor()
    assert redactor.redact_text("test__key=hunter2") == "test__key=hunter2"
    assert redactor.redact_text("api__key=hunter2") == "api__key=[REDACTED:key_value]"


def test_a_rejected_match_leaves_room_for_other_rules_inside_it():
    # A key's value that is a variable reference is no secret, but an email inside it is.
    text = "token=$HOME/bob@corp.io and more"
    assert DEFAULT.redact_text(text) == "token=$HOME/[REDACTED:email] and more"
    fused, each = _both(DEFAULT, text)
    assert fused == each


def test_a_card_number_failing_luhn_is_left_whole():
    # Not a card, and its digits are not a phone number either: the number stays as written.
    text = "call 4111 1111 1111 1112 or bob@corp.io"
    assert DEFAULT.redact_text(text) == "call 4111 1111 1111 1112 or [REDACTED:email]"
    fused, each = _both(DEFAULT, text)
    assert fused == each


def test_the_same_match_is_judged_by_the_characters_around_it():
    # One span, two rules: the first only at the start of a word.
    r = Redactor(
        RedactionSettings(
            patterns=[
                {"name": "word_code", "regex": r"\bcode-[0-9]{4}"},
                {"name": "any_code", "regex": r"code-[0-9]{4}"},
            ]
        )
    )
    for _ in range(2):  # the second round answers from remembered verdicts
        assert r.redact_text("see code-1234") == "see [REDACTED:word_code]"
        assert r.redact_text("seecode-1234") == "see[REDACTED:any_code]"
        assert r.redact_text("日code-1234") == "日[REDACTED:word_code]"
        assert r.redact_text("code-1234!") == "[REDACTED:word_code]!"


@st.composite
def regex(draw: Any, depth: int = 0) -> str:
    """Patterns full of parentheses in every role RE2 gives them."""
    atoms = [
        "a", "b", r"\(", r"\)", r"\[", "[(a]", "[^)b]", "[]a(]", "[[:alpha:](]", r"\Qa(b\E", r"\d", ".",
    ]  # fmt: skip
    if depth >= 3 or draw(st.booleans()):
        return draw(st.sampled_from(atoms))
    inner = draw(regex(depth + 1))
    other = draw(regex(depth + 1))
    form = draw(
        st.sampled_from(["({})", "(?:{})", "(?P<g{n}>{})", "(?i:{})", "{}|{o}", "{}*", "{}{{1,2}}", "{}{o}"])
    )
    return form.format(inner, n=draw(st.integers(0, 10**6)), o=other)


@settings(max_examples=300, deadline=None)
@given(regex(), st.lists(st.text("ab()[]:Q\\E1 A", max_size=12), min_size=1, max_size=5))
def test_stripping_groups_keeps_every_match(pattern, texts):
    try:
        original = compile_pattern(pattern)
    except re2.error:  # duplicate group names from the generator
        return
    bare = compile_pattern(without_groups(pattern))
    assert bare.NumberOfCapturingGroups() == 0
    for text in texts:
        data = text.encode()
        assert (
            bare.Match(_UNANCHORED, data, 0, len(data))[0]
            == original.Match(_UNANCHORED, data, 0, len(data))[0]
        )


def test_patterns_too_large_for_one_program_fail_at_load_naming_the_fix():
    patterns = [{"name": f"big_{c}", "regex": rf"{c}\pL{{1000}}"} for c in "abcd"]
    with pytest.raises(ConfigError, match=r"redaction\.patterns: .* too large .* shorten"):
        load_config({"redaction": {"patterns": patterns}})


class _Counting:
    """An RE2 program or set that counts its searches."""

    def __init__(self, program: Any) -> None:
        self.program, self.calls = program, 0

    def Match(self, *args: Any) -> Any:
        self.calls += 1
        return self.program.Match(*args)


def test_text_alternating_rejected_and_accepted_matches_is_searched_in_one_pass():
    # Each rejected key value hands over to the rules one by one; each email after it hands back.
    # However many times that happens, no rule searches the same text again: the IBAN at the
    # very end is found once, and which rules occur is asked once.
    redactor = Redactor()
    scanner = redactor._scanner
    iban = redactor._n_keep + [r.name for r in redactor.rules].index("iban")
    asked = []
    present_in = scanner._present_in
    scanner._present_in = lambda data: asked.append(1) or present_in(data)  # type: ignore[method-assign]
    regexp, group = scanner._singles[iban]
    counting = _Counting(regexp)
    scanner._singles[iban] = (counting, group)
    text = "token=$HOME_DIR a@b.io " * 300 + "DE89 3704 0044 0532 0130 00"
    out = redactor.redact_text(text)
    assert out.count("[REDACTED:email]") == 300 and out.endswith("[REDACTED:iban]")
    assert len(asked) == 1
    assert counting.calls <= 2


def test_hostile_runs_of_partial_matches_are_left_to_the_rules_one_by_one(monkeypatch):
    # After each JWT-shaped match, an email's local part starts at the "." and stays alive to
    # the end of the run: a leftmost search would scan to the end for every match.
    text = "eyJaaaaaaaaa.eyJaaaaaaaaax" * 400
    expected = DEFAULT.redact_text(text)
    assert expected.count("[REDACTED:jwt]") > 100
    redactor = Redactor()
    scanner = redactor._scanner
    parts, spans = scanner._parts
    scanner._parts = ([_Counting(part) for part in parts], spans)
    monkeypatch.setattr(_scanner, "_FUSED_BUDGET_NS", -(10**12))
    assert redactor.redact_text(text) == expected
    # The budget is checked every few matches: the fused search stops long before the text ends
    # (each match makes at most every part search once).
    calls = sum(part.calls for part in scanner._parts[0])
    assert calls <= 2 * _scanner._CLOCK_EVERY * len(parts)
