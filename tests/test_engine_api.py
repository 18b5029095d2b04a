"""generate() against a real HTTP server on 127.0.0.1: errors, retries, cache, dedupe, budget."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import API_KEY, jpeg_bytes, make_photo
from PIL import Image

import imagetags_df
from imagetags_df import (
    AuthenticationError,
    ConfigurationError,
    ImageDescriberClient,
)
from imagetags_df.testing import FakeImageDescriber


def run(df, api, cache_dir, **kw):
    opts = dict(backend="imagedescriber", api_key=API_KEY, base_url=api.url, cache_dir=cache_dir,
                rate_limit="600/min", progress=False, max_retries=3)
    opts.update(kw)
    return df.imagetags.generate(col="path", **opts)


def digest(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def test_columns_index_and_values(photos, api, cache_dir):
    df = pd.DataFrame({"path": [str(p) for p in photos], "label": list("abcdef")}, index=list("uvwxyz"))
    out = run(df, api, cache_dir)
    assert list(out.index) == list("uvwxyz")
    assert list(out.columns) == ["path", "label", *imagetags_df.RESULT_COLUMNS]
    assert out["label"].tolist() == list("abcdef")
    assert out.error.isna().all(), out.error.tolist()
    for p, tags in zip(photos, out.tags):
        assert tags[0] == f"tag-{digest(p)[:6]}"
    assert out.credits_used.tolist() == [1.0] * 6  # credits given as strings by the server
    assert not out.cached.any() and (out.backend == "imagedescriber").all()
    # The API reports no confidence, colours or orientation: NaN / missing, not a made-up 0.
    assert out.confidence.dtype == float and out.confidence.isna().all()
    assert out.colors.isna().all() and out.orientation.isna().all()
    assert out.request_id.str.len().min() == 32
    assert df.columns.tolist() == ["path", "label"]  # input untouched


def test_rerun_is_fully_cached_with_zero_calls_and_no_reads(photos, api, cache_dir, monkeypatch):
    df = pd.DataFrame({"path": [str(p) for p in photos]})
    run(df, api, cache_dir)
    calls = api.count()
    import imagetags_df.images as images

    def no_reads(*a, **k):
        raise AssertionError("a cached re-run must not read image files")

    monkeypatch.setattr(images, "read_bytes", no_reads)
    out = run(df, api, cache_dir)
    assert api.count() == calls
    assert out.cached.all() and out.error.isna().all()
    assert out.credits_used.sum() == 0


def test_changed_file_is_rehashed(photos, api, cache_dir):
    df = pd.DataFrame({"path": [str(photos[0])]})
    run(df, api, cache_dir)
    make_photo(photos[0], seed=99)
    os.utime(photos[0], ns=(time.time_ns(), time.time_ns() + 10_000_000))
    out = run(df, api, cache_dir)
    assert not out.cached[0] and out.tags[0][0] == f"tag-{digest(photos[0])[:6]}"


def test_duplicates_sent_once(tmp_path, api, cache_dir):
    a = make_photo(tmp_path / "a.jpg", seed=1)
    b = tmp_path / "copy of a.jpg"
    b.write_bytes(a.read_bytes())
    raw = a.read_bytes()
    df = pd.DataFrame({"path": [str(a), str(b), str(a), raw]})
    out = run(df, api, cache_dir)
    assert api.count("ok") == 1
    assert out.tags.map(tuple).nunique() == 1
    assert out.credits_used.tolist() == [1.0, 0.0, 0.0, 0.0]


def test_inputs_bytes_pil_and_missing(tmp_path, api, cache_dir):
    pil = Image.new("RGB", (40, 30), "blue")
    df = pd.DataFrame({"path": [jpeg_bytes(), pil, None, float("nan"), str(tmp_path / "nope.jpg")]})
    out = run(df, api, cache_dir)
    assert out.error.isna().tolist() == [True, True, False, False, False]
    assert "row 2" in out.error[2] and "empty" in out.error[2]
    assert "nope.jpg" in out.error[4] and "not found" in out.error[4]
    assert out.error_code.isna().all()  # local errors carry no API code
    assert sorted(c.mime for c in api.calls) == ["image/jpeg", "image/png"]  # sent concurrently: any order


def test_bad_files_are_row_errors_naming_the_file(tmp_path, api, cache_dir):
    good = make_photo(tmp_path / "good.jpg")
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    text = tmp_path / "notes.jpg"
    text.write_text("not an image")
    trunc = tmp_path / "truncated.jpg"
    trunc.write_bytes(good.read_bytes()[:2000])
    bomb = tmp_path / "bomb.png"
    Image.new("1", (12_000, 12_000)).save(bomb)  # 144 Mpx, a few KB on disk
    df = pd.DataFrame({"path": [str(p) for p in (good, empty, text, trunc, bomb)]})
    # Pillow warns on opening the bomb's header (over its limit, under twice it); we then refuse it.
    with pytest.warns(Image.DecompressionBombWarning, match="144000000 pixels"):
        out = run(df, api, cache_dir)
    assert out.error[0] is None
    for i, (name, words) in enumerate([("empty.jpg", "empty"), ("notes.jpg", "not an image"),
                                        ("truncated.jpg", "truncated"), ("bomb.png", "decompression")], 1):
        assert name in out.error[i] and words in out.error[i], out.error[i]
    assert api.count() == 1  # nothing bad was sent


def test_format_sniffed_not_from_name_and_conversion(tmp_path, api, cache_dir):
    png_named_jpg = make_photo(tmp_path / "really_png.jpg", fmt="PNG")
    gif = make_photo(tmp_path / "anim.gif", fmt="GIF")
    webp = make_photo(tmp_path / "pic.webp", fmt="WEBP")
    bmp = make_photo(tmp_path / "pic.bmp", fmt="BMP")
    df = pd.DataFrame({"path": [str(p) for p in (png_named_jpg, gif, webp, bmp)]})
    out = run(df, api, cache_dir, max_concurrency=1)
    assert out.error.isna().all()
    # The GIF's smooth gradients pack as a palette PNG about as small as a JPEG: sent lossless.
    assert sorted(c.mime for c in api.calls) == sorted(["image/png", "image/png", "image/webp", "image/jpeg"])


def test_a_drawn_gif_is_sent_as_a_lossless_png_and_a_photo_gif_as_a_jpeg(tmp_path):
    import io

    import numpy as np
    from PIL import ImageDraw

    from imagetags_df import images

    drawing = Image.new("RGB", (320, 240), (90, 170, 230))
    pen = ImageDraw.Draw(drawing)
    pen.rectangle((40, 120, 280, 220), fill=(200, 40, 40))
    pen.ellipse((200, 20, 260, 80), fill=(250, 220, 40))
    path = tmp_path / "drawing.gif"
    drawing.convert("P", palette=Image.Palette.ADAPTIVE, colors=16).save(path)
    prepared = images.load(path)
    # The same pixels, not JPEG's smear: the offline tagger tells drawings by their flat fills.
    assert prepared.mime == "image/png" and prepared.converted
    sent = np.asarray(Image.open(io.BytesIO(prepared.data)).convert("RGB"))
    assert np.array_equal(sent, np.asarray(Image.open(path).convert("RGB")))
    # A photo saved as a GIF (dithered, noisy) would weigh far more as a PNG: it goes as a JPEG.
    photo = tmp_path / "cat.gif"
    Image.open(Path(__file__).resolve().parent.parent / "data" / "samples" / "chelsea_cat.jpg").save(photo)
    assert images.load(photo).mime == "image/jpeg"


def test_over_4mb_is_shrunk_with_exif_orientation(tmp_path, api, cache_dir):
    import numpy as np

    rng = np.random.default_rng(0)
    arr = rng.integers(0, 255, (1800, 2400, 3), dtype=np.uint8)  # noise: compresses badly
    img = Image.fromarray(arr)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° on display
    big = tmp_path / "big.jpg"
    img.save(big, quality=100, exif=exif)
    assert big.stat().st_size > 4_000_000
    out = run(pd.DataFrame({"path": [str(big)]}), api, cache_dir)
    assert out.error[0] is None
    prepared = imagetags_df.images.load(big)
    assert len(prepared.data) <= 4_000_000 and prepared.converted
    assert prepared.height > prepared.width  # orientation applied before shrinking
    assert api.calls[0].digest == hashlib.sha256(prepared.data).hexdigest()


@pytest.mark.parametrize("shape", ["5050", "5050@200", "2005", "1004", "html", "empty", "drop"])
def test_transient_errors_are_retried(photos, api, cache_dir, shape, monkeypatch):
    monkeypatch.setattr(imagetags_df._constants, "INITIAL_RETRY_DELAY", 0.05)
    api.script(digest(photos[0]), [shape, shape])
    out = run(pd.DataFrame({"path": [str(photos[0])]}), api, cache_dir)
    assert out.error[0] is None, out.error[0]
    assert api.count("ok") == 1 and api.count(shape) == 2


def test_retries_are_bounded(photos, api, cache_dir, monkeypatch):
    monkeypatch.setattr(imagetags_df._constants, "INITIAL_RETRY_DELAY", 0.01)
    api.script(digest(photos[0]), ["5050"] * 10)
    out = run(pd.DataFrame({"path": [str(photos[0])]}), api, cache_dir, max_retries=2)
    assert out.error_code[0] == 5050 and "request_id=" in out.error[0]
    assert api.count("5050") == 3


@pytest.mark.parametrize("code,shape", [(1005, "1005"), (2003, "2003"), (2004, "2004"), (2003, "2003@200")])
def test_final_errors_are_recorded_for_that_row_only(photos, api, cache_dir, code, shape):
    api.script(digest(photos[1]), [shape])
    out = run(pd.DataFrame({"path": [str(p) for p in photos[:3]]}), api, cache_dir)
    assert out.error_code.tolist()[1] == code
    assert out.error.isna().tolist() == [True, False, True]
    assert api.count(shape) == 1  # not retried


@pytest.mark.parametrize("key", [None, "sk-wrong"])
def test_bad_key_stops_the_run_and_keeps_finished_rows(photos, api, cache_dir, key):
    with FakeImageDescriber(keys={API_KEY}) as server:
        df = pd.DataFrame({"path": [str(p) for p in photos[:2]]})
        run(df, server, cache_dir)  # cached with the good key
        df2 = pd.DataFrame({"path": [str(p) for p in photos]})
        if key is None:
            # A malformed header: send to a server that sees no bearer token.
            server.script_next(["1002"] * 10)
            key = API_KEY
        with pytest.raises(AuthenticationError) as info:
            run(df2, server, cache_dir, api_key=key, max_concurrency=1)
        assert info.value.code in (1002, 1003)
        assert key not in str(info.value) and key not in repr(info.value)
        sent_after = [c for c in server.calls[2:]]
        assert len(sent_after) <= 2  # stopped at once, not once per row
        out = run(df2.iloc[:2], server, cache_dir)
        assert out.cached.all()


def test_insufficient_credits_stops_sending_and_returns_what_was_done(photos, cache_dir):
    with FakeImageDescriber(keys={API_KEY}, credits=3) as server:
        out = run(pd.DataFrame({"path": [str(p) for p in photos]}), server, cache_dir, max_concurrency=1)
    assert out.error.isna().sum() == 3
    assert (out.error_code.dropna() == 2002).all() and out.error_code.notna().sum() == 3
    assert server.count("2002") == 1  # one refusal, then no more sending
    assert out.error.dropna().str.contains("2002|credits").all()


def test_max_credits_budget(photos, api, cache_dir):
    out = run(pd.DataFrame({"path": [str(p) for p in photos]}), api, cache_dir, max_credits=2)
    assert api.count() == 2
    assert out.error.isna().sum() == 2
    assert out.error.dropna().str.contains("max_credits").all()


def test_estimate_counts_without_calling(photos, api, cache_dir):
    df = pd.DataFrame({"path": [str(p) for p in photos] + [str(photos[0]), None]})
    run(df.iloc[:2], api, cache_dir)
    calls = api.count()
    est = df.imagetags.estimate(col="path", backend="imagedescriber", api_key=API_KEY, base_url=api.url,
                                cache_dir=cache_dir)
    assert api.count() == calls
    assert (est.rows, est.unique_images, est.cached, est.invalid, est.calls_needed) == (8, 6, 2, 1, 4)
    assert est.credits_needed == 4
    assert 4 * 2.0 <= est.seconds_needed <= 4 * 2.1  # 30/min default
    assert "4 calls" in str(est)


def test_auto_without_key_uses_local_or_explains(photos, cache_dir, monkeypatch):
    with pytest.raises(ConfigurationError) as info:
        imagetags_df.generate(pd.DataFrame({"path": [str(photos[0])]}), backend="imagedescriber",
                              cache_dir=cache_dir, progress=False)
    assert "IMAGEDESCRIBER_API_KEY" in str(info.value)


def test_option_errors(photos):
    df = pd.DataFrame({"path": [str(photos[0])]})
    with pytest.raises(ConfigurationError, match="lang"):
        df.imagetags.generate(lang="xx", backend="imagedescriber", api_key=API_KEY)
    with pytest.raises(ConfigurationError, match="column 'file' not found"):
        df.imagetags.generate(col="file", backend="imagedescriber", api_key=API_KEY)
    with pytest.raises(ConfigurationError, match="rate_limit"):
        df.imagetags.generate(rate_limit="fast", backend="imagedescriber", api_key=API_KEY)


def test_on_error_raise(photos, api, cache_dir):
    api.script(digest(photos[0]), ["2003"])
    with pytest.raises(imagetags_df.ContentBlockedError):
        run(pd.DataFrame({"path": [str(photos[0])]}), api, cache_dir, on_error="raise")


def test_works_inside_a_running_event_loop(photos, api, cache_dir):
    df = pd.DataFrame({"path": [str(p) for p in photos[:2]]})

    async def notebook_cell():
        return run(df, api, cache_dir)

    out = asyncio.run(notebook_cell())
    assert out.error.isna().all()


def test_sync_client_and_its_errors(photos, api):
    client = ImageDescriberClient(api_key=API_KEY, base_url=api.url, max_retries=0)
    res = client.generate_tags(photos[0], lang="zh")
    assert "lang-zh" in res.tags and res.credits_used == 1.0 and res.credits_remaining == 999
    assert API_KEY not in repr(client)
    api.script(digest(photos[0]), ["2003"])
    with pytest.raises(imagetags_df.ContentBlockedError) as info:
        client.generate_tags(photos[0])
    err = info.value
    assert (err.code, err.status_code) == (2003, 422) and len(err.request_id) == 32
    bad = ImageDescriberClient(api_key="sk-nope", base_url=api.url)
    with pytest.raises(AuthenticationError) as info:
        bad.generate_tags(photos[0])
    assert info.value.code == 1003 and "sk-nope" not in str(info.value)


def test_async_client(photos, api):
    async def go():
        async with imagetags_df.AsyncImageDescriberClient(api_key=API_KEY, base_url=api.url) as c:
            return await asyncio.gather(*(c.generate_tags(p) for p in photos[:3]))

    results = asyncio.run(go())
    assert [r.tags[0] for r in results] == [f"tag-{digest(p)[:6]}" for p in photos[:3]]


def test_timeout_is_retried_then_reported(photos, api, cache_dir, monkeypatch):
    monkeypatch.setattr(imagetags_df._constants, "INITIAL_RETRY_DELAY", 0.01)
    api.script(digest(photos[0]), ["slow", "slow"])
    out = run(pd.DataFrame({"path": [str(photos[0])]}), api, cache_dir, timeout=0.5, max_retries=1)
    assert "no answer" in out.error[0]


def test_repeated_paths_share_one_read_and_one_outcome(tmp_path, api, cache_dir):
    good = make_photo(tmp_path / "good.jpg")
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"GIF89a not really")
    df = pd.DataFrame({"path": [str(good), str(bad), str(good), str(bad), str(tmp_path / "gone.jpg")] * 2})
    out = run(df, api, cache_dir)
    assert out.error.isna().tolist() == [True, False, True, False, False] * 2
    assert out.error.dropna().str.contains("bad.jpg|gone.jpg").all()
    assert api.count() == 1
    again = run(df, api, cache_dir)
    assert again.error.isna().tolist() == out.error.isna().tolist() and again.cached.sum() == 4


def test_api_key_reaches_no_cache_file_log_or_message(photos, api, cache_dir, caplog):
    import logging

    caplog.set_level(logging.DEBUG)  # httpx and httpcore included
    api.script(digest(photos[1]), ["2003"])
    out = run(pd.DataFrame({"path": [str(p) for p in photos[:3]]}), api, cache_dir)
    assert out.error.notna().sum() == 1
    secret = API_KEY.encode()
    files = [p for p in cache_dir.rglob("*") if p.is_file()]
    assert files  # the cache and the pacing schedule were written
    for p in files:
        assert secret not in p.read_bytes(), p
    assert API_KEY not in caplog.text
    assert not out.astype(str).apply(lambda col: col.str.contains(API_KEY)).any().any()
    backend = imagetags_df.resolve_backend("imagedescriber", api_key=API_KEY, base_url=api.url)
    assert API_KEY not in repr(backend) and API_KEY not in backend.limiter_id()
