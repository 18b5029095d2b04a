"""What each row of the result says: its own file in its error, and whether it succeeded."""

from __future__ import annotations

import hashlib
import shutil

import pandas as pd
from conftest import make_photo, tag_paths

import imagetags_df


def test_rows_with_identical_bytes_each_name_their_own_file(tmp_path, api, cache_dir):
    good = make_photo(tmp_path / "good.jpg")
    first = tmp_path / "a" / "first.jpg"
    first.parent.mkdir()
    first.write_bytes(good.read_bytes()[:2000])  # truncated: fails when prepared, not when read
    copies = [first, shutil.copy(first, tmp_path / "second.jpg"), shutil.copy(first, tmp_path / "third.jpg")]
    out = tag_paths([*copies, good], api, cache_dir)
    for pos, path in enumerate(copies):
        assert out.error[pos].startswith(f"{path}: truncated"), out.error[pos]
        assert str(first) not in out.error[pos] or pos == 0
    assert out.error[3] is None
    assert api.count() == 1


def test_ok_column_tells_success_from_every_kind_of_failure(tmp_path, api, cache_dir):
    photos = [make_photo(tmp_path / f"p{i}.jpg", seed=i) for i in range(3)]
    api.script(hashlib.sha256(photos[1].read_bytes()).hexdigest(), ["2003", "2003"])  # final, and again on the re-run
    missing = tmp_path / "missing.jpg"
    notes = tmp_path / "notes.jpg"
    notes.write_text("not an image")
    out = tag_paths([*photos, missing, notes, photos[0]], api, cache_dir)
    assert "ok" in imagetags_df.RESULT_COLUMNS
    assert out.ok.dtype == bool
    assert out.ok.tolist() == [True, False, True, False, False, True]
    # error_code alone would keep the local failures (no API code): ok does not.
    assert out.error_code.isna().sum() == 5
    assert out[out.ok].error.isna().all() and (out[out.ok].tags.map(len) > 0).all()
    assert out[~out.ok].error.notna().all()
    again = tag_paths([*photos, missing, notes, photos[0]], api, cache_dir)
    assert again.ok.tolist() == out.ok.tolist() and again.cached.sum() == 3


def test_a_backend_that_raises_fails_its_rows_with_a_reason(tmp_path, cache_dir):
    from imagetags_df import Backend

    class Broken(Backend):
        name = "broken"

        def cache_identity(self) -> str:
            return "broken"

        async def tag_batch(self, images, lang):
            raise RuntimeError("model file missing")

    photos = [make_photo(tmp_path / f"p{i}.jpg", seed=i) for i in range(2)]
    out = pd.DataFrame({"path": [str(p) for p in photos]}).imagetags.generate(
        backend=Broken(), cache_dir=cache_dir, progress=False)
    assert not out.ok.any()
    for pos, path in enumerate(photos):
        assert out.error[pos] == f"{path}: RuntimeError: model file missing", out.error[pos]
