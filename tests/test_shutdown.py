"""Process exit: SIGTERM and interpreter exit deliver what is queued, within flush_timeout_s."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

APP = """
import os, signal, sys, time
from langchain_core.runnables import RunnableLambda
import lclog
{before}
h = lclog.LoggingCallbackHandler({config})
for i in range(200):
    RunnableLambda(lambda x: x).invoke(i, config={{"callbacks": [h]}})
{after}
"""


def run_app(
    tmp_path: Path, config: str, before: str = "", after: str = ""
) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "app.py"
    script.write_text(APP.format(config=config, before=before, after=after))
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)


def file_config(path: Path, **extra: object) -> str:
    return repr({"outputs": [{"type": "file", "path": str(path)}], "flush_interval_s": 60, **extra})


@pytest.mark.skipif(not hasattr(signal, "SIGTERM"), reason="no SIGTERM on this platform")
def test_sigterm_keeps_what_was_queued_and_still_ends_the_process(tmp_path):
    path = tmp_path / "events.jsonl"
    proc = run_app(
        tmp_path,
        file_config(path),
        after="os.kill(os.getpid(), signal.SIGTERM)\ntime.sleep(10)\nprint('survived')",
    )
    assert proc.returncode == -signal.SIGTERM  # the signal is not swallowed: same exit status
    assert "survived" not in proc.stdout
    assert len(path.read_text().splitlines()) == 400


@pytest.mark.parametrize("held", ["history", "metrics", "put"])
def test_sigterm_while_the_caller_holds_a_lock_the_flush_takes_does_not_hang(tmp_path, held):
    """The signal's handler runs in the main thread, which may be inside lclog building an event
    (a producer ahead of the writer) and holding one of its locks: the flush must not wait on it."""
    path = tmp_path / "events.jsonl"
    lock = {
        "history": "h._recorder.history._lock",
        "metrics": "h._recorder.metrics._lock",
        "put": "h._recorder.source._put_lock",
    }[held]
    # 20 more events in a conversation, whose messages the flush references (history)
    talk = (
        "from langchain_core.messages import HumanMessage\n"
        "for i in range(10):\n"
        "    RunnableLambda(lambda x: x).invoke([HumanMessage(f'hi {i}')],"
        " config={'callbacks': [h], 'metadata': {'thread_id': 't'}})\n"
    )
    after = (
        talk
        + f"with {lock}:\n    os.kill(os.getpid(), signal.SIGTERM)\n    time.sleep(10)\nprint('survived')"
    )
    proc = run_app(tmp_path, file_config(path), after=after)
    assert proc.returncode == -signal.SIGTERM, proc.stderr
    assert len(path.read_text().splitlines()) == 420


def test_an_applications_own_sigterm_handler_is_left_alone(tmp_path):
    path = tmp_path / "events.jsonl"
    before = (
        "def graceful(signum, frame):\n    print('graceful')\n    sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, graceful)"
    )
    after = (
        "assert signal.getsignal(signal.SIGTERM) is graceful\n"
        "os.kill(os.getpid(), signal.SIGTERM)\ntime.sleep(10)"
    )
    proc = run_app(tmp_path, file_config(path), before=before, after=after)
    assert proc.returncode == 0 and "graceful" in proc.stdout, proc.stderr
    assert len(path.read_text().splitlines()) == 400  # its exit ran atexit, which delivered


def test_flush_on_sigterm_false_leaves_sigterm_alone(tmp_path):
    path = tmp_path / "events.jsonl"
    after = "print(signal.getsignal(signal.SIGTERM) is signal.SIG_DFL)"
    proc = run_app(tmp_path, file_config(path, flush_on_sigterm=False), after=after)
    assert proc.stdout.strip() == "True"


def test_exit_with_loki_down_is_bounded_and_names_what_was_lost(tmp_path):
    with socket.socket() as s:  # a port nobody listens on: connections are refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = repr(
        {
            "outputs": [
                {"type": "loki", "url": f"http://127.0.0.1:{port}/loki/api/v1/push", "labels": {"a": "b"}}
            ],
            "flush_timeout_s": 1,
        }
    )
    proc = run_app(tmp_path, config, after="print(h.stats.emitted)")
    assert proc.returncode == 0
    assert "lclog: output loki failed" in proc.stderr and "events dropped" in proc.stderr


WORKERS = """
import json, multiprocessing as mp, sys
from langchain_core.runnables import RunnableLambda
from lclog import LoggingCallbackHandler

