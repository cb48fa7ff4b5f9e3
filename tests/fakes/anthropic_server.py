"""A fake Anthropic Messages API on loopback: scripted answers in the real wire shape, every request kept.

Point the SDK at it with base_url=server.url. Each POST /v1/messages takes the next
scripted reply (status, JSON body, headers); the last one repeats when the script runs out.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_ids = itertools.count(1)


@dataclass
class Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


def message(
    content: list[dict[str, Any]],
    *,
    stop_reason: str = "tool_use",
    model: str = "claude-sonnet-4-5",
    input_tokens: int = 12000,
    output_tokens: int = 900,
) -> Reply:
    """A 200 answer shaped like the real API's Message object."""
    return Reply(
        200,
        {
            "id": f"msg_01Fake{next(_ids):08d}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": {
                "input_tokens": input_tokens,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "output_tokens": output_tokens,
                "service_tier": "standard",
            },
        },
    )


def tool_answer(tool_input: dict[str, Any], name: str = "write_script", **usage: Any) -> Reply:
    block = {"type": "tool_use", "id": f"toolu_01Fake{next(_ids):08d}", "name": name, "input": tool_input}
    return message([block], **usage)


def refusal() -> Reply:
    return message([], stop_reason="refusal", output_tokens=5)


def empty_answer() -> Reply:
    return message([], stop_reason="end_turn", output_tokens=0)


def error(status: int, error_type: str, text: str) -> Reply:
    """An error in the API's shape; retry-after-ms keeps the SDK's backoff short in tests."""
    return Reply(
        status,
        {"type": "error", "error": {"type": error_type, "message": text}},
        {"retry-after-ms": "20"},
    )


def overloaded() -> Reply:
    return error(529, "overloaded_error", "Overloaded")


class FakeAnthropic:
    def __init__(self, replies: list[Reply]) -> None:
        self.replies = list(replies)
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                with fake._lock:
                    fake.requests.append(Recorded(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                    reply = fake.replies.pop(0) if len(fake.replies) > 1 else fake.replies[0]
                payload = json.dumps(reply.body).encode("utf-8")
                self.send_response(reply.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.send_header("request-id", f"req_01Fake{next(_ids):08d}")
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: tests read self.requests instead."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def message_requests(self) -> list[Recorded]:
        return [request for request in self.requests if request.path.startswith("/v1/messages")]


@contextmanager
def serve(replies: list[Reply]) -> Iterator[FakeAnthropic]:
    fake = FakeAnthropic(replies)
    thread = threading.Thread(target=fake._server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake._server.shutdown()
        fake._server.server_close()
