"""Files with different bytes but the same upload (one picture as BMP and TIFF) are paid once."""

from __future__ import annotations

from conftest import make_photo, tag_paths


def test_same_pixels_in_two_formats_are_sent_and_paid_once(tmp_path, api, cache_dir):
    bmp = make_photo(tmp_path / "pic.bmp", seed=7, fmt="BMP")
    tiff = make_photo(tmp_path / "pic.tif", seed=7, fmt="TIFF")
    other = make_photo(tmp_path / "other.bmp", seed=8, fmt="BMP")
    assert bmp.read_bytes() != tiff.read_bytes()
    out = tag_paths([bmp, tiff, other, tiff], api, cache_dir, max_concurrency=4)
    assert out.ok.all(), out.error.dropna().tolist()
    assert api.count() == 2  # the picture once, the other picture once
    assert out.tags[0] == out.tags[1] == out.tags[3] and out.tags[0] != out.tags[2]
    assert out.credits_used.sum() == 2.0
    assert not out.cached.any()
    again = tag_paths([bmp, tiff, other], api, cache_dir)
    assert again.cached.all() and api.count() == 2


def test_a_new_file_converting_to_an_upload_already_answered_is_a_cache_hit(tmp_path, api, cache_dir):
    bmp = make_photo(tmp_path / "pic.bmp", seed=3, fmt="BMP")
    assert tag_paths([bmp], api, cache_dir).ok.all() and api.count() == 1
    lzw = make_photo(tmp_path / "later.tif", seed=3, fmt="TIFF", compression="tiff_lzw")  # new bytes, same picture
    out = tag_paths([lzw], api, cache_dir)
    assert out.ok.all() and out.cached[0] and out.credits_used[0] == 0.0
    assert api.count() == 1


def test_a_shared_upload_refused_is_refused_for_every_file(tmp_path, api, cache_dir):
    import hashlib

    from imagetags_df import images

    bmp = make_photo(tmp_path / "pic.bmp", seed=5, fmt="BMP")
    tiff = make_photo(tmp_path / "pic.tif", seed=5, fmt="TIFF")
    sent = hashlib.sha256(images.load(str(bmp)).data).hexdigest()
    api.script(sent, ["2003"])
    out = tag_paths([bmp, tiff], api, cache_dir, max_concurrency=1)
    assert api.count() == 1 and not out.ok.any()
    assert (out.error_code == 2003).all()
