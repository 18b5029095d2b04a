"""Servers that stall a run: a 24-hour pause in a header, a stored pause, a stream of 429s.

Each ends the run (or the row) in seconds with an error that says what the server asked
for; waits past a few seconds are announced. Real loopback servers, real cache directories.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time

import pandas as pd
import pytest
from conftest import make_photo

import imagetags_df._constants as C
from imagetags_df._exceptions import RateLimitError
from imagetags_df._types import RateLimit
from imagetags_df.infra.cache import Cache
from imagetags_df.infra.ratelimit import Pacer
from imagetags_df.server.testing import free_port
from imagetags_df.testing.hostile import HostileServer, Reply, Request

KEY = "sk-test-0123456789abcdef"
ANSWER = json.dumps({"id": "c1", "choices": [{"message": {"role": "assistant", "content": json.dumps(
    {"tags": ["cat"], "title": "A cat", "description": "A cat."})}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 100, "completion_tokens": 20}}).encode()
API_OK = json.dumps({"code": 0, "message": "ok", "request_id": "r",
                     "data": {"tags": {"tags": ["cat"], "title": "t", "description": "d"},
                              "credits": {"amount": 1}}}).encode()


def _spent(reset: str):
    def answer(req: Request) -> Reply:
        return Reply(body=ANSWER, headers={"x-ratelimit-remaining-requests": "0",
                                           "x-ratelimit-reset-requests": reset})
    return answer


def _frame(tmp_path, n):
    return pd.DataFrame({"path": [str(make_photo(tmp_path / f"p{i}.jpg", seed=i)) for i in range(n)]})


def _vlm(df, api, cache, **kw):
    opts = dict(backend="openai", model="m", api_key=KEY, base_url=api.url, cache_dir=cache, progress=False,
                max_concurrency=1)
    opts.update(kw)
    return df.imagetags.generate(**opts)


@pytest.mark.timeout(60)
def test_a_24h_limit_header_stops_the_run_with_a_clear_error_and_keeps_the_answer(tmp_path):
    df = _frame(tmp_path, 3)
    port = free_port()
    with HostileServer(_spent("24h"), url_path="/v1", port=port) as api:
        with pytest.raises(RateLimitError, match="asks to wait 24 h") as info:
            _vlm(df, api, tmp_path / "c")
        assert len(api.calls) == 1  # nothing sent after the answer that asked for the pause
        assert "run again later" in str(info.value)
        # The answer that carried the header was paid for: it is cached, and the pause was
        # not stored, so the next run answers from the cache at once and goes on.
    with HostileServer(lambda req: Reply(body=ANSWER), url_path="/v1", port=port) as api:
        out = _vlm(df, api, tmp_path / "c")
    assert out["error"].isna().all() and int(out["cached"].sum()) == 1 and len(api.calls) == 2


@pytest.mark.timeout(60)
def test_a_stored_long_pause_does_not_hang_a_later_run(tmp_path):
    df = _frame(tmp_path, 2)
    with HostileServer(lambda req: Reply(body=ANSWER), url_path="/v1") as api:
        cache = Cache(tmp_path / "c")
        be_id = f"{api.url}|"  # the pacer's bucket starts with the base URL
        # A pause an older version stored for a day, under every bucket this server could have.
        from imagetags_df.backends.openai import OpenAICompatibleBackend

        bucket = OpenAICompatibleBackend(model="m", base_url=api.url, api_key=KEY).limiter_id()
        assert bucket.startswith(be_id)
        cache.store.set(f"pace|{bucket}|paused_until", time.time() + 86400)
        cache.store.set(f"pace|{bucket}|next", time.time() + 86400)
        cache.close()
        with pytest.raises(RateLimitError, match="asks to wait 24 h"):
            _vlm(df, api, tmp_path / "c")
        assert not api.calls


def test_a_pause_is_capped_and_a_long_wait_is_announced(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(C, "ANNOUNCE_WAIT", 0.5)
    pacer = Pacer(RateLimit(6000), "b", Cache(tmp_path / "c").store)
    pacer.pause(86400)
    assert pacer.paused_until() - time.time() <= C.MAX_PAUSE + 1
    short = Pacer(RateLimit(6000), "short", Cache(tmp_path / "d").store)
    short.pause(1.5)
    import asyncio

    with caplog.at_level(logging.WARNING, logger="imagetags_df"):
        asyncio.run(short.acquire())
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "waiting 2 s, until" in said or "waiting 1 s, until" in said
    assert "rate limit" in said


@pytest.mark.timeout(90)
def test_cli_says_what_it_waits_for_and_stops_on_a_day_long_pause(tmp_path):
    folder = tmp_path / "pics"
    for i in range(2):
        make_photo(folder / f"p{i}.jpg", seed=i)
    env = {**os.environ, "OPENAI_API_KEY": KEY, "IMAGETAGS_CACHE_DIR": str(tmp_path / "c")}
    cmd = [sys.executable, "-m", "imagetags_df", "tag", str(folder), "--backend", "openai", "--model", "m",
           "--concurrency", "1", "--no-progress"]
    with HostileServer(_spent("7s"), url_path="/v1") as api:
        proc = subprocess.run([*cmd, "--base-url", api.url], env=env, capture_output=True, text=True, timeout=80)
    assert proc.returncode == 0, proc.stderr
    assert "waiting 7 s, until" in proc.stderr
    (folder / "p2.jpg").write_bytes(make_photo(tmp_path / "x.jpg", seed=9).read_bytes())
    with HostileServer(_spent("24h"), url_path="/v1") as api:
        proc = subprocess.run([*cmd, "--base-url", api.url], env=env, capture_output=True, text=True, timeout=80)
    assert proc.returncode == 4, proc.stderr
    assert "the server asks to wait 24 h" in proc.stderr and "run again later" in proc.stderr


@pytest.mark.timeout(60)
@pytest.mark.parametrize("backend", ["imagedescriber", "openai"])
def test_a_429_asking_for_a_day_stops_the_run_at_once(tmp_path, backend):
    df = _frame(tmp_path, 2)
    if backend == "openai":
        body = json.dumps({"error": {"message": "slow down", "type": "rate_limit"}}).encode()
    else:
        body = json.dumps({"code": 1004, "message": "too many requests"}).encode()
    with HostileServer(lambda req: Reply(status=429, body=body, headers={"retry-after": "86400"}),
                       url_path="/v1" if backend == "openai" else "") as api:
        started = time.monotonic()
        with pytest.raises(RateLimitError, match=r"asks to wait 24 h \(Retry-After 86400 s\)"):
            df.imagetags.generate(backend=backend, model="m" if backend == "openai" else None, api_key=KEY,
                                  base_url=api.url, cache_dir=tmp_path / "c", progress=False,
                                  max_concurrency=1, rate_limit="6000/min")
        assert time.monotonic() - started < 30  # not a day, not a retry delay per row
        assert len(api.calls) == 1


@pytest.mark.timeout(60)
def test_one_patience_budget_per_row_across_retries(tmp_path, monkeypatch):
    monkeypatch.setattr(C, "RATE_LIMIT_PATIENCE", 3.0)
    df = _frame(tmp_path, 1)
    body = json.dumps({"error": {"message": "slow down"}}).encode()
    with HostileServer(lambda req: Reply(status=429, body=body, headers={"retry-after": "1"}),
                       url_path="/v1") as api:
        out = _vlm(df, api, tmp_path / "c", max_retries=5)
        calls = len(api.calls)
    error = out.loc[0, "error"]
    assert "Retry-After 1 s" in error and "patience is 3 s" in error
    # 3 s of patience at 1 s a wait: four calls, not a fresh budget at each of 6 attempts.
    assert calls <= 5


@pytest.mark.timeout(60)
def test_a_row_that_runs_out_of_retries_on_429s_says_what_the_server_asked_for(tmp_path):
    df = _frame(tmp_path, 1)
    body = json.dumps({"code": 1004, "message": "too many requests"}).encode()
    with HostileServer(lambda req: Reply(status=429, body=body, headers={"retry-after": "0.2"})) as api:
        out = df.imagetags.generate(backend="imagedescriber", api_key=KEY, base_url=api.url,
                                    cache_dir=tmp_path / "c", progress=False, max_retries=2, rate_limit="6000/min")
        assert len(api.calls) == 3
    assert "the server asked for Retry-After 0.2 s" in out.loc[0, "error"]
    assert out.loc[0, "error_code"] == 1004
