"""The pacer and retry policy as pure functions, and pacing against a real rate-limited server."""

from __future__ import annotations

import multiprocessing as mp
import signal
import subprocess
import sys
import textwrap
import time

import diskcache
import pandas as pd
import pytest
from conftest import API_KEY, default_sigint, make_photo

from imagetags_df import RateLimit
from imagetags_df._exceptions import (
    APIConnectionError,
    ContentBlockedError,
    InternalServerError,
    RateLimitError,
    UploadFailedError,
)
from imagetags_df.infra.ratelimit import Pacer
from imagetags_df.infra.retry import parse_retry_after, retry_delay, should_retry
from imagetags_df.testing import FakeImageDescriber


@pytest.mark.parametrize("text,per_min", [(30, 30), ("30/min", 30), ("2/s", 120), ("1800/hour", 30),
                                          ("5 per second", 300), ("10/5s", 120), (0.5, 0.5)])
def test_rate_limit_parse(text, per_min):
    assert RateLimit.parse(text).per_minute == pytest.approx(per_min)


@pytest.mark.parametrize("bad", ["fast", "0/min", -1, True, "30/fortnight"])
def test_rate_limit_parse_rejects(bad):
    with pytest.raises(ValueError):
        RateLimit.parse(bad)


def test_retry_policy_is_pure():
    assert retry_delay(0, rand=lambda: 0.0) == 1.0
    assert retry_delay(4, rand=lambda: 0.0) == 16.0
    assert retry_delay(20, rand=lambda: 0.0) == 60.0  # capped
    assert retry_delay(2, rand=lambda: 1.0) == pytest.approx(4.0 * 0.75)  # jitter shortens
    assert retry_delay(5, retry_after=3.0) == 3.0  # server's word wins
    assert retry_delay(0, retry_after=9999) == 60.0
    assert parse_retry_after("12") == 12.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=lambda: 1445412470.0) == 10.0
    assert parse_retry_after("soon") is None
    for exc in (RateLimitError("x"), UploadFailedError("x"), InternalServerError("x"), APIConnectionError("x")):
        assert should_retry(exc)
    assert not should_retry(ContentBlockedError("x", code=2003))
    assert not should_retry(ValueError())


def test_pacer_spaces_slots_and_pause_moves_everyone(tmp_path):
    now = [1000.0]
    store = diskcache.Cache(str(tmp_path))
    p = Pacer(RateLimit.parse("60/min"), "k", store, safety=0.0, clock=lambda: now[0])
    assert [p.reserve() for _ in range(3)] == [1000.0, 1001.0, 1002.0]
    p.pause(10)
    assert p.reserve() == 1010.0
    # A second pacer on the same store (another process) continues the schedule.
    q = Pacer(RateLimit.parse("60/min"), "k", store, safety=0.0, clock=lambda: now[0])
    assert q.reserve() == 1011.0
    other = Pacer(RateLimit.parse("60/min"), "other-key", store, safety=0.0, clock=lambda: now[0])
    assert other.reserve() == 1000.0  # one key never slows another


def _reserve_many(args):
    directory, n = args
    p = Pacer(RateLimit.parse("6000/min"), "shared", diskcache.Cache(directory), safety=0.0)
    return [p.reserve() for _ in range(n)]


def test_pacer_slots_are_unique_across_processes(tmp_path):
    with mp.get_context("spawn").Pool(3) as pool:
        slots = sum(pool.map(_reserve_many, [(str(tmp_path), 50)] * 3), [])
    slots.sort()
    gaps = [b - a for a, b in zip(slots, slots[1:])]
    assert len(slots) == 150 and min(gaps) >= 0.01 - 1e-6


def test_paced_run_has_no_rejections(tmp_path):
    """120/min for 24 images against a server enforcing 120 per 60 s with 0.2-0.6 s latency."""
    paths = [make_photo(tmp_path / f"p{i}.jpg", size=(64, 48), seed=i) for i in range(24)]
    df = pd.DataFrame({"path": [str(p) for p in paths]})
    with FakeImageDescriber(keys={API_KEY}, rate_limit=20, window=10.0, latency=(0.2, 0.6)) as api:
        t0 = time.monotonic()
        out = df.imagetags.generate(backend="imagedescriber", api_key=API_KEY, base_url=api.url,
                                    cache_dir=tmp_path / "c", rate_limit="20/10s", progress=False)
        elapsed = time.monotonic() - t0
    assert out.error.isna().all()
    assert api.count("1004") == 0
    # 24 sends spaced 0.5 s (+2 %) apart: ~11.7 s for the sends, plus one latency.
    assert 11.0 < elapsed < 20.0


def test_1004_pauses_every_worker(tmp_path):
    paths = [make_photo(tmp_path / f"p{i}.jpg", size=(64, 48), seed=i) for i in range(6)]
    df = pd.DataFrame({"path": [str(p) for p in paths]})
    with FakeImageDescriber(keys={API_KEY}, retry_after=1.0) as api:
        api.script_next(["1004"])
        out = df.imagetags.generate(backend="imagedescriber", api_key=API_KEY, base_url=api.url,
                                    cache_dir=tmp_path / "c", rate_limit="6000/min", progress=False,
                                    max_concurrency=1)
    assert out.error.isna().all()
    calls = api.calls
    refused = next(c.at for c in calls if c.outcome == "1004")
    later = [c.at for c in calls if c.at > refused]
    # Everything after the refusal waited for Retry-After (1 s), not just the refused row.
    assert later and min(later) - refused >= 0.95


