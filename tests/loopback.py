"""One loopback HTTP server for every test that needs a peer (notification webhooks, Loki).

It records each POST, answers from a script (status, headers, delay) and then with what the
test's `answer` callable returns, and can hold every request until released: what a slow,
failing or hanging backend looks like to lclog.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Request:
    """One POST as the server received it."""

    path: str
    headers: dict[str, str]  # names as sent
    body: bytes
    at: float  # monotonic time of arrival


# An answer: a status, or (status, headers), or (status, headers, delay in seconds).
Answer = int | tuple[int, dict[str, str]] | tuple[int, dict[str, str], float]


class LoopbackServer:
    """A ThreadingHTTPServer on 127.0.0.1 (a free port) for one test."""

    def __init__(self, path: str = "/", answer: Callable[[Request], int] | None = None) -> None:
        self.requests: list[Request] = []
        self.script: list[Answer] = []  # answers given first, in order
        self.hold_s = 0.0  # how long every request is held before it is answered
        self.released = threading.Event()  # set: stop holding
        self._answer = answer or (lambda request: 200)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(self.path, dict(self.headers), self.rfile.read(length), time.monotonic())
                server.requests.append(request)
                if server.hold_s:
                    server.released.wait(server.hold_s)
                status, headers, delay = server._next(request)
                time.sleep(delay)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def _next(self, request: Request) -> tuple[int, dict[str, str], float]:
        answer: Any = self.script.pop(0) if self.script else self._answer(request)
        if isinstance(answer, int):
            return answer, {}, 0.0
        status, headers, *delay = answer
        return status, headers, (delay[0] if delay else 0.0)

    @property
    def attempts(self) -> int:
        return len(self.requests)

    @property
    def attempt_times(self) -> list[float]:
        return [r.at for r in self.requests]

    def close(self) -> None:
        self.released.set()
        self.httpd.shutdown()
        self.httpd.server_close()
