"""Content is redacted exactly once on its way to the output: not zero times, not twice."""

from __future__ import annotations

import contextlib
from collections import Counter
from typing import Any

import pytest
from langchain_core.callbacks.manager import dispatch_custom_event
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableLambda
from langchain_core.tools import tool

from lclog import LoggingCallbackHandler
from lclog.outputs import MemoryOutput
from lclog.redact.redactor import Redactor

# One address per content path: in hash mode each becomes its own `[email:<hex>]` tag, so a
# second pass over already redacted text is seen as a call whose input holds that tag.
PATHS = ("input", "output", "tag", "meta", "name", "prompt", "answer", "toolarg", "toolerr", "custom")


def address(path: str) -> str:
    return f"{path}.person@corp.io"


@pytest.fixture
def passes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every text the redactor is asked to redact, fused into serialization or in the pipeline."""
    seen: list[str] = []
    original = Redactor._text

    def counting(self: Redactor, text: str) -> str:
        seen.append(text)
        return original(self, text)

    monkeypatch.setattr(Redactor, "_text", counting)
    monkeypatch.setattr(Redactor, "scrub_text", counting)
    return seen


def _workload(handler: LoggingCallbackHandler) -> None:
    config: Any = {"callbacks": [handler], "tags": [address("tag")], "metadata": {"who": address("meta")}}
    RunnableLambda(lambda x: {"echo": address("output")}, name=address("name")).invoke(
        {"q": address("input")}, config
    )
    model = GenericFakeChatModel(messages=iter([AIMessage(content=address("answer"))]))
    model.invoke(address("prompt"), config)

    @tool
    def lookup(who: str) -> str:
        """Looks someone up."""
        raise ValueError(f"no record for {address('toolerr')}")

    with contextlib.suppress(ValueError):
        lookup.invoke({"who": address("toolarg")}, config)

    def announce(x: int) -> int:
        dispatch_custom_event("progress", {"for": address("custom")})
        return x

    RunnableLambda(announce).invoke(1, config)


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "pipeline"])
def test_every_content_path_is_redacted_exactly_once(passes, fused):
    # `fields` rules turn fusing off: every value is then redacted by the pipeline's pass.
    config: dict[str, Any] = {"redaction": {"mode": "hash", "hash_key": "k"}}
    if not fused:
        config["redaction"]["fields"] = {"metadata.unused": "keep"}
    memory = MemoryOutput()
    handler = LoggingCallbackHandler(config, outputs=[memory])
    assert handler.redactor.fuses is fused
    _workload(handler)
    handler.close()
    written = "\n".join(line.decode() for line in memory.lines)
    tags = {path: handler.redactor.redact_text(address(path)) for path in PATHS}
    first = Counter(path for text in passes for path in PATHS if address(path) in text)
    again = Counter(path for text in passes for path, tag in tags.items() if tag in text)
    for path in PATHS:
        assert address(path) not in written, f"{path} reached the output unredacted"
        assert tags[path] in written, f"{path} is not in the output at all"
        assert again[path] == 0, f"{path} was redacted again after it was redacted"
        assert first[path] >= 1
