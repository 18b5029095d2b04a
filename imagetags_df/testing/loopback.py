"""The loopback HTTP server every fake here stands on: a real server on 127.0.0.1 in a thread.

Real sockets mean the client under test meets keep-alive, timeouts and cut connections
exactly as it would in production; ``stop`` cuts kept-alive connections like a dying process.
"""

from __future__ import annotations

import socket
import threading
from collections import deque
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar


class ScriptedHTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that remembers its open connections, so ``stop`` can cut them."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256
    state: Any

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.open_connections: set[Any] = set()
        self.connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.open_connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.open_connections.discard(request)
        super().shutdown_request(request)


_S = TypeVar("_S", bound="LoopbackServer")


class LoopbackServer:
    """A scripted HTTP server on 127.0.0.1 in a daemon thread: what every fake here shares.

    ``state`` carries ``lock``, ``scripts``, ``default_script`` and ``calls``; the handler
    class answers from it. ``url_path`` is appended to the base URL (``/v1`` for an
    OpenAI-compatible server).
    """

    url_path = ""

    def __init__(self, state: Any, handler: type[BaseHTTPRequestHandler], port: int = 0) -> None:
        self.state = state
        # port=0 picks a free one; a fixed port lets a test restart "the same" server.
        self._server = ScriptedHTTPServer(("127.0.0.1", port), handler)
        self._server.state = state
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{self.url_path}"

    def script(self, digest: str, steps: Iterable[str]) -> None:
        """Answers for the next calls carrying this image (by SHA-256 of the bytes sent)."""
        with self.state.lock:
            self.state.scripts.setdefault(digest, deque()).extend(steps)

    def script_next(self, steps: Iterable[str]) -> None:
        """Answers for the next calls, whatever the image."""
        with self.state.lock:
            self.state.default_script.extend(steps)

    @property
    def calls(self) -> list[Any]:
        with self.state.lock:
            return list(self.state.calls)

    def count(self, outcome: str | None = None) -> int:
        return sum(1 for c in self.calls if outcome is None or c.outcome == outcome)

    def start(self: _S) -> _S:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop like a process that dies: refuse new connections and cut the kept-alive ones."""
        self._server.shutdown()
        self._server.server_close()
        with self._server.connections_lock:
            for conn in list(self._server.open_connections):
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def __enter__(self: _S) -> _S:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
