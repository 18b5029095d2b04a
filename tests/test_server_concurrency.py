"""Races: the rate limit and the credits stay exact however many requests arrive at once.

Requests are real HTTP on 127.0.0.1: one connection each, all opened first, then
every request written at once (``imagetags_df.server.testing.burst``), so they
reach the server together.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import threading
from collections import Counter

import pytest
from PIL import Image

from imagetags_df import _constants as C
from imagetags_df.server import create_app
from imagetags_df.server.keystore import KeyStore
from imagetags_df.server.limits import RateLimiter
from imagetags_df.server.serving import ServingLimits
from imagetags_df.server.testing import RawResponse, ServerThread, StubBackend, burst


def _image_body() -> dict[str, str]:
    buf = io.BytesIO()
    Image.new("RGB", (32, 24), "teal").save(buf, "JPEG")
    return {"image": "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode(), "lang": "en"}


def _burst(server: ServerThread, keys: list[str]) -> list[RawResponse]:
    """One request per entry of ``keys``, all in flight at once."""
    body = json.dumps(_image_body()).encode()
    return asyncio.run(burst(server.port, C.GENERATE_TAGS_PATH, [(body, k) for k in keys]))


def _codes(responses: list[RawResponse]) -> Counter:
    return Counter(r.json()["code"] for r in responses)


def test_200_simultaneous_requests_on_one_key_admit_exactly_30(tmp_path):
    store = KeyStore(tmp_path / "keys.sqlite3")
    key, info = store.create("burst", 1000)
    # A little backend latency keeps early requests in flight while later ones arrive.
    with ServerThread(create_app(store, backend=StubBackend(delay=0.02), rate_limit="30/min")) as server:
        responses = _burst(server, [key] * 200)
    assert _codes(responses) == {0: 30, 1004: 170}
    assert {r.status for r in responses if r.json()["code"] == 1004} == {429}
    assert all(1 <= int(r.headers["retry-after"]) <= 60 for r in responses if r.status == 429)
    assert store.get(info.id).credits == 1000 - 30


def test_one_keys_burst_never_touches_another_keys_limit(tmp_path):
    store = KeyStore(tmp_path / "keys.sqlite3")
    (a, ia), (b, ib) = store.create("a", 1000), store.create("b", 1000)
    with ServerThread(create_app(store, backend=StubBackend(), rate_limit="30/min")) as server:
        responses = _burst(server, [a, b] * 100)
    by_key = {k: Counter(r.json()["code"] for r, kk in zip(responses, [a, b] * 100) if kk == k) for k in (a, b)}
    assert by_key[a] == by_key[b] == {0: 30, 1004: 70}
    assert store.get(ia.id).credits == store.get(ib.id).credits == 970


def test_50_credits_under_200_simultaneous_requests_end_at_exactly_0(tmp_path):
    store = KeyStore(tmp_path / "keys.sqlite3")
    key, info = store.create("spender", 50)
    backend = StubBackend(delay=0.02)
    # All 200 pass the gates at once: the cap on requests in progress must not refuse any.
    with ServerThread(create_app(store, backend=backend, rate_limit="100000/min",
                                 limits=ServingLimits(max_concurrency=256))) as server:
        responses = _burst(server, [key] * 200)
    codes = _codes(responses)
    assert codes == {0: 50, 2002: 150}
    assert store.get(info.id).credits == 0 and store.get(info.id).used == 50
    remaining = sorted(r.json()["data"]["credits"]["remaining"] for r in responses if r.json()["code"] == 0)
    assert remaining == list(range(50))  # each success saw its own, distinct balance
    assert backend.images == 50  # refused requests never reached the backend
    assert {r.status for r in responses if r.json()["code"] == 2002} == {402}


def test_failed_taggings_under_load_are_all_refunded(tmp_path):
    store = KeyStore(tmp_path / "keys.sqlite3")
    # As many credits as requests: each holds a reservation while in flight, and
    # every one must come back. (With fewer, requests arriving while the others
    # hold the last credits get 2002: a reservation is spent until refunded.)
    key, info = store.create("unlucky", 60)
    with ServerThread(create_app(store, backend=StubBackend(error=RuntimeError("down")),
                                 rate_limit="100000/min")) as server:
        responses = _burst(server, [key] * 60)
    assert _codes(responses) == {5050: 60}
    assert store.get(info.id).credits == 60 and store.get(info.id).used == 0


def test_reservations_race_across_connections_like_separate_processes(tmp_path):
    """Eight store objects (eight SQLite connections, as eight processes would have) spend one balance."""
    path = tmp_path / "keys.sqlite3"
    _, info = KeyStore(path).create("shared", 100)
    wins: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def spender() -> None:
        store = KeyStore(path)
        start.wait()
        for _ in range(50):
            reservation = store.reserve(info.id, 1)
            if reservation is not None:
                with lock:
                    wins.append(reservation.remaining)
        store.close()

    threads = [threading.Thread(target=spender) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(wins) == 100 and sorted(wins) == list(range(100))
    assert KeyStore(path).get(info.id).credits == 0


def test_limiter_admits_exactly_capacity_from_many_threads():
    limiter = RateLimiter("30/min", clock=lambda: 1000.0)
    admitted: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(16)

    def hammer() -> None:
        start.wait()
        for _ in range(25):
            ok = limiter.hit("k").allowed
            with lock:
                admitted.append(ok)

    threads = [threading.Thread(target=hammer) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert admitted.count(True) == 30 and len(admitted) == 400


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_limiter_window_slides_and_retry_after_is_exact():
    clock = FakeClock()
    limiter = RateLimiter("3/min", clock=clock)
    for t in (0.0, 10.0, 20.0):
        clock.now = t
        assert limiter.hit("k").allowed
    clock.now = 30.0
    refused = limiter.hit("k")
    assert not refused.allowed and refused.retry_after == 30  # the request at t=0 leaves at t=60
    clock.now = 59.9
    assert not limiter.hit("k").allowed
    clock.now = 60.0
    assert limiter.hit("k").allowed  # waiting exactly Retry-After is enough
    assert not limiter.hit("k").allowed  # t=10 and t=20 are still inside the window
    clock.now = 70.0
    assert limiter.hit("k").allowed


def test_limiter_refusals_do_not_count():
    clock = FakeClock()
    limiter = RateLimiter("1/min", clock=clock)
    assert limiter.hit("k").allowed
    for t in range(1, 60):
        clock.now = float(t)
        assert not limiter.hit("k").allowed
    clock.now = 60.0
    assert limiter.hit("k").allowed  # hammering while refused did not push the window out


@pytest.mark.parametrize("rate, capacity, window", [
    ("30/min", 30, 60.0), ("1800/hour", 30, 60.0), ("2/s", 120, 60.0), ("2.5/min", 2, 48.0),
    ("1/hour", 1, 3600.0), (45, 45, 60.0),
])
def test_limiter_capacity_is_a_whole_number_of_requests(rate, capacity, window):
    limiter = RateLimiter(rate)
    assert limiter.capacity == capacity and limiter.window == pytest.approx(window)


def test_simultaneous_requests_are_batched_and_each_gets_its_own_answer(tmp_path):
    """Requests that wait together go to the backend together, split by language, answers not mixed up."""
    store = KeyStore(tmp_path / "keys.sqlite3")
    key, _ = store.create("batch", 1000)
    langs = list(C.LANGUAGES)
    bodies = []
    for i in range(48):
        buf = io.BytesIO()
        Image.new("RGB", (20 + i, 10 + i), "olive").save(buf, "PNG")  # a size per request, to tell answers apart
        bodies.append(json.dumps({"image": "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode(),
                                  "lang": langs[i % len(langs)]}).encode())
    backend = StubBackend(delay=0.05)  # max_batch 16, max_concurrency 4
    with ServerThread(create_app(store, backend=backend, rate_limit="100000/min")) as server:
        responses = asyncio.run(burst(server.port, C.GENERATE_TAGS_PATH, [(b, key) for b in bodies]))
    for i, r in enumerate(responses):
        assert r.status == 200
        assert r.json()["data"]["tags"]["tags"] == ["png", f"{20 + i}x{10 + i}", f"lang-{langs[i % len(langs)]}"]
    assert backend.images == 48
    assert backend.calls < 48  # some requests shared a backend call
