"""A server that is not there stops the run with one clear error; a server that blinks does not."""

from __future__ import annotations

import threading
import time

import pandas as pd
import pytest
from conftest import API_KEY, make_photo

import imagetags_df
from imagetags_df import _constants as C
from imagetags_df._exceptions import ServerUnreachableError
from imagetags_df.server.testing import free_port
from imagetags_df.testing import FakeImageDescriber


def _run(paths, url, cache_dir, **kw):
    opts = dict(backend="imagedescriber", api_key=API_KEY, base_url=url, cache_dir=cache_dir,
                rate_limit="6000/min", progress=False)
    opts.update(kw)
    return pd.DataFrame({"path": [str(p) for p in paths]}).imagetags.generate(**opts)


@pytest.fixture
def sixteen(tmp_path):
    return [make_photo(tmp_path / f"p{i}.jpg", size=(64, 48), seed=i) for i in range(16)]


@pytest.fixture
def quick_retries(monkeypatch):
    monkeypatch.setattr(C, "INITIAL_RETRY_DELAY", 0.05)


def test_nothing_listening_stops_the_run_with_one_error(sixteen, cache_dir, quick_retries):
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ServerUnreachableError) as info:
        _run(sixteen, url, cache_dir, max_concurrency=2)
    message = str(info.value)
    assert url in message and "Is the server running" in message, message
    assert API_KEY not in message
    # The same with the sync client's error type tree: it is a connection error.
    assert isinstance(info.value, imagetags_df.APIConnectionError)


def test_finished_rows_stay_cached_when_the_server_dies_mid_run(sixteen, cache_dir, quick_retries,
                                                                monkeypatch):
    monkeypatch.setattr(C, "DEAD_SERVER_SECONDS", 0.5)
    port = free_port()
    with FakeImageDescriber(keys={API_KEY}, latency=0.1, port=port) as api:
        killer = threading.Thread(target=lambda: (_wait(lambda: api.count("ok") >= 4), api.stop()), daemon=True)
        killer.start()
        with pytest.raises(ServerUnreachableError, match="since its last answer"):
            _run(sixteen, api.url, cache_dir, max_concurrency=1, max_retries=20)
        killer.join(10)
        paid = api.count("ok")
    assert 4 <= paid < 16
    with FakeImageDescriber(keys={API_KEY}, port=port) as again:  # the server is back, same URL
        out = _run(sixteen, again.url, cache_dir)
        cached = int(out.cached.sum())
        # Every answer that reached the client is cached (one more may have been recorded by
        # the server as the connection was cut, its answer never arriving).
        assert out.ok.all() and 4 <= cached <= paid and paid - cached <= 1
        assert again.count("ok") == 16 - cached


def test_a_server_restart_mid_run_is_waited_out(sixteen, cache_dir, quick_retries):
    port = free_port()
    first = FakeImageDescriber(keys={API_KEY}, latency=0.05, port=port).start()
    servers = [first]

    def restart() -> None:
        _wait(lambda: first.count("ok") >= 4)
        first.stop()  # connections refused from now on...
        time.sleep(0.5)
        servers.append(FakeImageDescriber(keys={API_KEY}, port=port).start())  # ...until it is back

    t = threading.Thread(target=restart, daemon=True)
    t.start()
    try:
        out = _run(sixteen, first.url, cache_dir, max_concurrency=2, max_retries=8)
    finally:
        t.join(10)
        servers[-1].stop()
    assert out.ok.all(), out.error.dropna().tolist()
    # 16 answers; one more charge for each call in flight (two at most) whose answer the
    # stop cut on its way back: the server counted it, the client never received it.
    assert len(servers) == 2 and 16 <= first.count("ok") + servers[1].count("ok") <= 16 + 2


def test_dropped_connections_in_a_live_run_are_still_retried(sixteen, api, cache_dir, quick_retries):
    api.script_next(["drop"] * 6)  # the server is there, but the first six calls are dropped unanswered
    out = _run(sixteen, api.url, cache_dir, max_concurrency=4)
    assert out.ok.all(), out.error.dropna().tolist()
    assert api.count("drop") == 6 and api.count("ok") == 16


def _wait(cond, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond() and time.monotonic() < deadline:
        time.sleep(0.01)
