"""A loopback server that answers the way a hostile or broken one would, for tests and benchmarks.

Each request is answered by a plain function ``answer(request) -> Reply``. Ready-made
answers cover what well-behaved fakes never do: echo the ``Authorization`` header back
(:func:`echo_auth`), trickle a body a few bytes at a time (``Reply(trickle=...)``), send
an answer of any size without holding it in memory (``Reply(repeat=...)``)::

    with HostileServer(echo_auth(401, code=1003)) as api:
        ImageDescriberClient(api_key="sk-secret", base_url=api.url).generate_tags("cat.jpg")
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from .loopback import LoopbackServer, ScriptedHTTPServer


@dataclass
class Request:
    """What a hostile server saw: path, headers (lower-case names) and body."""

    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def authorization(self) -> str:
        return self.headers.get("authorization", "")

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Reply:
    """One answer. ``body`` is sent ``repeat`` times (a huge answer in constant memory); with
    ``trickle`` set, in pieces of ``trickle`` bytes, ``every`` seconds apart."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"
    repeat: int = 1
    prefix: bytes = b""
    suffix: bytes = b""
    trickle: int = 0
    every: float = 1.0

    def length(self) -> int:
        return len(self.prefix) + len(self.body) * self.repeat + len(self.suffix)


@dataclass
class _State:
    answer: Callable[[Request], Reply]
    scripts: dict[str, deque[str]] = field(default_factory=dict)
    default_script: deque[str] = field(default_factory=deque)
    calls: list[Any] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: Connections the client closed before the answer was finished.
    cut: int = 0


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ScriptedHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        st: _State = self.server.state
        length = int(self.headers.get("content-length") or 0)
        req = Request(self.path, {k.lower(): v for k, v in self.headers.items()},
                      self.rfile.read(length) if length else b"")
        with st.lock:
            st.calls.append(req)
        reply = st.answer(req)
        try:
            self.send_response(reply.status)
            self.send_header("content-type", reply.content_type)
            self.send_header("content-length", str(reply.length()))
            for k, v in reply.headers.items():
                self.send_header(k, v)
            self.end_headers()
            self._write(reply)
        except (BrokenPipeError, ConnectionResetError):
            with st.lock:
                st.cut += 1
            self.close_connection = True

    def _write(self, reply: Reply) -> None:
        def pieces() -> Any:
            yield reply.prefix
            for _ in range(reply.repeat):
                yield reply.body
            yield reply.suffix

        if not reply.trickle:
            for piece in pieces():
                self.wfile.write(piece)
            return
        for piece in pieces():
            for i in range(0, len(piece), reply.trickle):
                self.wfile.write(piece[i:i + reply.trickle])
                self.wfile.flush()
                time.sleep(reply.every)

    do_POST = do_GET = _handle  # noqa: N815 - http.server's naming


class HostileServer(LoopbackServer):
    """Start with ``with HostileServer(answer) as api:``; ``api.url`` is the base URL,
    ``api.calls`` the :class:`Request` objects seen, ``api.cut`` the answers the client hung up on."""

    def __init__(self, answer: Callable[[Request], Reply], *, url_path: str = "", port: int = 0) -> None:
        self.url_path = url_path
        super().__init__(_State(answer), _Handler, port)

    @property
    def cut(self) -> int:
        with self.state.lock:
            return int(self.state.cut)


def echo_auth(status: int, *, code: int | None = None, shape: str = "json",
              headers: dict[str, str] | None = None) -> Callable[[Request], Reply]:
    """An answer that puts the request's ``Authorization`` header into its body: in the API's
    JSON (``code`` and ``message``, and the request id), an OpenAI-style ``{"error": ...}``,
    foreign JSON, or an HTML page."""

    def answer(req: Request) -> Reply:
        said = f"invalid api key {req.authorization}"
        body: bytes
        ctype = "application/json"
        if shape == "json":
            body = json.dumps({"code": code, "message": said, "request_id": req.authorization}).encode()
        elif shape == "openai":
            body = json.dumps({"error": {"message": said, "type": "invalid_request_error"}}).encode()
        elif shape == "foreign":
            body = json.dumps({"detail": said}).encode()
        else:
            body = f"<html><body><h1>{status}</h1><p>{said}</p></body></html>".encode()
            ctype = "text/html"
        return Reply(status=status, body=body, content_type=ctype, headers=dict(headers or {}))

    return answer