# One handler made before the fork, as a pre-forking server or a task queue has it.
h = LoggingCallbackHandler({{"outputs": [{{"type": "file", "path": sys.argv[1]}}], "flush_interval_s": 60}})

def work(i):
    for j in range(30):
        RunnableLambda(lambda x: x, name=f"task-{{i}}").invoke(j, config={{"callbacks": [h]}})
    return i

if __name__ == "__main__":
    ctx = mp.get_context("fork")
    {start}
"""
STARTS = {
    "processes": "ps = [ctx.Process(target=work, args=(i,)) for i in range(6)]\n"
    "    [p.start() for p in ps]; [p.join() for p in ps]",
    "pool, closed and joined": "pool = ctx.Pool(3); pool.map(work, range(6)); pool.close(); pool.join()",
    "pool, terminated by its with block": "with ctx.Pool(3) as pool: pool.map(work, range(6))",
}


@pytest.mark.parametrize("start", STARTS.values(), ids=STARTS.keys())
def test_forked_workers_deliver_every_event_though_they_end_with_os_exit(tmp_path, start):
    # multiprocessing children end with os._exit, which skips atexit; a pool terminating its
    # workers sends them SIGTERM while they may be closing on their own.
    script = tmp_path / "workers.py"
    script.write_text(WORKERS.format(start=start))
    log = tmp_path / "events.jsonl"
    done = subprocess.run(
        [sys.executable, str(script), str(log)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    names = [json.loads(line)["name"] for line in log.read_text().splitlines()]
    assert sorted(set(names)) == [f"task-{i}" for i in range(6)]
    assert len(names) == 6 * 30 * 2  # a start and an end per call, each once


MISSED = """
import os, signal, sys, threading, time
from langchain_core.runnables import RunnableLambda
from lclog import LoggingCallbackHandler

h = LoggingCallbackHandler({{"outputs": [{{"type": "file", "path": sys.argv[1]}}], "flush_interval_s": 60}})
pid = os.fork()
if pid == 0:
    RunnableLambda(lambda x: x, name="child").invoke(1, config={{"callbacks": [h]}})

    def signal_myself():  # the signal lands on this thread, not on the main one
        time.sleep(0.3)
        signal.pthread_kill(threading.get_ident(), signal.SIGTERM)

    threading.Thread(target=signal_myself).start()
    held = threading.Lock()
    held.acquire()
    held.acquire()  # the main thread waits in C, with no timeout, for what never comes
    os._exit(0)
