"""``imagetags serve`` against slow and greedy clients: time limits, caps, and a quiet log.

Each test talks raw sockets to a real server on 127.0.0.1 (a thread, or a process
when the test needs its own file limit), with limits small enough to hit in a
second.
"""

from __future__ import annotations

import asyncio
import json
import resource
import socket
import subprocess
import sys
import time

import httpx
import pytest
from conftest import request_body

from imagetags_df import _constants as C
from imagetags_df.server import create_app
from imagetags_df.server.keystore import KeyStore
from imagetags_df.server.serving import LoopErrorLog, ServingLimits
from imagetags_df.server.testing import ServerThread, StubBackend, wait_until_serving

TAGS = C.GENERATE_TAGS_PATH


def _head(key: str, length: int) -> bytes:
    return (f"POST {TAGS} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            f"authorization: Bearer {key}\r\ncontent-length: {length}\r\n\r\n").encode()


def _read_answer(sock: socket.socket, timeout: float = 10.0) -> tuple[int, dict, dict]:
    """Status, headers and JSON body of the answer, read until the server closes."""
    sock.settimeout(timeout)
    raw = b""
    while chunk := sock.recv(65536):
        raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, json.loads(body)


@pytest.fixture
def server(tmp_path):
    """A server with limits small enough to reach: 0.5 s for headers, 1 s for a body."""
    started: list[ServerThread] = []

    def start(limits: ServingLimits, backend=None):
        store = KeyStore(tmp_path / f"keys{len(started)}.sqlite3")
        key, info = store.create("slow", 100)
        thread = ServerThread(create_app(store, backend=backend or StubBackend(), limits=limits)).start()
        started.append(thread)
        return thread, key, store, info

    yield start
    for thread in started:
        thread.stop()


def test_headers_that_never_finish_get_408_in_the_api_shape(server):
    srv, key, _, _ = server(ServingLimits(header_timeout=0.5))
    with socket.create_connection((srv.host, srv.port)) as sock:
        sock.sendall(b"POST " + TAGS.encode() + b" HTTP/1.1\r\nhost: x\r\nauthori")  # and then nothing
        status, headers, body = _read_answer(sock)
    assert status == 408 and body["code"] == 1005 and "headers did not arrive within 0.5 s" in body["message"]
    assert headers["x-request-id"] == body["request_id"] and headers["connection"] == "close"


def test_a_connection_that_says_nothing_is_closed_after_the_header_timeout(server):
    srv, *_ = server(ServingLimits(header_timeout=0.5))
    with socket.create_connection((srv.host, srv.port)) as sock:
        status, _, body = _read_answer(sock)
    assert status == 408 and body["code"] == 1005


def test_a_header_dripped_a_byte_at_a_time_does_not_reset_the_clock(server):
    srv, key, _, _ = server(ServingLimits(header_timeout=0.6))
    head = _head(key, 10)
    started = time.monotonic()
    with socket.create_connection((srv.host, srv.port)) as sock:
        sock.settimeout(10)
        for byte in head[:40]:
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                break
            time.sleep(0.05)
        status, _, body = _read_answer(sock)
    assert status == 408 and time.monotonic() - started < 5


def test_a_body_shorter_than_its_content_length_gets_408_after_the_body_timeout(server):
    srv, key, store, info = server(ServingLimits(body_timeout=1.0))
    body = request_body()
    with socket.create_connection((srv.host, srv.port)) as sock:
        sock.sendall(_head(key, len(body) + 500) + body)  # 500 bytes promised but never sent
        status, _, answer = _read_answer(sock)
    assert status == 408 and answer["code"] == 1005
    assert "did not arrive within 1 s" in answer["message"] and f"{len(body):,} bytes" in answer["message"]
    assert store.get(info.id).credits == 100


def test_a_body_sent_a_byte_a_second_gets_408(server):
    srv, key, _, _ = server(ServingLimits(body_timeout=1.0))
    body = request_body()
    with socket.create_connection((srv.host, srv.port)) as sock:
        sock.sendall(_head(key, len(body)))
        sock.settimeout(10)
        for byte in body[:30]:
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                break
            time.sleep(0.1)
        status, _, answer = _read_answer(sock)
    assert status == 408 and answer["code"] == 1005


def test_a_kept_alive_connection_gets_the_header_timeout_for_its_next_request(server):
    srv, key, _, _ = server(ServingLimits(header_timeout=0.5, keep_alive_timeout=30))
    body = request_body()
    with socket.create_connection((srv.host, srv.port)) as sock:
        sock.sendall(_head(key, len(body)).replace(b"host: x", b"host: x\r\nconnection: keep-alive") + body)
        sock.settimeout(10)
        first = sock.recv(65536)
        assert b" 200 " in first.split(b"\r\n")[0]
        sock.sendall(b"POST /api/v1/gen")  # the second request stalls in its request line
        rest = b""
        while chunk := sock.recv(65536):
            rest += chunk
    assert b" 408 " in rest.split(b"\r\n")[0]


def test_connections_over_the_cap_get_503_at_once_and_the_rest_still_serve(server):
    srv, key, _, _ = server(ServingLimits(max_connections=4, header_timeout=30))
    idle = [socket.create_connection((srv.host, srv.port)) for _ in range(4)]
    try:
        time.sleep(0.2)
        with socket.create_connection((srv.host, srv.port)) as extra:
            status, headers, body = _read_answer(extra, timeout=5)
        assert status == 503 and body["code"] == 5050 and headers["retry-after"] == "1"
        assert "4 connections are open" in body["message"]
    finally:
        for sock in idle:
            sock.close()
    time.sleep(0.2)
    r = httpx.post(srv.url + TAGS, content=request_body(), timeout=10,
                   headers={"content-type": "application/json", "authorization": f"Bearer {key}"})
    assert r.json()["code"] == 0


def test_requests_over_the_concurrency_cap_get_5050_with_503_and_retry_after(server):
    srv, key, store, info = server(ServingLimits(max_concurrency=2), backend=StubBackend(delay=1.0))

    async def three() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=30) as http:
            post = lambda: http.post(srv.url + TAGS, content=request_body(),  # noqa: E731
                                     headers={"content-type": "application/json", "authorization": f"Bearer {key}"})
            return list(await asyncio.gather(post(), post(), post()))

    answers = asyncio.run(three())
    codes = sorted(r.json()["code"] for r in answers)
    assert codes == [0, 0, 5050]
    busy = next(r for r in answers if r.json()["code"] == 5050)
    assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
    assert "2 requests in progress" in busy.json()["message"]
    assert store.get(info.id).credits == 98


