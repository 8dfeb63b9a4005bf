"""Error notifications: one per failed trace, deduplicated, delivered by a background thread."""

from __future__ import annotations

import logging
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Callable
from typing import Any

import orjson

from lclog._imports import import_callable
from lclog._threads import Worker, fork_safe
from lclog.counters import Counters
from lclog.events.runs import Run, path
from lclog.notify.budgets import Budgets
from lclog.notify.options import CallableTarget, LogTarget, NotifySettings, WebhookTarget
from lclog.outputs._http import PostFailed, post
from lclog.redact.redactor import Redactor

__all__ = ["Alerts", "Notifier", "summary"]

# How long past its deadline close() waits for the delivery under way to give up and be counted.
_GRACE_S = 0.5


def summary(n: dict[str, Any]) -> str:
    """Returns a notification as one readable line (Slack `text`, log message)."""
    if n.get("kind") == "budget":
        return _budget_summary(n)
    run = n.get("run") or {}
    error = n.get("error") or {}
    what = {"error": "failed", "recovered": "failed (recovered)", "slow": "was slow"}.get(
        str(n.get("kind")), ""
    )
    parts = [f"[{n.get('service')}] {run.get('type')} {run.get('name')} {what}"]
    if error:
        parts.append(f": {error.get('type')}: {error.get('message')}")
    if run.get("model"):
        parts.append(f" (model {run['model']})")
    if run.get("duration_ms") is not None:
        parts.append(f" after {run['duration_ms']:.1f} ms")
    if n.get("path"):
        parts.append(f"; path {' > '.join(n['path'])}")
    parts.append(f"; trace {n.get('trace_id')}")
    if n.get("suppressed"):
        parts.append(f" (+{n['suppressed']} similar suppressed)")
    return "".join(parts)


class _Webhook:
    def __init__(self, spec: WebhookTarget, deadline: Callable[[], float | None]) -> None:
        self.spec = spec
        self._deadline = deadline  # set as the handler closes: no attempt or pause outlasts it
        # Only the host is ever shown: a URL's path or query can hold a token.
        self.name = f"webhook {urllib.parse.urlsplit(spec.url).hostname}"

    def send(self, n: dict[str, Any]) -> None:
        spec = self.spec
        body = {"text": summary(n)} if spec.format == "slack" else n
        data = orjson.dumps(body)
        headers = {"Content-Type": "application/json", "User-Agent": "lclog", **spec.headers}
        post(
            spec.url,
            data,
            headers,
            timeout=spec.timeout_s,
            retries=spec.retries,
            backoff=spec.backoff_s,
            deadline=self._deadline,
        )


class _Log:
    def __init__(self, spec: LogTarget) -> None:
        self.name = f"log {spec.logger}"
        self._logger = logging.getLogger(spec.logger)

    def send(self, n: dict[str, Any]) -> None:
        self._logger.error("lclog notification: %s", summary(n), extra={"lclog_notification": n})


class _Callable:
    def __init__(self, spec: CallableTarget) -> None:
        self.name = f"callable {spec.target}"
        self._fn: Callable[[dict[str, Any]], Any] = import_callable(spec.target, "notify.targets")

    def send(self, n: dict[str, Any]) -> None:
        self._fn(n)


def _target(spec: Any, deadline: Callable[[], float | None]) -> Any:
    if isinstance(spec, WebhookTarget):
        return _Webhook(spec, deadline)
    if isinstance(spec, LogTarget):
        return _Log(spec)
    return _Callable(spec)


def _budget_summary(n: dict[str, Any]) -> str:
    budget, spent = n.get("budget") or {}, n.get("spent") or {}
    limit = f"${budget['usd']:g}" if budget.get("usd") is not None else f"{budget.get('tokens')} tokens"
    within = f" in {budget['window_s']:g} s" if budget.get("window_s") else ""
    return (
        f"[{n.get('service')}] {budget.get('per')} {budget.get('name')} spent ${spent.get('usd', 0):.4f}, "
        f"{spent.get('tokens', 0)} tokens{within}: over its budget of {limit}; trace {n.get('trace_id')}"
    )


