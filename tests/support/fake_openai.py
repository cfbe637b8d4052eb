"""A scripted OpenAI-compatible server on loopback for the engine's unit tests: canned answers, and the faults
a real API gives (429 with Retry-After, 5xx, a dropped connection, a refused key, slow answers) where the
test's script says. It records every request (when, what) and the most requests it had in flight at once."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    status: int = 200
    # The JSON (or text) to answer; None: the canned answer to the request (an error status: no body).
    body: dict | str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    drop: bool = False  # close the connection without answering


@dataclass
class Seen:
    at: float  # time.monotonic() on arrival
    path: str
    headers: dict[str, str]  # names lower-cased
    body: dict | None


def canned(path: str, body: dict) -> dict:
    """An answer that shows what was asked: "echo <prompt>" (token ids joined by commas; for chat, the last
    message's content), with the prompt's length as its prompt tokens and 3 completion tokens."""
    if path.endswith("/chat/completions"):
        prompt = body["messages"][-1]["content"]
        return {"choices": [{"message": {"role": "assistant", "content": f"echo {prompt}"}}],
                "usage": {"prompt_tokens": len(body["messages"]), "completion_tokens": 3}}
    prompt = body["prompt"]
    shown = ",".join(map(str, prompt)) if isinstance(prompt, list) else prompt
    return {"choices": [{"text": f"echo {shown}"}], "usage": {"prompt_tokens": len(prompt), "completion_tokens": 3}}


class FakeOpenAI:
    def __init__(self, script: Callable[[int, Seen], Reply | None] | None = None,
                 models: Reply | None = None) -> None:
        """`script(n, seen)` answers the n-th POST (from 0), None: the canned answer; `models` answers GET
        /v1/models (default: a list holding the model "judge")."""
        self.script = script or (lambda n, seen: None)
        self.models = models or Reply(body={"object": "list", "data": [{"id": "judge", "object": "model"}]})
        self.posts: list[Seen] = []
        self.gets: list[Seen] = []
        self.in_flight = self.max_in_flight = 0
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                fake.gets.append(Seen(time.monotonic(), self.path, self._headers(), None))
                self._answer(fake.models if self.path.endswith("/models") else Reply(404, "no such path"), None)

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                seen = Seen(time.monotonic(), self.path, self._headers(), json.loads(raw) if raw else None)
                with fake._lock:
                    n = len(fake.posts)
                    fake.posts.append(seen)
                    fake.in_flight += 1
                    fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
                try:
                    self._answer(fake.script(n, seen) or Reply(), seen)
                finally:
                    with fake._lock:
                        fake.in_flight -= 1

            def _headers(self) -> dict[str, str]:
                return {key.lower(): value for key, value in self.headers.items()}

            def _answer(self, reply: Reply, seen: Seen | None) -> None:
                time.sleep(reply.delay_s)
                if reply.drop:
                    self.close_connection = True
                    return
                body = reply.body
                if body is None:
                    body = canned(seen.path, seen.body) if reply.status == 200 else ""
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(reply.status)
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Type", "text/plain" if isinstance(body, str) else "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address) -> None:
                pass  # a client that timed out and left: writing the late answer fails, as it should

        self.server = Server(("127.0.0.1", 0), Handler)
        # A short poll: shutdown() waits for it, and the tests start and stop many servers.
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> FakeOpenAI:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