def test_unparseable_http_gets_400_in_the_api_shape(server):
    srv, *_ = server(ServingLimits())
    with socket.create_connection((srv.host, srv.port)) as sock:
        sock.sendall(b"HELLO THERE\r\n\r\n")
        status, headers, body = _read_answer(sock)
    assert status == 400 and body["code"] == 1005 and headers["content-type"] == "application/json"
    assert "not a valid HTTP/1.1 request" in body["message"] and len(body["request_id"]) == 32


def test_loop_error_log_says_each_kind_once_per_interval_with_a_count():
    now = [0.0]
    handler = LoopErrorLog(every=10, clock=lambda: now[0])
    err = OSError(24, "Too many open files")
    records: list[str] = []

    import logging

    class Catch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    logger = logging.getLogger("imagetags_df.server")
    catch = Catch()
    logger.addHandler(catch)
    try:
        for _ in range(2048):
            handler(None, {"message": "socket.accept() out of system resource", "exception": err})
        now[0] = 11.0
        handler(None, {"message": "socket.accept() out of system resource", "exception": err})
    finally:
        logger.removeHandler(catch)
    assert len(records) == 2
    assert "socket.accept() out of system resource" in records[0] and "2047 more like it" in records[1]


def test_out_of_file_descriptors_the_log_stays_small_and_the_server_recovers(tmp_path):
    """A real process with a 64-file limit and no connection cap: 150 idle connections
    exhaust it. The log says so a few times, not thousands; once the idle connections
    time out, requests are served again."""
    db = tmp_path / "keys.sqlite3"
    key, _ = KeyStore(db).create("k", 10)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = tmp_path / "server.log"

    def low_file_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))

    proc = subprocess.Popen([sys.executable, "-m", "imagetags_df.server.testing", "--db", str(db),
                             "--port", str(port), "--header-timeout", "2", "--max-connections", "100000"],
                            stdout=subprocess.DEVNULL, stderr=log.open("wb"), preexec_fn=low_file_limit)
    idle: list[socket.socket] = []
    try:
        wait_until_serving(proc, f"http://127.0.0.1:{port}", timeout=30, poll=0.1, log=log)
        for _ in range(150):
            s = socket.socket()
            s.connect(("127.0.0.1", port))  # completes in the listen backlog even when not accepted
            idle.append(s)
        time.sleep(3.5)  # accept() fails for a while; the accepted ones time out after 2 s
        for s in idle:
            s.close()
        idle.clear()
        time.sleep(2.5)  # the rest of the backlog is accepted and times out too
        r = httpx.post(f"http://127.0.0.1:{port}{TAGS}", content=request_body(), timeout=10,
                       headers={"content-type": "application/json", "authorization": f"Bearer {key}"})
        assert r.json()["code"] == 0
    finally:
        for s in idle:
            s.close()
        proc.kill()
        proc.wait(timeout=10)
    text = log.read_text()
    accept_lines = [line for line in text.splitlines() if "socket.accept() out of system resource" in line]
    assert 1 <= len(accept_lines) <= 3, text[-3000:]
    assert len(text) < 50_000
