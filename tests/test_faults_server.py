"""The server charges only clients that get their answer: hung-up clients, read timeouts shorter
than the tagging, and what the server promises about its own worst case. Real uvicorn on
loopback, real sockets, a real key database."""

from __future__ import annotations

import socket
import time

import httpx
import pytest
from conftest import request_body

from imagetags_df import _constants as C
from imagetags_df.server import create_app
from imagetags_df.server.keystore import KeyStore
from imagetags_df.server.serving import ServingLimits
from imagetags_df.server.testing import ServerThread, StubBackend

TAGS = C.GENERATE_TAGS_PATH


def _request(key: str, body: bytes) -> bytes:
    return (f"POST {TAGS} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            f"authorization: Bearer {key}\r\ncontent-length: {len(body)}\r\n\r\n").encode() + body


def _settled(store: KeyStore, backend: StubBackend, images: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while backend.images < images or store.open_reservations():
        assert time.monotonic() < deadline, "reservations still open"
        time.sleep(0.05)


@pytest.mark.timeout(60)
def test_clients_that_send_a_request_and_hang_up_at_once_are_not_charged(tmp_path):
    store = KeyStore(tmp_path / "keys.sqlite3")
    key, info = store.create("quitters", 100)
    backend = StubBackend(delay=0.5)
    body = request_body()
    with ServerThread(create_app(store, backend=backend)) as server:
        socks = [socket.create_connection((server.host, server.port)) for _ in range(10)]
        for sock in socks:
            sock.sendall(_request(key, body))
        time.sleep(0.2)  # every request is being tagged: its credit is reserved
        for sock in socks:
            sock.close()
        _settled(store, backend, 10)
        # The server still answers a client that stays.
        ok = httpx.post(server.url + TAGS, content=body, headers={"authorization": f"Bearer {key}",
                                                                 "content-type": "application/json"})
        assert ok.status_code == 200
    now = store.get(info.id)
    assert now.credits == 99 and now.used == 1, f"{100 - now.credits - 1} hung-up clients were charged"


@pytest.mark.timeout(60)
def test_a_client_whose_read_timeout_is_too_short_is_not_charged_for_its_tries(tmp_path):
    store = KeyStore(tmp_path / "keys.sqlite3")
    key, info = store.create("impatient", 100)
    backend = StubBackend(delay=1.0)
    body = request_body()
    with ServerThread(create_app(store, backend=backend)) as server:
        for _ in range(3):  # a client retrying after each read timeout
            with pytest.raises(httpx.ReadTimeout):
                httpx.post(server.url + TAGS, content=body, timeout=httpx.Timeout(0.4),
                           headers={"authorization": f"Bearer {key}", "content-type": "application/json"})
        _settled(store, backend, 3)
    assert store.get(info.id).credits == 100


@pytest.mark.timeout(60)
def test_tagging_past_the_servers_time_limit_is_refunded_and_answered(tmp_path):
    store = KeyStore(tmp_path / "keys.sqlite3")
    key, info = store.create("k", 10)
    limits = ServingLimits(tag_timeout=0.5)
    with ServerThread(create_app(store, backend=StubBackend(delay=3.0), limits=limits)) as server:
        answer = httpx.post(server.url + TAGS, content=request_body(), timeout=30,
                            headers={"authorization": f"Bearer {key}", "content-type": "application/json"})
    assert answer.status_code == 503 and answer.json()["code"] == C.CODE_INTERNAL
    assert "0.5 s" in answer.json()["message"]
    assert store.get(info.id).credits == 10


def test_our_client_waits_longer_than_the_servers_worst_case():
    limits = ServingLimits()
    # The body arrives at once from our client; the answer is due within tag_timeout after it.
    assert C.DEFAULT_TIMEOUT > limits.tag_timeout + 5