SCRIPT = textwrap.dedent("""
    import sys, pandas as pd, imagetags_df
    paths = sys.argv[3:]
    imagetags_df.generate(pd.DataFrame({"path": paths}), backend="imagedescriber", api_key="%s",
                          base_url=sys.argv[1], cache_dir=sys.argv[2], rate_limit="60/min",
                          progress=False, max_concurrency=2)
""") % API_KEY


def test_interrupt_keeps_finished_rows_and_resume_finishes_the_rest(tmp_path):
    paths = [str(make_photo(tmp_path / f"p{i}.jpg", size=(64, 48), seed=i)) for i in range(8)]
    cache = tmp_path / "c"
    # Latency so that a call is in flight when Ctrl-C arrives.
    with FakeImageDescriber(keys={API_KEY}, latency=0.8) as api:
        proc = subprocess.Popen([sys.executable, "-c", SCRIPT, api.url, str(cache), *paths],
                                stderr=subprocess.PIPE, text=True, preexec_fn=default_sigint)
        deadline = time.monotonic() + 30
        while api.count("ok") < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)  # Ctrl-C at 60/min: about 3 of 8 done
        _, err = proc.communicate(timeout=30)
        assert proc.returncode != 0 and "RunInterrupted" in err and "done and cached" in err
        done_before = api.count("ok")
        assert 3 <= done_before < 8
        out = pd.DataFrame({"path": paths}).imagetags.generate(
            backend="imagedescriber", api_key=API_KEY, base_url=api.url, cache_dir=cache,
            rate_limit="6000/min", progress=False)
        assert out.error.isna().all()
        # Everything the server answered before Ctrl-C, in-flight calls included, was cached.
        assert out.cached.sum() == done_before
        sent = [c.digest for c in api.calls if c.outcome == "ok"]
        assert len(sent) == 8
        assert len(sent) == len(set(sent)), "an image finished before the interrupt was paid for twice"


def test_second_process_does_not_burst(tmp_path):
    """Two processes, one key, one cache: together they stay at the key's pace."""
    paths = [str(make_photo(tmp_path / f"p{i}.jpg", size=(64, 48), seed=i)) for i in range(12)]
    cache = tmp_path / "c"
    script = SCRIPT.replace('rate_limit="60/min"', 'rate_limit="120/min"')
    with FakeImageDescriber(keys={API_KEY}) as api:
        procs = [subprocess.Popen([sys.executable, "-c", script, api.url, str(cache), *half])
                 for half in (paths[:6], paths[6:])]
        for p in procs:
            assert p.wait(timeout=60) == 0
        sends = sorted(c.at for c in api.calls)
    assert len(sends) == 12
    # Without the shared schedule both processes would run at 2/s each: 10 sends in
    # any 2.5 s. Shared, it is 5 (6 allowing for a first send delayed by connection set-up).
    busiest = max(sum(1 for t in sends if s0 <= t < s0 + 2.5) for s0 in sends)
    assert busiest <= 6, sends
    assert sends[-1] - sends[0] >= 11 * 0.5 * 0.95


@pytest.mark.parametrize("kind", ["imagedescriber", "ollama"])
def test_backend_is_warmed_before_the_first_slot(tmp_path, monkeypatch, kind):
    # A slot is a send time: a backend that builds its HTTP client (and lets httpx import its
    # async modules) after the slot sends its first call late, and the second one, on time,
    # lands too close behind it. So the client must exist before the pacer is first asked.
    import imagetags_df
    from imagetags_df.testing.openai import FakeVisionModel

    model = "qwen2.5vl:7b"
    server = FakeImageDescriber(keys={API_KEY}) if kind == "imagedescriber" else FakeVisionModel(models={model})
    paths = [str(make_photo(tmp_path / f"w{i}.jpg", seed=i, size=(64, 48))) for i in range(3)]
    with server:
        extra = {"api_key": API_KEY} if kind == "imagedescriber" else {"model": model}
        be = imagetags_df.resolve_backend(kind, base_url=server.url, rate_limit="600/min", **extra)

        def has_client() -> bool:
            return (be._client if kind == "imagedescriber" else be._http) is not None  # type: ignore[attr-defined]

        seen: list[bool] = []
        acquire = Pacer.acquire

        async def recording_acquire(self):
            seen.append(has_client())
            return await acquire(self)

        monkeypatch.setattr(Pacer, "acquire", recording_acquire)
        out = imagetags_df.generate(pd.DataFrame({"path": paths}), backend=be, cache_dir=str(tmp_path / "c"),
                                    progress=False)
        assert server.count() == 3
    assert out["error"].isna().all()
    assert seen and seen[0] is True, seen
