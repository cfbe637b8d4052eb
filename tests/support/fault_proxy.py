"""A loopback proxy in front of a real OpenAI-compatible server that answers some requests itself with
the faults an API gives (429 with Retry-After, 500), and forwards the rest unchanged."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

# (status, headers) to answer a request with instead of forwarding it, or None to forward it.
Fault = tuple[int, dict[str, str]] | None


class FaultProxy:
    def __init__(self, upstream: str, fault: Callable[[int, bytes], Fault]) -> None:
        """`upstream`: the server's root (http://127.0.0.1:PORT); `fault(n, body)` decides the n-th POST
        (counted from 0) with that body."""
        self.upstream, self.fault = upstream.rstrip("/"), fault
        self.posts = 0
        self.answered: list[int] = []  # the status of every POST, in arrival order
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                self._forward(None)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with proxy._lock:
                    n, proxy.posts = proxy.posts, proxy.posts + 1
                fault = proxy.fault(n, body)
                if fault is None:
                    self._forward(body)
                    return
                status, headers = fault
                self._answer(status, headers, json.dumps({"error": {"message": f"injected {status}"}}).encode())

            def _forward(self, body: bytes | None) -> None:
                headers = {k: v for k, v in self.headers.items() if k.lower() in ("authorization", "content-type")}
                reply = httpx.request(self.command, proxy.upstream + self.path, content=body, headers=headers,
                                      timeout=120)
                self._answer(reply.status_code, {"Content-Type": reply.headers.get("content-type", "")}, reply.content)

            def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
                if self.command == "POST":
                    with proxy._lock:
                        proxy.answered.append(status)
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> FaultProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
