"""The cache never evicts a paid result, whatever its size; only what is free to redo is bounded."""

from __future__ import annotations

import os

import diskcache

from imagetags_df._types import TagResult
from imagetags_df.infra import cache as cache_module
from imagetags_df.infra.cache import Cache, analysis_key, result_key


def test_paid_results_survive_past_any_size_limit(tmp_path):
    """A directory whose diskcache settings say "evict past 4 KB" (diskcache's default policy
    with a small limit, as an older version or another tool may have left it): every result
    stored is still there, because the cache sets its own policy on every open."""
    directory = tmp_path / "c"
    diskcache.Cache(str(directory), size_limit=4096).close()
    cache = Cache(directory)
    keys = [result_key("api", "en", f"{i:064x}") for i in range(300)]
    for i, key in enumerate(keys):
        cache.set_result(key, TagResult(tags=["t"] * 20, title=f"title {i}", description="d" * 200))
    assert len(cache.get_results(keys)) == len(keys)
    cache.close()
    assert len(Cache(directory).get_results(keys)) == len(keys)


def test_hash_memos_and_analyses_are_bounded_and_kept_apart(tmp_path, monkeypatch):
    monkeypatch.setattr(cache_module, "MEMO_SIZE_LIMIT", 64 * 1024)
    cache = Cache(tmp_path / "c")
    stat = os.stat(tmp_path)
    for i in range(400):
        cache.set_json(analysis_key("local", f"{i:064x}"), {"scores": [0.5] * 100})
        cache.set_hash(f"/photos/{i}.jpg", stat, f"{i:064x}")
    cache.set_result(result_key("api", "en", "0" * 64), TagResult(tags=["kept"], title="", description=""))
    kept = cache.get_json([analysis_key("local", f"{i:064x}") for i in range(400)])
    assert 0 < len(kept) < 400  # the oldest analyses made room
    assert cache.get_results([result_key("api", "en", "0" * 64)])  # results live elsewhere, unbounded
    assert (tmp_path / "c" / "memo").is_dir()
    cache.close()
