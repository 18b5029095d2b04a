"""How the server meets the network: time limits, caps, and uvicorn's own answers.

uvicorn on its own waits forever for the headers of a request that never come, and
accepts connections until the process runs out of file descriptors; the event loop
then logs every failed ``accept()`` with a traceback, thousands a second. Here:

* a **header timeout** closes a connection whose request line and headers have not
  all arrived in time (a client that connects and says nothing, or drips a header
  a byte a second), with a 408 in the API's JSON error shape;
* a **connection cap** answers connections beyond it with a 503 at once and closes
  them, so idle sockets cannot take the descriptors real requests need;
* uvicorn's own 400 for unparseable HTTP is answered in the API's JSON shape too;
* accept errors and other event-loop errors are logged at most once per
  :data:`LOG_EVERY` seconds each, with a count of the ones left out.

The body timeout and the cap on requests handled at once live in the app
(:func:`imagetags_df.server.app.create_app`), which reads the body and can answer
in the API's shape; :class:`ServingLimits` carries all of them.

>>> config = uvicorn_config(app, host="127.0.0.1", port=8000)        # doctest: +SKIP
>>> uvicorn.Server(config).run()                                    # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from .. import _constants as C

log = logging.getLogger("imagetags_df.server")

#: Seconds between two log lines of the same event-loop error (accept failures).
LOG_EVERY = 10.0


@dataclass(frozen=True)
class ServingLimits:
    """Time limits and caps of one server; every default is documented in the README."""

    #: Seconds for the request line and headers to arrive, from the connection (or the
    #: previous answer on a kept-alive connection) on.
    header_timeout: float = 10.0
    #: Seconds for the whole body to arrive once the headers have: 4 MiB of base64 at
    #: 1 Mbit/s takes about 45 s.
    body_timeout: float = 60.0
    #: Seconds an idle kept-alive connection stays open after an answer (uvicorn's
    #: ``timeout_keep_alive``).
    keep_alive_timeout: float = 5.0
    #: Open connections at most; more are answered 503 and closed at once.
    max_connections: int = 1000
    #: Requests past auth and rate limit handled at once (each holds its body and,
    #: while validated, a decode); more get 5050 with HTTP 503 and ``Retry-After: 1``.
    max_concurrency: int = 128
    #: Seconds a request may take from its credit's reservation to its answer (tagging and
    #: the wait for a worker); past it, 5050 (HTTP 503), refunded. With the body timeout this
    #: is the server's worst case, and our client's own timeout (DEFAULT_TIMEOUT) waits longer
    #: than it, so our client never gives up on an answer it is then charged for.
    tag_timeout: float = 45.0

    def __post_init__(self) -> None:
        for name in ("header_timeout", "body_timeout", "keep_alive_timeout", "tag_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be a positive number of seconds")
        for name in ("max_connections", "max_concurrency"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")


def error_bytes(status: int, code: int, message: str, *, retry_after: int | None = None) -> bytes:
    """A complete HTTP/1.1 answer in the API's error shape that closes the connection,
    for answers given before (or without) a request the app could see."""
    request_id = uuid.uuid4().hex
    body = json.dumps({"code": code, "message": message, "request_id": request_id}).encode()
    head = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}", "content-type: application/json",
            f"content-length: {len(body)}", f"x-request-id: {request_id}", "connection: close"]
    if retry_after is not None:
        head.append(f"retry-after: {retry_after}")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def protocol_class(limits: ServingLimits) -> type[asyncio.Protocol]:
    """uvicorn's h11 protocol with the header timeout, the connection cap and JSON 400s."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class GuardedH11Protocol(H11Protocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._header_timer: asyncio.TimerHandle | None = None
            if len(self.connections) > limits.max_connections:
                transport.write(error_bytes(503, C.CODE_INTERNAL,
                                            f"server busy: {limits.max_connections} connections are open; "
                                            "retry in 1 s", retry_after=1))
                transport.close()
                return
            self._await_headers()

        def _await_headers(self) -> None:
            self._cancel_header_timer()
            self._header_timer = self.loop.call_later(limits.header_timeout, self._headers_too_slow)

        def _cancel_header_timer(self) -> None:
            if getattr(self, "_header_timer", None) is not None:
                self._header_timer.cancel()  # type: ignore[union-attr]
                self._header_timer = None

        def _headers_too_slow(self) -> None:
            self._header_timer = None
            if self.transport.is_closing() or (self.cycle is not None and not self.cycle.response_complete):
                return
            self.transport.write(error_bytes(408, C.CODE_INVALID_PARAMS,
                                             f"the request headers did not arrive within "
                                             f"{limits.header_timeout:g} s"))
            self.transport.close()

        def handle_events(self) -> None:
            import h11

            cycle = self.cycle
            super().handle_events()
            if self.cycle is not cycle and self.cycle is not None:
                # A request's headers are complete: the app takes over (and times the body).
                self._cancel_header_timer()
                current = self.cycle
                extensions: dict[str, Any] = self.cycle.scope.setdefault("extensions", {})
                extensions["imagetags.connection_lost"] = lambda: current.disconnected
            if (self.cycle is not None and not self.cycle.response_complete
                    and self.conn.their_state is h11.DONE and not self.conn.trailing_data[0]
                    and not self.transport.is_closing()):
                # The whole request is in and its answer is being made. h11 pauses reading
                # here (nothing more may come before the answer), and a paused socket never
                # reports the client's FIN: keep reading, so a client that hangs up now is
                # seen as gone and refunded, whatever the app does meanwhile. Bytes a
                # pipelining client sends are still held (reading pauses again on them).
                self.flow.resume_reading()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                # The next request on this kept-alive connection gets the same time for its headers.
                self._await_headers()

        def connection_lost(self, exc: Exception | None) -> None:
            self._cancel_header_timer()
            super().connection_lost(exc)

        def send_400_response(self, msg: str) -> None:
            self._cancel_header_timer()
            self.transport.write(error_bytes(400, C.CODE_INVALID_PARAMS,
                                             f"not a valid HTTP/1.1 request ({msg.rstrip('.')}): "
                                             f"POST {C.GENERATE_TAGS_PATH} with a JSON body"))
            self.transport.close()

    return GuardedH11Protocol