_, status = os.waitpid(pid, 0)
print(os.waitstatus_to_exitcode(status))
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_sigterm_that_interrupts_nothing_still_ends_a_forked_child(tmp_path):
    # Python runs the handler in the main thread once its wait is interrupted; a SIGTERM taken
    # by another thread (or arriving just before the wait began) interrupts nothing. A pool's
    # worker blocked on the pool's queue as the pool terminates it then never ended.
    script = tmp_path / "missed.py"
    script.write_text(MISSED.format())
    log = tmp_path / "events.jsonl"
    done = subprocess.run([sys.executable, str(script), str(log)], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == str(-signal.SIGTERM), done.stderr  # ended as SIGTERM ends it
    names = [json.loads(line)["name"] for line in log.read_text().splitlines()]
    assert names == ["child", "child"]  # its start and end, delivered before it ended


FORKS = """
import os, sys, threading, time
from langchain_core.runnables import RunnableLambda
from lclog import LoggingCallbackHandler

h = LoggingCallbackHandler({{"outputs": [{{"type": "file", "path": sys.argv[1]}}], "flush_timeout_s": 2}})
prompt = ("the quarterly report, key sk-proj-Xq7vR2mT9wK4pL8nB3cF6hJ1 mail jane@corp.io " * 40)
stop = threading.Event()

def log_forever(n):
    i = 0
    while not stop.is_set():
        text = prompt + str(n) + str(i)
        RunnableLambda(lambda x: x[:10], name="thread").invoke(text, config={{"callbacks": [h]}})
        i += 1

threads = [threading.Thread(target=log_forever, args=(n,)) for n in range(4)]
[t.start() for t in threads]
time.sleep(0.2)
hung = failed = 0
for k in range({forks}):
    pid = os.fork()
    if pid == 0:  # the child: its own counts from zero, one call, delivered, then out
        ok = h.stats.emitted == 0
        RunnableLambda(lambda x: x[:10], name="child").invoke(prompt + "child", config={{"callbacks": [h]}})
        h.close()
        os._exit(0 if ok and h.stats.emitted == 2 and h.stats.dropped == 0 else 1)
    deadline = time.monotonic() + 10
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            failed += os.waitstatus_to_exitcode(status) != 0
            break
        if time.monotonic() > deadline:
            os.kill(pid, 9); os.waitpid(pid, 0); hung += 1
            break
        time.sleep(0.002)
stop.set()
[t.join() for t in threads]
h.close()
print(f"hung={{hung}} failed={{failed}}")
"""


def test_forking_while_four_threads_log_leaves_no_child_stuck(tmp_path):
    # A preforking server or task queue forks while its threads log: a lock or an RE2 program
    # held by one of them at the fork must not stop the child.
    script = tmp_path / "forks.py"
    script.write_text(FORKS.format(forks=200))
    log = tmp_path / "events.jsonl"
    done = subprocess.run(
        [sys.executable, str(script), str(log)], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("hung=0 failed=0"), done.stdout + done.stderr[-2000:]
    children = [line for line in log.read_text().splitlines() if '"name":"child"' in line]
    assert len(children) == 2 * 200  # each child's start and end, delivered


def test_importing_lclog_starts_nothing():
    # A preloading server imports lclog before it forks: no thread, exit hook or signal handler
    # comes with the import, only with the first handler.
    script = (
        "import atexit, signal, threading\n"
        "import lclog, lclog.capture.handler, lclog.outputs.writer, lclog.notify, lclog._shutdown as s\n"
        "assert [t.name for t in threading.enumerate()] == ['MainThread']\n"
        "assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL and not s._atexit_registered\n"
        "h = lclog.LoggingCallbackHandler(outputs=[])\n"
        "assert s._atexit_registered and signal.getsignal(signal.SIGTERM) is s._on_sigterm\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "ok", done.stderr


EXITS = {
    "normal exit": "",
    "sys.exit": "sys.exit(3)",
    "unhandled exception": "raise ValueError('unhandled')",
    "SIGTERM": "os.kill(os.getpid(), signal.SIGTERM)\ntime.sleep(10)",
}
EXIT_CODES = {"normal exit": 0, "sys.exit": 3, "unhandled exception": 1, "SIGTERM": -signal.SIGTERM}


@pytest.mark.parametrize("ending", EXITS, ids=EXITS)
@pytest.mark.parametrize("output", ["file", "stdout", "stdlib", "loki", "otlp"])
def test_every_output_delivers_whatever_way_the_process_ends(tmp_path, output, ending):
    from tests.loopback import LoopbackServer
    from tests.outputs.test_loki import FakeLoki
    from tests.outputs.test_otlp import received

    server: LoopbackServer | None = None
    before, log = "", tmp_path / "events.jsonl"
    if output == "file":
        spec: dict[str, object] = {"type": "file", "path": str(log)}
    elif output == "stdout":
        spec = {"type": "stdout"}
    elif output == "stdlib":
        before = (
            f"import logging\nlogging.basicConfig(filename={str(log)!r}, level=logging.INFO, "
            "format='%(message)s')"
        )
        spec = {"type": "stdlib", "logger": "app.llm"}
    elif output == "loki":
        server = FakeLoki()
        spec = {"type": "loki", "url": server.url, "labels": {"service": "job"}}
    else:
        server = LoopbackServer("/")
        spec = {"type": "otlp", "endpoint": server.url}
    config = repr({"outputs": [spec], "flush_interval_s": 60})
    try:
        proc = run_app(tmp_path, config, before=before, after=EXITS[ending])
        if output in ("file", "stdlib"):
            delivered = len(log.read_text().splitlines())
        elif output == "stdout":
            delivered = len([line for line in proc.stdout.splitlines() if line.startswith("{")])
        elif output == "loki":
            delivered = len(server.lines)  # type: ignore[union-attr]
        else:
            delivered = len(received(server))  # type: ignore[arg-type]
    finally:
        if server is not None:
            server.close()
    assert proc.returncode == EXIT_CODES[ending], proc.stderr[-1000:]
    assert delivered == 400, proc.stderr[-1000:]  # 200 calls, a start and an end each
    assert "lclog:" not in proc.stderr
