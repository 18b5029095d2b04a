"""Processes sharing one cache directory pay for each image once.

Real ``imagetags tag`` processes against one real loopback API (the fake counts
every call it answers, which is what a real service charges), one real cache
directory, and real signals: a process killed with SIGKILL leaves claims that
lapse, and the survivor then tags those images itself.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import API_KEY, make_photo

from imagetags_df.infra.cache import Cache
from imagetags_df.testing import FakeImageDescriber

N = 40


@pytest.fixture
def album(tmp_path) -> Path:
    for i in range(N):
        make_photo(tmp_path / "album" / f"p{i:02d}.jpg", size=(48, 36), seed=100 + i)
    return tmp_path / "album"


def _tag(album: Path, cache: Path, out: Path, api: FakeImageDescriber, *, concurrency: int,
         lease: float | None = None) -> subprocess.Popen:
    env = dict(os.environ, IMAGEDESCRIBER_BASE_URL=api.url, IMAGEDESCRIBER_API_KEY=API_KEY)
    if lease is not None:
        env["IMAGETAGS_CLAIM_LEASE"] = str(lease)
    return subprocess.Popen(
        [sys.executable, "-m", "imagetags_df", "tag", str(album), "--backend", "imagedescriber",
         "--cache-dir", str(cache), "--rate-limit", "100/s", "--concurrency", str(concurrency), "--no-progress",
         "--out", str(out)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]


def test_two_processes_on_one_cache_pay_for_each_image_once(album, tmp_path):
    cache = tmp_path / "cache"
    with FakeImageDescriber(keys={API_KEY}, latency=0.3) as api:
        procs = [_tag(album, cache, tmp_path / f"out{i}.jsonl", api, concurrency=4) for i in range(2)]
        for proc in procs:
            _, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
        paid = api.count("ok")
    assert paid == N  # without claims each process pays for most images: up to 2 * N
    for i in range(2):
        rows = _rows(tmp_path / f"out{i}.jsonl")
        assert len(rows) == N and all(r["ok"] for r in rows)
        assert all(r["tags"][0] == f"tag-{r['sha256'][:6]}" for r in rows)  # each its own image's answer
    # Between them, each image was paid for by exactly one process.
    firsts = _rows(tmp_path / "out0.jsonl"), _rows(tmp_path / "out1.jsonl")
    assert sum(not r["cached"] for rows in firsts for r in rows) == N


@pytest.mark.slow
def test_a_killed_process_claims_lapse_and_the_survivor_tags_its_images(album, tmp_path):
    """A is killed with calls in flight and claims held; B, sharing the cache, waits for
    A's answers, sees the claims lapse, and tags the rest itself. Nothing is paid twice
    except what A had in flight when it died."""
    cache = tmp_path / "cache"
    with FakeImageDescriber(keys={API_KEY}, latency=0.6) as api:
        a = _tag(album, cache, tmp_path / "a.jsonl", api, concurrency=4, lease=2)
        deadline = time.monotonic() + 60
        while api.in_flight() < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        b = _tag(album, cache, tmp_path / "b.jsonl", api, concurrency=8, lease=2)
        # B is up and waiting on A's claims, or sending the images A has not claimed.
        while api.count("ok") < 8 and time.monotonic() < deadline:
            time.sleep(0.01)
        a.send_signal(signal.SIGKILL)
        a.communicate(timeout=30)
        _, err = b.communicate(timeout=120)
        assert b.returncode == 0, err
        time.sleep(0.7)  # calls A left behind are answered (and charged) by now
        paid = api.count("ok")
    rows = _rows(tmp_path / "b.jsonl")
    assert len(rows) == N and all(r["ok"] for r in rows)
    assert paid <= N + 4  # A had at most its --concurrency (4) calls in flight when it died
    assert Cache(cache).get_results([]) == {}  # the cache still opens cleanly after the kill


def test_claims_are_exclusive_expire_and_are_renewed_only_by_their_owner(tmp_path):
    one, two = Cache(tmp_path / "c"), Cache(tmp_path / "c")
    assert one.claim("k", "one", 1.0)
    assert one.claim("k", "one", 1.0)  # already ours
    assert not two.claim("k", "two", 1.0)
    two.renew(["k"], "two", 60.0)  # not two's: must not extend one's claim
    two.release(["k"], "two")  # nor give it up
    assert not two.claim("k", "two", 1.0)
    time.sleep(1.2)
    assert two.claim("k", "two", 1.0)  # lapsed: free again
    two.renew(["k"], "two", 60.0)
    time.sleep(1.2)
    assert not one.claim("k", "one", 1.0)  # renewed by its owner: still held
    assert two.holders(["k", "other"]) == {"k": "two"}
    two.release(["k"], "two")
    assert one.holders(["k"]) == {}
    assert one.claim("k", "one", 1.0)
    one.close()
    two.close()