class Notifier:
    """Takes notifications without blocking and delivers them from one background thread.

    `submit` deduplicates by fingerprint (at most one per `min_interval_s`; the next one sent
    says how many were suppressed) and enqueues; a full queue drops and counts.
    """

    def __init__(self, settings: NotifySettings, redactor: Redactor, stats: Counters) -> None:
        self.settings = settings
        self._deadline: float | None = None  # the monotonic time close() gives deliveries
        self._abandoned = False  # close() counted the delivery under way as dropped
        self.targets = [_target(t, lambda: self._deadline) for t in settings.targets]
        self._redactor = redactor
        self._stats = stats
        self._lock = fork_safe(threading.Lock())
        self._queue: deque[dict[str, Any]] = deque()
        self._delivering = False
        self._closing = False
        self._last: dict[tuple[Any, ...], float] = {}
        self._suppressed: dict[tuple[Any, ...], int] = {}
        self._worker = Worker("lclog-notify", self._deliver_all, on_fork=self._after_fork)
        # Started now, not at the first failure: a failure seen as the interpreter exits could
        # no longer start a thread (Python 3.12 refuses new threads at shutdown).
        self._worker.start()

    def _after_fork(self) -> None:
        """In a forked child (a new thread starts): the parent's notifications are its own."""
        self._deadline, self._abandoned, self._delivering, self._closing = None, False, False, False
        self._queue.clear()

    def submit(self, n: dict[str, Any]) -> None:
        run = n.get("run") or {}
        error = n.get("error") or {}
        budget = n.get("budget") or {}
        fingerprint = (
            n.get("kind"),
            error.get("type"),
            run.get("type"),
            run.get("name"),
            run.get("model"),
            budget.get("per"),
            budget.get("name"),
        )
        now = time.monotonic()
        with self._lock:
            last = self._last.get(fingerprint)
            if last is not None and now - last < self.settings.min_interval_s:
                self._suppressed[fingerprint] = self._suppressed.get(fingerprint, 0) + 1
                self._stats.add("notifications_suppressed")
                return
            self._last[fingerprint] = now
            n["suppressed"] = self._suppressed.pop(fingerprint, 0)
            if len(self._last) > 10_000:  # forget the oldest fingerprints
                for key in list(self._last)[:1000]:
                    del self._last[key]
            full = len(self._queue) >= self.settings.queue_size
            if not full:
                self._queue.append(n)
        if full:
            self._stats.add("notifications_dropped")
            self._stats.report("notification dropped", f"queue full (queue_size={self.settings.queue_size})")
            return
        self._worker.wake()

    def _deliver_all(self, flush: bool) -> None:
        """The worker's round: every notification waiting, oldest first."""
        while True:
            with self._lock:
                if self._closing or not self._queue:
                    return
                n = self._queue.popleft()
                self._delivering = True
            try:
                self._deliver(n)
            finally:
                self._delivering = False

    def _deliver(self, n: dict[str, Any]) -> None:
        try:
            payload = self._redactor.redact_value(n)
        except Exception as exc:
            self._stats.add("notifier_failures")
            self._stats.report("notification not sent", f"redaction failed: {type(exc).__name__}")
            return
        ok = False  # delivered: at least one target took it (each one that failed is counted)
        for target in self.targets:
            try:
                target.send(payload)
                ok = True
            except Exception as exc:
                if self._abandoned:
                    return
                self._stats.add("notifier_failures")
                detail = str(exc) if isinstance(exc, PostFailed) else type(exc).__name__
                self._stats.report(f"notify {target.name} failed", self._redactor.redact_text(detail))
        if ok and not self._abandoned:
            self._stats.add("notifications_sent")

    def flush(self, timeout: float) -> bool:
        """Waits until queued notifications are delivered, at most `timeout` seconds."""
        if not self._queue and not self._delivering:
            return True
        return self._worker.flush(time.monotonic() + timeout)

    def close(self, timeout: float) -> None:
        """Delivers what it can within `timeout` seconds, then stops the thread. A delivery under
        way gives up at the deadline (counted in `notifier_failures`); what had not started is
        counted in `notifications_dropped` and named on stderr."""
        self._deadline = time.monotonic() + timeout
        self.flush(timeout)
        with self._lock:
            self._closing = True
            unsent = len(self._queue)
            self._queue.clear()
        # The delivery under way gives up at the deadline (a webhook does): wait for its count.
        if self._delivering and not self._worker.stop(self._deadline + _GRACE_S):
            self._abandoned = True  # a target that does not give up: no longer counted
            unsent += 1
        self._worker.stop(time.monotonic() + _GRACE_S)
        if unsent:
            self._stats.add("notifications_dropped", unsent)
            self._stats.report("notification dropped", f"{unsent} not delivered within flush_timeout_s")


