"""One loopback HTTP server for every test that needs a peer (notification webhooks, Loki, OTLP,
the OpenAI and Anthropic APIs).

It records each POST, answers from a script (status, headers, delay) and then with what the
test's `answer` callable returns, and can hold every request until released: what a slow,
failing or hanging backend looks like to lclog. A `Reply` answers with a body too (a provider's
JSON, or its server-sent events, written chunk by chunk).
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


@dataclass
class Reply:
    """An answer with a body: bytes, or a list of chunks each written and flushed on its own."""

    status: int = 200
    body: bytes | list[bytes] = b"ok"
    headers: dict[str, str] | None = None


# An answer: a status, or (status, headers), or (status, headers, delay in seconds), or a Reply.
Answer = int | tuple[int, dict[str, str]] | tuple[int, dict[str, str], float] | Reply


class LoopbackServer:
    """A ThreadingHTTPServer on 127.0.0.1 (a free port) for one test."""

    def __init__(
        self, path: str = "/", answer: Callable[[Request], Answer] | None = None, tls: Any = None
    ) -> None:
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
                answer: Any = server.script.pop(0) if server.script else server._answer(request)
                reply = answer if isinstance(answer, Reply) else None
                status, headers, delay = server._parts(answer) if reply is None else (reply.status, {}, 0.0)
                time.sleep(delay)
                self.send_response(status)
                for name, value in (headers if reply is None else reply.headers or {}).items():
                    self.send_header(name, value)
                if reply is not None and isinstance(reply.body, list):  # a stream, as it is sent
                    self.send_header("Connection", "close")
                    self.end_headers()
                    for chunk in reply.body:
                        self.wfile.write(chunk)
                        self.wfile.flush()
                    return
                body = b"ok" if reply is None else reply.body
                assert isinstance(body, bytes)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        if tls is not None:  # an ssl.SSLContext: HTTPS with its certificate
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        scheme = "https" if tls is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self.httpd.server_address[1]}{path}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @staticmethod
    def _parts(answer: Any) -> tuple[int, dict[str, str], float]:
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
