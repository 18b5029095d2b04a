"""A broken cache never costs a row: damaged files, a read-only directory, a disk that fills.

Real faults only: a truncated SQLite file, a read-only bind mount and a small tmpfs
filled mid-run (the tests run as root, as CI does).
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import threading
import time

import pytest
from conftest import API_KEY, make_photo, tag_paths

from imagetags_df.testing import FakeImageDescriber

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mounting needs root (CI runs as root)")


def _cache_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name.startswith("imagetags_df") and r.levelno == logging.WARNING]


@contextlib.contextmanager
def _mounted(target, *commands: list[str]):
    """Run ``mount <args> <target>`` for each command; unmount however the test ends."""
    target.mkdir(parents=True, exist_ok=True)
    try:
        for args in commands:
            subprocess.run(["mount", *args, str(target)], check=True)
        yield target
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False, capture_output=True)


@pytest.fixture
def many(tmp_path):
    return [make_photo(tmp_path / "img" / f"p{i}.jpg", size=(64, 48), seed=i) for i in range(12)]


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_damaged_cache_file_falls_back_to_memory(many, api, tmp_path, caplog, damage):
    cache_dir = tmp_path / "cache"
    first = tag_paths(many[:6], api, cache_dir)
    assert first.error.isna().all()
    db = cache_dir / "cache.db"
    data = db.read_bytes()
    for leftover in cache_dir.glob("cache.db-*"):
        leftover.unlink()
    db.write_bytes(data[:len(data) // 2] if damage == "truncated" else os.urandom(len(data)))
    caplog.set_level(logging.WARNING)
    out = tag_paths(many, api, cache_dir)
    assert len(out) == 12 and out.error.isna().all(), out.error.dropna().tolist()
    assert all(out.tags.map(len) > 0)
    warnings = _cache_warnings(caplog)
    assert len(warnings) == 1, warnings
    assert str(cache_dir) in warnings[0] and "in-memory cache" in warnings[0]
    assert API_KEY not in caplog.text


@needs_root
@pytest.mark.parametrize("populated", [False, True])
def test_read_only_cache_directory(many, api, tmp_path, caplog, populated):
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    if populated:
        assert tag_paths(many[:6], api, cache_dir).error.isna().all()
    paid_before = api.count("ok")
    caplog.set_level(logging.WARNING)
    with _mounted(cache_dir, ["--bind", str(cache_dir)], ["-o", "remount,ro,bind"]):
        with pytest.raises(OSError):
            (cache_dir / "probe").write_text("x")  # really read-only
        out = tag_paths(many, api, cache_dir)
    assert len(out) == 12 and out.error.isna().all(), out.error.dropna().tolist()
    warnings = _cache_warnings(caplog)
    assert len(warnings) == 1 and str(cache_dir) in warnings[0], warnings
    # Every image was answered exactly once in this run: nothing was retried or lost.
    assert api.count("ok") - paid_before == 12 - out.cached.sum()


@needs_root
def test_disk_that_fills_mid_run(many, tmp_path, caplog):
    mnt = tmp_path / "small"
    caplog.set_level(logging.WARNING)
    with _mounted(mnt, ["-t", "tmpfs", "-o", "size=1m", "tmpfs"]), \
            FakeImageDescriber(keys={API_KEY}, latency=0.3) as api:
        cache_dir = mnt / "cache"
        stop = threading.Event()

        def fill_when_three_are_paid() -> None:
            while api.count("ok") < 3 and not stop.is_set():
                time.sleep(0.02)
            with open(mnt / "filler", "wb", buffering=0) as fh:
                try:
                    while True:
                        fh.write(b"\0" * 4096)
                except OSError:
                    pass  # ENOSPC: the disk is full now

        filler = threading.Thread(target=fill_when_three_are_paid, daemon=True)
        filler.start()
        try:
            out = tag_paths(many, api, cache_dir, max_concurrency=2)
        finally:
            stop.set()
            filler.join(10)
        assert len(out) == 12 and out.error.isna().all(), out.error.dropna().tolist()
        assert all(out.tags.map(len) > 0)
        assert api.count("ok") == 12  # each image paid once, every answer returned
        warnings = _cache_warnings(caplog)
        assert len(warnings) == 1, warnings
        assert "disk is full" in warnings[0] or "No space left" in warnings[0], warnings[0]
        # What reached the disk before it filled is still there for the next run.
        (mnt / "filler").unlink()
        again = tag_paths(many, api, cache_dir)
        assert again.error.isna().all()
        assert 1 <= again.cached.sum() < 12
        assert api.count("ok") == 12 + (12 - again.cached.sum())


@needs_root
def test_pacer_keeps_pacing_in_memory_when_its_store_fails(tmp_path, caplog):
    import diskcache

    from imagetags_df._types import RateLimit
    from imagetags_df.infra.ratelimit import Pacer

    mnt = tmp_path / "small"
    caplog.set_level(logging.WARNING)
    faults: list[BaseException] = []
    with _mounted(mnt, ["-t", "tmpfs", "-o", "size=512k", "tmpfs"]):
        store = diskcache.Cache(str(mnt / "c"))
        pacer = Pacer(RateLimit.parse("60/min"), "full-disk", store, safety=0.0, clock=lambda: 1000.0)
        assert pacer.reserve() == 1000.0
        with open(mnt / "filler", "wb", buffering=0) as fh:
            with contextlib.suppress(OSError):
                while True:
                    fh.write(b"\0" * 4096)
        slots = [pacer.reserve() for _ in range(200)]  # each write grows the WAL until one fails
        store.close()
        # Still spaced 1 s apart, and the schedule went on after the slot already handed out
        # (a slot whose write failed may be skipped: erring towards slower, never a burst).
        assert slots[0] in (1001.0, 1002.0)
        assert all(b - a == 1.0 for a, b in zip(slots, slots[1:]))
        warnings = _cache_warnings(caplog)
        assert len(warnings) == 1 and "this process only" in warnings[0], warnings
        # With an owner to tell, the pacer reports to it instead of logging itself.
        (mnt / "filler").unlink()
        store = diskcache.Cache(str(mnt / "c2"))
        owned = Pacer(RateLimit.parse("60/min"), "owned", store, on_fault=faults.append)
        owned.reserve()
        with open(mnt / "filler", "wb", buffering=0) as fh:
            with contextlib.suppress(OSError):
                while True:
                    fh.write(b"\0" * 4096)
        for _ in range(200):
            owned.reserve()
        store.close()
    assert len(faults) == 1 and len(_cache_warnings(caplog)) == 1