class Alerts:
    """Decides what to notify as runs end: one notification per failed trace, naming its deepest
    failing run and the path to it, and runs slower than `slow_ms`. Called from the hooks: it only
    keeps small dicts and hands notifications to the Notifier's queue."""

    def __init__(self, settings: NotifySettings, notifier: Notifier, service: str, max_traces: int) -> None:
        self._settings = settings
        self._notifier = notifier
        self._service = service
        self._on = frozenset(settings.on)
        self._max = max_traces
        self._failures: dict[str, dict[str, Any]] = {}
        self._budgets = Budgets(settings.budgets, self._submit) if settings.budgets else None

    def charged(self, run: Run, cost: dict[str, Any] | None, usage: dict[str, Any] | None) -> None:
        """A model call ended: what it cost and used counts against the budgets."""
        if self._budgets is not None and (cost is not None or usage):
            usd = cost["total"] if cost is not None else 0.0
            tokens = (usage or {}).get("total_tokens") or 0
            self._budgets.charged(run, usd, tokens)

    def failed(self, run: Run, error: dict[str, Any], duration: float) -> None:
        """Remembers the deepest failing run of a trace; its ancestors' errors only propagate it."""
        known = self._failures.get(run.trace_id)
        if known is not None and run.id in known["path_ids"]:
            return
        runs = path(run)
        self._failures[run.trace_id] = {
            "run": _run_fields(run, duration),
            "error": error,
            "path": [r.name for r in runs],
            "path_ids": {r.id for r in runs},
        }
        if len(self._failures) > self._max:
            self._failures.pop(next(iter(self._failures)), None)

    def ended(self, run: Run, duration: float, *, failed: bool) -> None:
        """Notifies a slow run now, and a failed trace when its (local) root ends."""
        on = self._on
        slow_ms = self._settings.slow_ms
        if slow_ms is not None and duration > slow_ms and run.run_type in on:
            details = {"run": _run_fields(run, duration), "path": [r.name for r in path(run)]}
            self._submit("slow", run.trace_id, details)
        if not run.local_root:
            return
        failure = self._failures.pop(run.trace_id, None)
        if failure is None:
            return
        if failed:
            if failure["run"]["type"] in on or "root" in on:
                self._submit("error", run.trace_id, failure)
        elif self._settings.recovered and failure["run"]["type"] in on:
            self._submit("recovered", run.trace_id, failure)

    def _submit(self, kind: str, trace_id: str, details: dict[str, Any]) -> None:
        notification = {
            "kind": kind,
            "service": self._service,
            "trace_id": trace_id,
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            **{k: v for k, v in details.items() if k != "path_ids"},
        }
        self._notifier.submit(notification)


def _run_fields(run: Run, duration: float) -> dict[str, Any]:
    return {
        "type": run.run_type,
        "name": run.name,
        "run_id": run.id,
        "model": run.model,
        "duration_ms": round(duration, 3),
    }
