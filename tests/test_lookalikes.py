"""Look-alikes on real photos: copies found, distinct pictures kept apart, similar, clusters, quality."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageFilter

import imagetags_df  # noqa: F401  (registers the accessor)
from imagetags_df._exceptions import ConfigurationError
from imagetags_df.lookalikes import clusters, duplicates, quality, similar
from imagetags_df.lookalikes import index as _index
from imagetags_df.lookalikes.match import features, overlap
from imagetags_df.testing.copies import NEAR_KINDS, halves, near_copies, write_copies

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"
#: Photos with enough detail to be told apart, of different subjects.
PHOTOS = ["chelsea_cat.jpg", "china_temple.jpg", "coffee.jpg", "motorcycle.jpg", "flower.jpg", "rocket.jpg"]


def _open(name: str) -> Image.Image:
    im = Image.open(SAMPLES / name)
    im.load()
    return im.convert("RGB")


@pytest.fixture(scope="module")
def copies_frame(tmp_path_factory) -> pd.DataFrame:
    """Two photos, each with its nine near copies and its two halves, written as real files."""
    pictures = ((Path(name).stem, _open(name)) for name in ("china_temple.jpg", "motorcycle.jpg"))
    return write_copies(pictures, tmp_path_factory.mktemp("copies"))


@pytest.fixture(scope="module")
def dups(copies_frame, tmp_path_factory) -> pd.DataFrame:
    return duplicates(copies_frame, cache_dir=tmp_path_factory.mktemp("cache"))


def test_exact_duplicates_across_formats(tmp_path):
    im = _open("coffee.jpg")
    im.save(tmp_path / "a.png")
    im.save(tmp_path / "b.webp", lossless=True)
    im.save(tmp_path / "c.tiff")
    _open("chelsea_cat.jpg").save(tmp_path / "other.png")
    df = pd.DataFrame({"path": [str(tmp_path / n) for n in ("a.png", "b.webp", "c.tiff", "other.png")]})
    out = duplicates(df, cache_dir=tmp_path / "cache")
    assert out["dup_group"].iloc[:3].nunique() == 1 and out["dup_group"].iloc[:3].notna().all()
    assert out["dup_kind"].iloc[:3].tolist() == ["exact"] * 3
    assert pd.isna(out["dup_group"].iloc[3]) and out["dup_kind"].iloc[3] is None
    assert out["dup_keep"].tolist() == [True, False, False, True]  # same size: the earliest row
    assert str(out["dup_group"].dtype) == "Int64"


@pytest.mark.parametrize("kind", NEAR_KINDS)
def test_each_near_copy_is_grouped_with_its_original(dups, kind):
    for picture in ("china_temple", "motorcycle"):
        orig = dups[(dups.picture == picture) & (dups.kind == "orig")]["dup_group"].iloc[0]
        copy = dups[(dups.picture == picture) & (dups.kind == kind)].iloc[0]
        assert pd.notna(orig) and copy["dup_group"] == orig, (picture, kind)
        assert copy["dup_kind"] == ("exact" if kind == "png" else "near")


def test_halves_are_never_merged(dups):
    for picture in ("china_temple", "motorcycle"):
        left = dups[dups.picture == f"{picture}:left45"]["dup_group"].iloc[0]
        right = dups[dups.picture == f"{picture}:right45"]["dup_group"].iloc[0]
        assert pd.isna(left) and pd.isna(right), picture
    # and the two photos' groups never meet
    assert dups.dropna(subset=["dup_group"]).groupby("dup_group")["picture"].nunique().max() == 1


def test_keep_is_the_largest_picture(dups):
    for picture in ("china_temple", "motorcycle"):
        group = dups[dups.picture == picture]
        kept = group[group["dup_keep"]]
        assert len(kept) == 1
        # the original and its exact PNG copy share the largest size: the earlier row wins
        assert kept["kind"].iloc[0] == "orig"


def test_halves_do_not_match_the_whole_or_each_other():
    im = _open("china_temple.jpg")
    whole = features(im)
    left, right = (features(h) for h in halves(im).values())
    assert overlap(whole, left).share < 0.5
    assert overlap(left, right).share < 0.5
    assert overlap(whole, features(near_copies(im)["crop5"])).share > 0.75


def test_tags_disagree(tmp_path):
    im = _open("coffee.jpg")
    im.save(tmp_path / "a.png")
    im.resize((im.width // 2, im.height // 2)).save(tmp_path / "b.jpg", quality=90)
    _open("rocket.jpg").save(tmp_path / "c.png")
    _open("rocket.jpg").save(tmp_path / "d.png")
    df = pd.DataFrame({"path": [str(tmp_path / n) for n in ("a.png", "b.jpg", "c.png", "d.png")],
                       "tags": [["coffee", "cup"], ["cup"], ["rocket"], ["Rocket"]]})
    out = duplicates(df, cache_dir=tmp_path / "cache")
    assert out["dup_kind"].tolist() == ["near", "near", "exact", "exact"]
    assert out["tags_disagree"].tolist() == [True, True, False, False]


def test_unreadable_rows_are_named_and_left_out(tmp_path):
    (tmp_path / "bad.jpg").write_bytes(b"not an image")
    df = pd.DataFrame({"path": [str(SAMPLES / "coffee.jpg"), str(tmp_path / "bad.jpg"), str(tmp_path / "gone.jpg")]})
    out = duplicates(df, cache_dir=False)
    assert out["dup_group"].isna().all()
    assert "bad.jpg" in out.loc[1, "dup_error"] and "gone.jpg" in out.loc[2, "dup_error"]


def test_similar_excludes_the_query_and_ranks(tmp_path):
    paths = [str(SAMPLES / n) for n in PHOTOS]
    im = _open("chelsea_cat.jpg")
    im.resize((im.width // 2, im.height // 2)).save(tmp_path / "cat_small.jpg")
    df = pd.DataFrame({"path": paths + [str(tmp_path / "cat_small.jpg")]}, index=[f"r{i}" for i in range(7)])
    out = df.imagetags.similar("r0", k=3, cache_dir=tmp_path / "cache")
    assert "r0" not in out.index and len(out) == 3
    assert out.index[0] == "r6"  # its own smaller copy first
    assert out["similarity"].is_monotonic_decreasing and out["similarity"].iloc[0] > 0.9
    by_path = similar(df, paths[0], k=2, cache_dir=tmp_path / "cache")
    assert "r0" not in by_path.index and by_path.index[0] == "r6"
    by_image = similar(df, im, k=1, cache_dir=tmp_path / "cache")
    assert by_image.index.tolist() == ["r0"]  # a PIL image is not a row: its own row may come back
    with pytest.raises(ConfigurationError, match="neither a row label"):
        similar(df, 12.5, cache_dir=False)


def test_index_grows_without_rebuilding(tmp_path):
    rng = np.random.default_rng(0)
    v = rng.standard_normal((300, 32)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    idx = _index.VectorIndex(32, tmp_path / "lookalikes")
    assert idx.add([f"k{i}" for i in range(200)], v[:200]) == 200
    idx.save()
    again = _index.VectorIndex(32, tmp_path / "lookalikes")
    assert len(again) == 200
    assert again.add([f"k{i}" for i in range(300)], v) == 100  # only the new ones
    keys, sims = again.search(v[250:251], 1)
    assert keys[0] == ["k250"] and sims[0, 0] > 0.99
    ids, exact = _index.exact_neighbours(v, v[:5], 3)
    assert ids[:, 0].tolist() == [0, 1, 2, 3, 4]


def test_large_frames_go_through_the_persisted_index(tmp_path, monkeypatch):
    monkeypatch.setattr(_index, "EXACT_UP_TO", 2)
    df = pd.DataFrame({"path": [str(SAMPLES / n) for n in PHOTOS]})
    out = similar(df, 0, k=2, cache_dir=tmp_path / "cache")
    assert len(out) == 2 and 0 not in out.index
    assert (tmp_path / "cache" / "lookalikes" / "vectors.hnsw").exists()
    keys = (tmp_path / "cache" / "lookalikes" / "keys.txt").read_text().split()
    assert len(keys) == len(PHOTOS) - 1


def test_clusters_are_named_from_tags(tmp_path):
    rows, tags = [], []
    for name, tag in (("chelsea_cat.jpg", "cat"), ("rocket.jpg", "rocket")):
        im = _open(name)
        for i, factor in enumerate((1.0, 0.8, 0.6)):
            p = tmp_path / f"{tag}{i}.jpg"
            im.resize((int(im.width * factor), int(im.height * factor))).save(p, quality=85)
            rows.append(str(p))
            tags.append([tag, "photo"])
    df = pd.DataFrame({"path": rows, "tags": tags})
    out = df.imagetags.clusters(cache_dir=tmp_path / "cache")  # n chosen automatically
    assert out["cluster"].nunique() == 2
    named = dict(zip(out["path"], out["cluster_name"]))
    assert named[rows[0]].startswith("cat") and named[rows[3]].startswith("rocket")
    assert out.loc[0, "cluster"] == out.loc[2, "cluster"] != out.loc[3, "cluster"]
    bare = clusters(df.drop(columns="tags"), n=2, cache_dir=tmp_path / "cache")
    assert set(bare["cluster_name"]) == {"cluster 0", "cluster 1"}


def _made(tmp_path: Path) -> dict[str, Path]:
    photo = _open("china_temple.jpg")
    made = {
        "normal": photo,
        "dark": Image.eval(photo, lambda v: v // 8),
        "bright": Image.eval(photo, lambda v: 246 + v // 28),  # a washed-out, overexposed copy
        "blurry": photo.filter(ImageFilter.GaussianBlur(12)),
        "low_information": Image.new("RGB", photo.size, (120, 140, 160)),
        "grayscale": photo.convert("L").convert("RGB"),
        "odd_aspect": photo.resize((photo.width, photo.width // 5)),
        "odd_size": photo.resize((24, 18)),
    }
    out = {}
    for k, im in made.items():
        out[k] = tmp_path / f"{k}.png"
        im.save(out[k])
    return out


def test_each_quality_flag_on_a_made_example_and_not_on_a_normal_photo(tmp_path):
    made = _made(tmp_path)
    normal = [str(SAMPLES / n) for n in PHOTOS]
    df = pd.DataFrame({"path": [str(p) for p in made.values()] + normal}, index=list(made) + PHOTOS)
    out = df.imagetags.quality(cache_dir=tmp_path / "cache")
    flags = ["dark", "bright", "blurry", "low_information", "grayscale", "odd_size", "odd_aspect"]
    for flag in flags:
        assert out.loc[flag, flag], (flag, out.loc[flag, f"{flag}_score"])
        assert not out.loc["normal", flag], (flag, out.loc["normal", f"{flag}_score"])
        assert 0.0 <= out.loc["normal", f"{flag}_score"] <= 1.0
    # the normal photo is flagged for nothing at all
    assert not out.loc["normal", flags].any()
    again = quality(df, cache_dir=tmp_path / "cache")  # second call: from the cache
    pd.testing.assert_frame_equal(out, again)


def test_plot_map_says_when_it_samples(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    df = pd.DataFrame({"path": [str(SAMPLES / n) for n in PHOTOS], "kind": list("aabbcc")})
    ax = df.imagetags.plot_map(color="kind", max_points=4, cache_dir=tmp_path / "cache")
    assert ax.get_title() == "sample of 4 of 6 images by embedding (coloured by kind)"
    assert len(ax.artists) == 4


def test_the_halves_of_a_blank_picture_are_not_one_picture(tmp_path):
    # A white overlay whose texture is all in its transparency (as some wallpapers are): on
    # white it is blank, with no keypoints, and every blank picture hashes alike, so the hash
    # must not speak for it. Its halves' pixels differ (the alpha ramps across the picture).
    alpha = np.tile(np.linspace(0, 255, 400).astype("uint8"), (300, 1))
    rgba = np.dstack([np.full((300, 400, 3), 255, "uint8"), alpha])
    im = Image.fromarray(rgba, mode="RGBA")
    w = im.width
    left, right = im.crop((0, 0, round(w * 0.45), im.height)), im.crop((w - round(w * 0.45), 0, w, im.height))
    assert np.asarray(left).tobytes() != np.asarray(right).tobytes()
    assert overlap(features(left), features(right)).how == "none"
    left.save(tmp_path / "l.png")
    right.save(tmp_path / "r.png")
    out = duplicates(pd.DataFrame({"path": [str(tmp_path / "l.png"), str(tmp_path / "r.png")]}), cache_dir=False)
    assert out["dup_group"].isna().all()


def test_preview_one_cluster_at_a_time(tmp_path):
    df = pd.DataFrame({"path": [str(SAMPLES / n) for n in PHOTOS], "tags": [["a"]] * 3 + [["b"]] * 3})
    out = df.imagetags.clusters(n=2, cache_dir=tmp_path / "cache")
    first = out.imagetags.preview(group_by="cluster")
    assert set(first.page_rows().tolist()) == set(range(int((out["cluster"] == 0).sum())))
    second = out.imagetags.preview(group_by="cluster", group=1)
    assert second.rows == int((out["cluster"] == 1).sum())
    with pytest.raises(ConfigurationError, match="clusters"):
        df.imagetags.preview(group_by="cluster")