class LoopErrorLog:
    """An event-loop exception handler that logs each kind of error at most once per ``every`` s.

    Out of file descriptors, asyncio's accept loop reports every failed ``accept()``
    (up to the listen backlog per loop turn, each with a traceback); one line per
    interval, with the number left out, says the same thing.
    """

    def __init__(self, every: float = LOG_EVERY, clock: Any = time.monotonic) -> None:
        self.every = every
        self._clock = clock
        self._last: dict[str, float] = {}
        self._skipped: dict[str, int] = {}

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        message = str(context.get("message") or "event loop error")
        exc = context.get("exception")
        kind = f"{message}|{type(exc).__name__}:{getattr(exc, 'errno', '')}"
        now = self._clock()
        last = self._last.get(kind)
        if last is not None and now - last < self.every:
            self._skipped[kind] = self._skipped.get(kind, 0) + 1
            return
        self._last[kind] = now
        skipped = self._skipped.pop(kind, 0)
        more = f" ({skipped} more like it in the last {now - last:.0f} s)" if skipped and last is not None else ""
        # The traceback too (of this one, not of the ones left out): an error in a
        # callback is a bug to find.
        log.error("%s%s", message, more,
                  exc_info=(type(exc), exc, exc.__traceback__) if isinstance(exc, BaseException) else None)


def install_loop_error_log(loop: asyncio.AbstractEventLoop | None = None) -> None:
    (loop or asyncio.get_running_loop()).set_exception_handler(LoopErrorLog())


def uvicorn_config(app: Any, *, host: str = "127.0.0.1", port: int = 8000, limits: ServingLimits | None = None,
                   log_level: str = "info", **options: Any) -> Any:
    """A ``uvicorn.Config`` for ``app`` with the guarded protocol and ``limits``."""
    import uvicorn

    limits = limits or ServingLimits()
    return uvicorn.Config(app, host=host, port=port, http=protocol_class(limits), log_level=log_level,
                          access_log=False, timeout_keep_alive=limits.keep_alive_timeout,  # type: ignore[arg-type]
                          lifespan="on", **options)


__all__ = ["LOG_EVERY", "LoopErrorLog", "ServingLimits", "error_bytes", "install_loop_error_log",
           "protocol_class", "uvicorn_config"]
