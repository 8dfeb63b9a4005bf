"""The one background mechanism (Worker) behind the writer, the network senders and the notifier."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from lclog._threads import Worker


def test_a_flush_returns_once_a_round_begun_after_it_has_ended():
    rounds: list[bool] = []
    gate = threading.Event()

    def step(flush: bool) -> None:
        gate.wait(5)
        rounds.append(flush)

    worker = Worker("lclog-test", step)
    assert worker.thread is None  # nothing starts until asked
    assert worker.start() and worker.thread is not None and worker.thread.daemon
    worker.wake()  # a round under way, stuck at the gate
    assert not worker.flush(time.monotonic() + 0.1)  # not by the deadline
    gate.set()
    assert worker.flush(time.monotonic() + 5) and rounds[-1] is True
    assert worker.stop(time.monotonic() + 5) and not worker.thread.is_alive()


def test_a_failing_round_is_reported_and_the_worker_goes_on():
    failures: list[Exception] = []
    calls = []

    def step(flush: bool) -> None:
        calls.append(flush)
        if len(calls) == 1:
            raise ValueError("a bug")

    worker = Worker("lclog-test", step, on_error=failures.append)
    worker.start()
    assert worker.flush(time.monotonic() + 5) and worker.flush(time.monotonic() + 5)
    assert [type(e) for e in failures] == [ValueError] and len(calls) == 2
    worker.stop(time.monotonic() + 5)


def test_where_no_thread_can_start_a_flush_runs_the_round_in_the_caller(monkeypatch):
    ran_in: list[threading.Thread] = []
    worker = Worker("lclog-test", lambda flush: ran_in.append(threading.current_thread()))
    monkeypatch.setattr("lclog._threads.start_daemon", lambda target, name: None)  # as at shutdown
    assert worker.flush(time.monotonic() + 1)
    assert ran_in == [threading.current_thread()]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork() is POSIX")
def test_a_forked_child_gets_a_new_thread_and_resets_its_owner():
    forked: list[int] = []
    rounds: list[int] = []
    worker = Worker("lclog-test", lambda flush: rounds.append(os.getpid()), on_fork=lambda: forked.append(1))
    worker.start()
    pid = os.fork()
    if pid == 0:  # the child: a worker that runs, and the owner told
        ok = forked == [1] and worker.thread is not None and worker.thread.is_alive()
        ok = ok and worker.flush(time.monotonic() + 5) and rounds[-1] == os.getpid()
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert forked == []  # the parent's worker is as it was
    worker.stop(time.monotonic() + 5)


def _blocked(thread: threading.Thread) -> set[int]:
    status = open(f"/proc/self/task/{thread.native_id}/status").read()  # noqa: SIM115
    mask = int(next(line for line in status.splitlines() if line.startswith("SigBlk:")).split()[1], 16)
    return {sig for sig in range(1, 65) if mask >> (sig - 1) & 1}


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="reads thread masks from Linux's /proc")
def test_lclogs_threads_leave_the_applications_signals_to_the_applications_threads():
    # Python runs a handler in the main thread only: a SIGTERM or SIGINT the kernel gave to
    # lclog's thread while the main thread waits would interrupt nothing.
    worker = Worker("lclog-test", lambda flush: None)
    assert worker.start() and worker.thread is not None
    try:
        assert {signal.SIGTERM, signal.SIGINT, signal.SIGHUP} <= _blocked(worker.thread)
        assert not {signal.SIGTERM, signal.SIGINT} & _blocked(threading.current_thread())
    finally:
        worker.stop(time.monotonic() + 5)
