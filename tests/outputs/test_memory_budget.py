"""Memory is bounded in bytes: with the writer stalled and Loki down, what waits stays within
`max_queue_bytes`, the rest is dropped and counted, and what was kept is delivered later."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import textwrap

# Run in a process of its own, so that its RSS is the test's alone.
_SCRIPT = textwrap.dedent(
    """
    import json, logging, socket, sys, threading
    from langchain_core.language_models import FakeListChatModel
    from lclog import LoggingCallbackHandler

    CALLS = 20_000
    BUDGET = int(sys.argv[1])  # 0: the lclog found on sys.path reads no max_queue_bytes (older)

    def rss() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096

    class Stalled(logging.Handler):  # a log handler stuck on a dead socket, say
        def __init__(self):
            super().__init__()
            self.gate = threading.Event()
            self.lines = 0
        def emit(self, record):
            self.gate.wait()
            self.lines += 1

    stalled = Stalled()
    logger = logging.getLogger("stalled")
    logger.addHandler(stalled)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    with socket.socket() as s:  # a port nobody listens on: Loki is down
        s.bind(("127.0.0.1", 0))
        down = s.getsockname()[1]

    prompt = "Summarize the quarterly report for the board, section by section. " * 15
    model = FakeListChatModel(responses=["The report says revenue grew in every region. " * 10])
    for _ in range(2_000):  # LangChain's own caches and the allocator warm up first
        model.invoke(prompt)
    before = rss()
    handler = LoggingCallbackHandler(
        {
            "outputs": [
                {"type": "loki", "url": f"http://127.0.0.1:{down}/loki/api/v1/push", "timeout_s": 0.2,
                 "retries": 0, "labels": {"app": "budget"}},
                {"type": "stdlib", "logger": "stalled"},
            ],
            "flush_timeout_s": 30,
            **({"max_queue_bytes": BUDGET} if BUDGET else {}),
        }
    )
    for _ in range(CALLS):
        model.invoke(prompt, config={"callbacks": [handler]})
    grown = rss() - before
    dropped_while_stalled = handler.stats.dropped
    stalled.gate.set()
    handler.close()
    print(json.dumps({
        "grown": grown, "dropped": dropped_while_stalled, "delivered": stalled.lines,
        "stats": handler.stats.as_dict(), "events": 2 * CALLS,
    }))
    """
)


def run(budget: int, env: dict[str, str] | None = None) -> tuple[dict, str]:
    """The stalled run in a fresh process: RSS growth, events dropped while stalled, delivered."""
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(budget)],
        capture_output=True,
        text=True,
        timeout=240,
        check=True,
        env=env,
        cwd=tempfile.gettempdir(),  # not the checkout: `env` may point at another lclog
    )
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def test_a_stalled_writer_holds_no_more_than_the_byte_budget_and_counts_the_rest():
    budget = 4 << 20
    result, stderr = run(budget)
    # The budget, plus what is not an event: the last chunk being built, the stalled batch,
    # the allocator's slack. Unbounded, the same run grew by over 300 MB.
    assert result["grown"] < budget + (12 << 20), result
    assert result["dropped"] > 0
    assert "max_queue_bytes=4194304" in stderr
    # What the budget kept reaches the logging tree once it moves again; nothing is lost
    # uncounted (Loki, being down, counts every event it could not send as dropped too).
    assert 0 < result["delivered"] < result["events"] - result["dropped"] + 1
    assert result["delivered"] + result["stats"]["dropped"] >= result["events"], result
