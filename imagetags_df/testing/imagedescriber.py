"""A scriptable ImageDescriber look-alike on 127.0.0.1, for tests and benchmarks.

It is a real HTTP server (stdlib ``ThreadingHTTPServer``), so the client under
test goes through sockets, keep-alive, timeouts and dropped connections just as
it would against the service. It can add latency, enforce a sliding-window rate
limit per key, count credits, and answer any error code in every shape API.md
says a client must tolerate::

    with FakeImageDescriber(keys={"sk-test"}, rate_limit=30) as api:
        api.script(digest, ["5050", "ok"])        # first call 5050, then success
        client = ImageDescriberClient(api_key="sk-test", base_url=api.url)

Shapes for a scripted error: ``"<code>"`` (the HTTP status of API.md's reading),
``"<code>@200"`` (HTTP 200 with a non-zero code), ``"html"`` (a proxy's 502 HTML
page), ``"empty"`` (503 with no body), ``"drop"`` (close the connection without
answering), ``"slow"`` (sleep past any sane timeout, then answer).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from .. import _constants as C
from .loopback import LoopbackServer, ScriptedHTTPServer


@dataclass
class Call:
    """One request the server saw."""

    at: float
    key: str | None
    digest: str | None
    lang: str | None
    mime: str | None
    outcome: str  # "ok", a code as text, or a shape name


@dataclass
class _State:
    keys: set[str] | None
    latency: tuple[float, float]
    rate_limit: int | None
    window: float
    credits: float | None
    retry_after: float | None
    scripts: dict[str, deque[str]] = field(default_factory=dict)
    default_script: deque[str] = field(default_factory=deque)
    hits: dict[str, deque[float]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    active: int = 0  # requests being answered right now
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real service behind a proxy
    server: ScriptedHTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def _send(self, status: int, body: bytes, ctype: str = "application/json",
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _error(self, code: int, message: str, *, http200: bool = False,
               headers: dict[str, str] | None = None) -> None:
        body = json.dumps({"code": code, "message": message, "request_id": uuid.uuid4().hex}).encode()
        status = 200 if http200 else C.HTTP_STATUS_FOR_CODE.get(code, 400)
        self._send(status, body, headers=headers)

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        st = self.server.state
        with st.lock:
            st.active += 1
        try:
            self._post(st)
        finally:
            with st.lock:
                st.active -= 1

    def _post(self, st: _State) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.path not in (C.GENERATE_TAGS_PATH, C.GENERATE_CONTENT_PATH):
            self._send(404, b'{"code": 404, "message": "not found"}')
            return
        auth = self.headers.get("authorization") or ""
        key = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        now = time.time()

        def record(outcome: str, digest: str | None = None, lang: str | None = None,
                   mime: str | None = None) -> None:
            with st.lock:
                st.calls.append(Call(now, key, digest, lang, mime, outcome))

        if not key:
            record("1002")
            self._error(C.CODE_UNAUTHORIZED, "unauthorized")
            return
        if st.keys is not None and key not in st.keys:
            record("1003")
            self._error(C.CODE_INVALID_KEY, "invalid api key")
            return
        if st.rate_limit is not None:
            with st.lock:
                q = st.hits.setdefault(key, deque())
                while q and q[0] <= now - st.window:
                    q.popleft()
                limited = len(q) >= st.rate_limit
                if not limited:
                    q.append(now)
                wait = (q[0] + st.window - now) if limited else 0.0
            if limited:
                record("1004")
                headers = {}
                if st.retry_after is not None:
                    headers["retry-after"] = str(st.retry_after)
                elif wait > 0:
                    headers["retry-after"] = str(max(1, math.ceil(wait)))
                self._error(C.CODE_RATE_LIMITED, "too many requests", headers=headers)
                return
        try:
            body = json.loads(raw)
            image = body["image"]
            lang = body.get("lang", "en")
            header, _, b64 = image.partition(",") if image.startswith("data:") else ("", "", image)
            mime = header[5:].split(";")[0] if header else None
            data = base64.b64decode(b64, validate=True)
        except (ValueError, KeyError, TypeError, AttributeError):
            record("1005")
            self._error(C.CODE_INVALID_PARAMS, "invalid parameters")
            return
        digest = hashlib.sha256(data).hexdigest()
        if lang not in C.LANGUAGES:
            record("1005", digest, lang, mime)
            self._error(C.CODE_INVALID_PARAMS, f"unsupported lang {lang}")
            return
        if len(data) > C.SERVER_MAX_IMAGE_BYTES:
            record("2004", digest, lang, mime)
            self._error(C.CODE_INVALID_IMAGE, "image too large")
            return
        with st.lock:
            script = st.scripts.get(digest)
            step = script.popleft() if script else (st.default_script.popleft() if st.default_script else "ok")
        lo, hi = st.latency
        if hi > 0:
            time.sleep(random.uniform(lo, hi))
        if step == "ok":
            with st.lock:
                if st.credits is not None and st.credits < 1:
                    step = str(C.CODE_NO_CREDITS)
                elif st.credits is not None:
                    st.credits -= 1
                remaining = st.credits
            if step == "ok":
                record("ok", digest, lang, mime)
                payload = {
                    "code": 0, "message": "success", "request_id": uuid.uuid4().hex,
                    "data": {
                        "tags": {"tags": [f"tag-{digest[:6]}", f"lang-{lang}", "fake"],
                                 "title": f"Image {digest[:6]}", "description": f"A fake description in {lang}."},
                        # The seed's example gives credits as strings; the client must cope.
                        "credits": {"amount": "1", "remaining": str(remaining if remaining is not None else 999)},
                    },
                }
                self._send(200, json.dumps(payload).encode())
                return
        record(step, digest, lang, mime)
        self._scripted(step)

    def _scripted(self, step: str) -> None:
        if step == "drop":
            self.close_connection = True
            self.connection.shutdown(2)  # RST/FIN with no response at all
            return
        if step == "html":
            page = b"<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"
            self._send(502, page, ctype="text/html")
            return
        if step == "empty":
            self._send(503, b"", ctype="text/plain")
            return
        if step == "slow":
            time.sleep(30)
            self._send(200, b"{}")
            return
        code_text, _, variant = step.partition("@")
        headers = {}
        if int(code_text) == C.CODE_RATE_LIMITED and self.server.state.retry_after is not None:
            headers["retry-after"] = str(self.server.state.retry_after)
        self._error(int(code_text), f"scripted error {code_text}", http200=(variant == "200"), headers=headers)


class FakeImageDescriber(LoopbackServer):
    """Start with ``with FakeImageDescriber(...) as api:``; ``api.url`` is the base URL."""

    def __init__(self, *, keys: Iterable[str] | None = ("sk-test",), latency: float | tuple[float, float] = 0.0,
                 rate_limit: int | None = None, window: float = 60.0, credits: float | None = None,
                 retry_after: float | None = None, port: int = 0) -> None:
        lat = (latency, latency) if isinstance(latency, (int, float)) else tuple(latency)
        super().__init__(_State(keys=set(keys) if keys is not None else None, latency=lat,  # type: ignore[arg-type]
                                rate_limit=rate_limit, window=window, credits=credits,
                                retry_after=retry_after), _Handler, port)

    def in_flight(self) -> int:
        """Requests received and not yet answered (sleeping out the latency, say)."""
        with self.state.lock:
            return int(self.state.active)
