"""``imagetags serve`` when things go wrong: a killed process, clients that hang up, a second server.

The crash test kills a real server process with SIGKILL while requests are in
flight, starts a new one on the same database, and checks the books against what
the clients actually received.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from conftest import default_sigint, request_body

from imagetags_df import _constants as C
from imagetags_df.server import create_app
from imagetags_df.server.cli import serve
from imagetags_df.server.keystore import KeyStore
from imagetags_df.server.testing import ServerThread, StubBackend, free_port, wait_until_serving

TAGS = C.GENERATE_TAGS_PATH


def start_stub_server(db: Path, port: int, delay: float, log: Path) -> subprocess.Popen:
    """``python -m imagetags_df.server.testing``: the real app in its own process, up and answering."""
    proc = subprocess.Popen([sys.executable, "-m", "imagetags_df.server.testing", "--db", str(db),
                             "--port", str(port), "--delay", str(delay)],
                            stdout=subprocess.DEVNULL, stderr=log.open("ab"), preexec_fn=default_sigint)
    wait_until_serving(proc, f"http://127.0.0.1:{port}", timeout=30, poll=0.1, log=log)
    return proc


async def _load_until_killed(port: int, key: str, proc: subprocess.Popen, *, clients: int,
                             kill_after: int, quiet: float) -> int:
    """``clients`` loops sending requests; SIGKILL the server once ``kill_after`` answers
    arrived (``quiet`` s later, while the next batch is being tagged). Returns the
    successes the clients received in full."""
    body = request_body()
    received = 0
    enough = asyncio.Event()

    async def client() -> None:
        nonlocal received
        async with httpx.AsyncClient(timeout=30) as http:
            while True:
                try:
                    r = await http.post(f"http://127.0.0.1:{port}{TAGS}", content=body,
                                        headers={"content-type": "application/json",
                                                 "authorization": f"Bearer {key}"})
                except httpx.TransportError:
                    return  # the server died: this answer never arrived
                if r.json()["code"] == 0:
                    received += 1
                    if received >= kill_after:
                        enough.set()

    tasks = [asyncio.create_task(client()) for _ in range(clients)]
    await asyncio.wait_for(enough.wait(), 60)
    await asyncio.sleep(quiet)
    os.kill(proc.pid, signal.SIGKILL)
    await asyncio.wait_for(asyncio.gather(*tasks), 60)
    return received


def test_sigkill_mid_burst_then_restart_charges_exactly_the_answers_received(tmp_path):
    db = tmp_path / "keys.sqlite3"
    store = KeyStore(db)
    key, info = store.create("burst", 1000)
    log = tmp_path / "server.log"
    port = free_port()
    proc = start_stub_server(db, port, delay=1.0, log=log)
    try:
        received = asyncio.run(_load_until_killed(port, key, proc, clients=12, kill_after=20, quiet=0.3))
    finally:
        proc.kill()
        proc.wait(timeout=10)
    # Killed mid-burst: requests in flight still hold their credits.
    in_flight = store.open_reservations()
    assert len(in_flight) >= 6, "the kill did not land while requests were being tagged"
    assert 1000 - store.get(info.id).credits == received + len(in_flight)

    restarted = start_stub_server(db, port, delay=0.0, log=log)
    try:
        after = KeyStore(db).get(info.id)
        assert 1000 - after.credits == received == after.used
        assert KeyStore(db).open_reservations() == []
        # And the restarted server serves.
        r = httpx.post(f"http://127.0.0.1:{port}{TAGS}", content=request_body(), timeout=30,
                       headers={"content-type": "application/json", "authorization": f"Bearer {key}"})
        assert r.json()["data"]["credits"]["remaining"] == after.credits - 1
    finally:
        restarted.send_signal(signal.SIGINT)
        restarted.wait(timeout=20)
    assert f"refunded {len(in_flight)} credit reservation(s)" in log.read_text()


def test_a_second_server_on_the_same_database_is_refused_with_a_clear_message(tmp_path):
    db = tmp_path / "keys.sqlite3"
    store = KeyStore(db)
    store.create("k", 10)
    with ServerThread(create_app(store, backend=StubBackend())):
        refused = CliRunner().invoke(serve, ["--db", str(db), "--backend", "local", "--port", str(free_port())])
        assert refused.exit_code == 1
        assert f"another imagetags serve (process {os.getpid()}) is already serving the key database" \
            in refused.output and "--db" in refused.output
    # Once the first has stopped, the database is free again.
    with ServerThread(create_app(KeyStore(db), backend=StubBackend())) as again:
        assert httpx.get(again.url + "/healthz").status_code == 200


def test_a_client_that_hangs_up_while_its_image_is_tagged_is_not_charged(tmp_path, caplog):
    store = KeyStore(tmp_path / "keys.sqlite3")
    key, info = store.create("quitter", 10)
    backend = StubBackend(delay=1.0)
    with ServerThread(create_app(store, backend=backend)) as server, \
            caplog.at_level("INFO", logger="imagetags_df.server"):
        body = request_body()
        with socket.create_connection((server.host, server.port)) as sock:
            sock.sendall((f"POST {TAGS} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
                          f"authorization: Bearer {key}\r\ncontent-length: {len(body)}\r\n\r\n").encode() + body)
            time.sleep(0.3)  # tagging has started: the credit is reserved
            assert store.get(info.id).credits == 9
        deadline = time.monotonic() + 10
        while backend.images < 1 or "hung up" not in caplog.text:
            assert time.monotonic() < deadline, caplog.text
            time.sleep(0.05)
    assert store.get(info.id).credits == 10 and store.get(info.id).used == 0
    assert store.open_reservations() == []
    assert "the client hung up before its answer was ready; credit refunded" in caplog.text


def test_a_client_that_hangs_up_mid_body_is_an_info_line_not_a_5050_traceback(tmp_path, caplog):
    store = KeyStore(tmp_path / "keys.sqlite3")
    key, info = store.create("quitter", 10)
    with ServerThread(create_app(store, backend=StubBackend())) as server, \
            caplog.at_level("INFO", logger="imagetags_df.server"):
        with socket.create_connection((server.host, server.port)) as sock:
            sock.sendall((f"POST {TAGS} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
                          f"authorization: Bearer {key}\r\ncontent-length: 1000\r\n\r\n").encode() + b'{"ima')
            time.sleep(0.3)
        deadline = time.monotonic() + 10
        while "hung up" not in caplog.text:
            assert time.monotonic() < deadline, caplog.text
            time.sleep(0.05)
    assert "quitter#1" in caplog.text and "the client hung up while sending its request" in caplog.text
    assert not [r for r in caplog.records if r.levelname == "ERROR"], caplog.text
    assert "5050" not in caplog.text and "Traceback" not in caplog.text
    assert store.get(info.id).credits == 10


def test_an_answer_that_cannot_be_sent_is_refunded(tmp_path):
    """The app's own ASGI contract: a server whose ``send`` fails (the socket is gone)."""
    store = KeyStore(tmp_path / "keys.sqlite3")
    key, info = store.create("unlucky", 10)
    app = create_app(store, backend=StubBackend())
    body = request_body()

    async def run() -> list[str]:
        sent: list[str] = []

        async def lifespan_receive():  # start, then stop when told
            return {"type": "lifespan.startup"} if not sent else {"type": "lifespan.shutdown"}

        async def lifespan_send(message):
            sent.append(message["type"])

        started = asyncio.ensure_future(app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}},
                                            lifespan_receive, lifespan_send))
        while not sent:
            await asyncio.sleep(0.01)
        messages = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive():
            if messages:
                return messages.pop()
            await asyncio.sleep(3600)  # still connected: no disconnect message yet

        async def send(message):
            if message["type"] == "http.response.start":
                raise OSError("the socket is gone")

        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                 "scheme": "http", "path": TAGS, "raw_path": TAGS.encode(), "query_string": b"",
                 "root_path": "", "server": ("127.0.0.1", 1), "client": ("127.0.0.1", 2),
                 "headers": [(b"content-type", b"application/json"), (b"authorization", f"Bearer {key}".encode()),
                             (b"content-length", str(len(body)).encode())]}
        with pytest.raises(OSError):
            await app(scope, receive, send)
        started.cancel()
        return sent

    asyncio.run(run())
    assert store.get(info.id).credits == 10 and store.get(info.id).used == 0
    assert store.open_reservations() == []


def test_a_1004_is_logged_under_its_key_and_key_names_cannot_forge_log_lines(tmp_path, caplog):
    store = KeyStore(tmp_path / "keys.sqlite3")
    key, info = store.create("mallory\n2026-01-01 00:00:00 INFO imagetags_df.server: request x key=admin#1 code=0",
                             10)
    with ServerThread(create_app(store, backend=StubBackend(), rate_limit="1/min")) as server, \
            caplog.at_level("INFO", logger="imagetags_df.server"):
        headers = {"content-type": "application/json", "authorization": f"Bearer {key}"}
        assert httpx.post(server.url + TAGS, content=request_body(), headers=headers).json()["code"] == 0
        assert httpx.post(server.url + TAGS, content=request_body(), headers=headers).json()["code"] == 1004
    lines = [r.getMessage() for r in caplog.records]
    refused = [line for line in lines if "code=1004" in line]
    assert len(refused) == 1 and f"#{info.id}" in refused[0] and "key=-" not in refused[0]
    assert all("\n" not in line for line in lines)
    assert "key=mallory\\n2026-01-01" in refused[0]
