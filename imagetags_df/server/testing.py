"""A real server on loopback for tests and benchmarks, and a trivial backend to serve.

:class:`ServerThread` runs uvicorn in a background thread on a free port of
127.0.0.1, so a test (or ``bench/server_load.py``) talks real HTTP to the real
app. :class:`StubBackend` answers instantly from the image's size, so what is
measured is the server (auth, limits, validation, accounting), not a model.

>>> from imagetags_df.server import create_app, KeyStore
>>> store = KeyStore(":memory:")
>>> key, _ = store.create("test", credits=10)
>>> with ServerThread(create_app(store, backend=StubBackend())) as server:   # doctest: +SKIP
...     httpx.post(server.url + "/api/v1/generate_tags", ...)
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from .._types import PreparedImage, TagResult
from ..backends.base import Backend, tag_each
from .serving import ServingLimits, uvicorn_config


class StubBackend(Backend):
    """Tags from the image's own facts (format, size, language), at once or after ``delay`` s.

    ``error`` (an exception instance) is raised for every image instead, to test
    how the server maps backend failures. ``prompts=True`` adds an ``answer``
    method, which turns on ``generate_content``.
    """

    name = "stub"
    max_batch = 16
    max_concurrency = 4

    def __init__(self, *, delay: float = 0.0, error: BaseException | None = None) -> None:
        self.delay = delay
        self.error = error
        self.calls = 0  # tag_batch calls
        self.images = 0  # images tagged (or failed)

    def cache_identity(self) -> str:
        return "stub:1"

    def tag(self, image: PreparedImage, lang: str) -> TagResult:
        if self.error is not None:
            raise self.error
        kind = image.mime.split("/")[-1]
        return TagResult(tags=[kind, f"{image.width}x{image.height}", f"lang-{lang}"],
                         title=f"A {kind} image", description=f"A {image.width}x{image.height} {kind} image ({lang}).",
                         backend=self.name)

    async def tag_batch(self, images: Sequence[PreparedImage], lang: str) -> list[TagResult | BaseException]:
        self.calls += 1
        self.images += len(images)
        if self.delay:
            await asyncio.sleep(self.delay)
        # In the event loop, not a worker thread: the load benchmark measures the server, not thread hops.
        return tag_each(self.tag, images, lang)


class PromptStubBackend(StubBackend):
    """A stub that can also answer ``generate_content`` prompts."""

    name = "stub-prompts"

    def answer(self, image: PreparedImage, prompt: str, lang: str) -> str:
        if self.error is not None:
            raise self.error
        return f"{prompt.strip()} -> a {image.width}x{image.height} {image.mime} image ({lang})"


def free_socket(host: str = "127.0.0.1") -> socket.socket:
    """A listening-ready socket bound to a free port (no race between picking and binding)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    return sock


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on at this moment, for a server started in another process."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_until_serving(proc: subprocess.Popen, url: str, *, timeout: float = 60.0, poll: float = 0.2,
                       log: Path | None = None, health: str = "/healthz") -> None:
    """Return once ``url``'s ``health`` path answers 200; raise RuntimeError, with what the
    process wrote (``log``, or its piped stderr), if it exits first or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url.rstrip("/") + health, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            if proc.poll() is None:
                proc.kill()
            said = log.read_text(errors="replace") if log is not None else \
                (proc.communicate()[1] if proc.stderr is not None else "")
            raise RuntimeError(f"the server at {url} did not come up (exit code {proc.poll()}):\n{said}")
        time.sleep(poll)


class ServerThread:
    """uvicorn serving ``app`` on 127.0.0.1 in a daemon thread; ``url`` is its base URL."""

    def __init__(self, app: Any, *, host: str = "127.0.0.1", log_level: str = "warning",
                 startup_timeout: float = 20.0, limits: ServingLimits | None = None) -> None:
        import uvicorn

        self._sock = free_socket(host)
        self.host, self.port = self._sock.getsockname()[:2]
        # The same protocol, time limits and caps as ``imagetags serve``.
        config = uvicorn_config(app, host=host, port=self.port, log_level=log_level, timeout_graceful_shutdown=5,
                                limits=limits or getattr(getattr(app.state, "imagetags", None), "limits", None))
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self._sock]},
                                        name=f"uvicorn-{self.port}", daemon=True)
        self._startup_timeout = startup_timeout

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + self._startup_timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the test server on port {self.port} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=15)
        self._sock.close()

    def __enter__(self) -> ServerThread:  # noqa: PYI034 - Python 3.10 has no typing.Self
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


async def burst(port: int, path: str, bodies_and_keys: Sequence[tuple[bytes, str]], *,
                host: str = "127.0.0.1", timeout: float = 60.0) -> list[RawResponse]:
    """Send one POST per ``(body, key)`` *at the same moment* and return the answers in order.

    Every connection is opened first, then every request is written, then every
    answer read, so the requests really are in flight together. Written on bare
    asyncio streams because httpx's connection pool slows down quadratically with
    hundreds of connections, which would spread a "simultaneous" burst over seconds.
    """
    async def connect() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection(host, port)

    async def exchange(conn: tuple[asyncio.StreamReader, asyncio.StreamWriter], body: bytes, key: str
                       ) -> RawResponse:
        reader, writer = conn
        head = (f"POST {path} HTTP/1.1\r\nhost: {host}:{port}\r\nconnection: close\r\n"
                f"content-type: application/json\r\nauthorization: Bearer {key}\r\n"
                f"content-length: {len(body)}\r\n\r\n").encode()
        writer.write(head + body)
        await writer.drain()
        raw = await reader.read()  # connection: close -> the answer ends at EOF
        writer.close()
        head_bytes, _, payload = raw.partition(b"\r\n\r\n")
        lines = head_bytes.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        return RawResponse(int(lines[0].split()[1]), headers, payload)

    async def run() -> list[RawResponse]:
        conns = await asyncio.gather(*[connect() for _ in bodies_and_keys])
        return await asyncio.gather(*[exchange(c, b, k) for c, (b, k) in zip(conns, bodies_and_keys)])

    return await asyncio.wait_for(run(), timeout)


def serve_stub(argv: Sequence[str] | None = None) -> None:
    """A real server process with the stub backend, for crash tests and benchmarks.

    ``python -m imagetags_df.server.testing --db keys.sqlite3 --port 8000 --delay 1``
    serves exactly as ``imagetags serve`` does (same app, protocol, limits, start-up
    recovery), with :class:`StubBackend` tagging one batch at a time, ``--delay`` s each.
    """
    import argparse
    import logging
    import sys

    import uvicorn

    from .app import create_app
    from .keystore import KeyStore

    parser = argparse.ArgumentParser(prog="python -m imagetags_df.server.testing")
    parser.add_argument("--db", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--rate-limit", default="1000000/min")
    parser.add_argument("--header-timeout", type=float, default=ServingLimits.header_timeout)
    parser.add_argument("--max-connections", type=int, default=ServingLimits.max_connections)
    args = parser.parse_args(argv)
    limits = ServingLimits(header_timeout=args.header_timeout, max_connections=args.max_connections)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    backend = StubBackend(delay=args.delay)
    backend.max_concurrency = 1  # one batch at a time: answers leave together, between quiet delays
    app = create_app(KeyStore(args.db), backend=backend, rate_limit=args.rate_limit, limits=limits)
    server = uvicorn.Server(uvicorn_config(app, port=args.port, log_level="info", limits=limits))
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    if not server.started:
        sys.exit(3)


__all__ = ["PromptStubBackend", "RawResponse", "ServerThread", "StubBackend", "burst", "free_port", "free_socket",
           "serve_stub", "wait_until_serving"]


if __name__ == "__main__":
    serve_stub()
