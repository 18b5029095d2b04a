"""Learning a person's labels: embed, learn, predict, report, suggest, save/load, Dask.

Real photos (data/samples, and views of them cut the way a camera would frame the same scene
again), a real temporary cache, the real classifier.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageEnhance, ImageOps

import imagetags_df
from imagetags_df import ConfigurationError, LabelModel
from imagetags_df.backends.local import embeddings as local_embeddings
from imagetags_df.learn import embed, embedding_matrix, labels_from_review, learn
from imagetags_df.learn import embeddings as learn_embeddings
from imagetags_df.learn.model import choose_threshold
from imagetags_df.widgets import review

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"
#: Scenes and the sample photo each view is cut from.
SCENES = {"cat": "chelsea_cat", "coffee": "coffee", "rocket": "rocket", "motorcycle": "motorcycle",
          "temple": "china_temple", "flower": "flower", "astronaut": "astronaut", "bricks": "brick"}


def _views(src: Path, out: Path, n: int, seed: int) -> list[Path]:
    """``n`` different framings of one photo: crops of 55-90 % of it at varied places, some
    mirrored, with changed exposure and contrast, saved as new JPEGs."""
    rnd = random.Random(seed)
    im = ImageOps.exif_transpose(Image.open(src)).convert("RGB")
    w, h = im.size
    paths = []
    for i in range(n):
        s = rnd.uniform(0.55, 0.9)
        cw, ch = int(w * s), int(h * s)
        x, y = rnd.randint(0, w - cw), rnd.randint(0, h - ch)
        v = im.crop((x, y, x + cw, y + ch))
        if rnd.random() < 0.5:
            v = ImageOps.mirror(v)
        v = ImageEnhance.Brightness(v).enhance(rnd.uniform(0.75, 1.25))
        v = ImageEnhance.Contrast(v).enhance(rnd.uniform(0.8, 1.2))
        p = out / f"{src.stem}_{i:02d}.jpg"
        v.save(p, quality=rnd.randint(70, 92))
        paths.append(p)
    return paths


@pytest.fixture(scope="module")
def scenes(tmp_path_factory) -> pd.DataFrame:
    """12 views of each of 8 scenes, with their scene as the label."""
    out = tmp_path_factory.mktemp("views")
    rows = []
    for k, (label, stem) in enumerate(SCENES.items()):
        for p in _views(SAMPLES / f"{stem}.jpg", out, 12, seed=k):
            rows.append({"path": str(p), "scene": label})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def scene_cache(tmp_path_factory, scenes) -> Path:
    """A cache filled by tagging the views offline (which stores their embeddings)."""
    cache = tmp_path_factory.mktemp("scene-cache")
    scenes.imagetags.generate(backend="local", cache_dir=cache, progress=False)
    return cache


@pytest.fixture
def no_model(monkeypatch):
    """The classifier cannot run: anything that needs it fails loudly."""
    def refuse(*_a, **_k):
        raise AssertionError("a model ran although every embedding was cached")

    monkeypatch.setattr(local_embeddings, "get_models", refuse)
    monkeypatch.setattr("imagetags_df.backends.local.backend.get_models", refuse)


def test_cached_embeddings_run_no_model(scenes, scene_cache, no_model) -> None:
    out = embed(scenes, cache_dir=scene_cache, progress=False)
    assert out["error"].isna().all()
    assert all(v.dtype == np.float32 and v.shape == (1280,) for v in out["embedding"])
    model = learn(scenes.groupby("scene").head(5), labels="scene", cache_dir=scene_cache, progress=False)
    predicted = model.predict(scenes, cache_dir=scene_cache)
    assert predicted["learned_scores"].notna().all()
    m, ok = embedding_matrix(scenes, cache_dir=scene_cache)
    assert ok.all() and np.allclose(m, np.stack(out["embedding"].tolist()))


def test_embed_computes_what_tagging_stores(scenes, scene_cache, tmp_path) -> None:
    few = scenes.iloc[::12].reset_index(drop=True)
    fresh = embed(few, cache_dir=tmp_path / "fresh", progress=False)
    cached = embed(few, cache_dir=scene_cache, progress=False)
    for a, b in zip(fresh["embedding"], cached["embedding"]):
        assert np.abs(a - b).max() <= 6.0 * 2 ** -10  # float16 storage on both sides


def test_bad_rows_get_nan_and_an_error_naming_the_file(tmp_path) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    missing = tmp_path / "missing.jpg"
    df = pd.DataFrame({"path": [str(SAMPLES / "coffee.jpg"), str(broken), str(missing), None]},
                      index=["a", "b", "c", "d"])
    out = df.imagetags.embed(cache_dir=tmp_path / "cache", progress=False)
    assert list(out.index) == ["a", "b", "c", "d"]
    assert out.loc["a", "embedding"].shape == (1280,) and out.loc["a", "error"] is None
    for row, name in (("b", "broken.jpg"), ("c", "missing.jpg")):
        assert isinstance(out.loc[row, "embedding"], float) and np.isnan(out.loc[row, "embedding"])
        assert name in out.loc[row, "error"]
    assert "'d'" in out.loc["d", "error"]
    # The good row was stored: a second run computes nothing for it.
    again = embed(df.iloc[:1], cache_dir=tmp_path / "cache", progress=False)
    assert np.array_equal(again.loc["a", "embedding"], out.loc["a", "embedding"])


def test_thresholds_reach_min_precision_on_held_back_views(scenes, scene_cache) -> None:
    train = scenes.groupby("scene").sample(5, random_state=1)
    held = scenes.drop(train.index)
    # Held-back rows also include a scene never labelled: emitting anything on it is wrong.
    model = learn(train[train["scene"] != "bricks"], labels="scene", cache_dir=scene_cache,
                  min_precision=0.9, progress=False)
    rep = model.report().set_index("label")
    assert set(rep.index) == set(SCENES) - {"bricks"}
    assert (rep["positives"] == 5).all() and (rep["negatives"] == 30).all()
    out = model.predict(held, cache_dir=scene_cache)
    emitted = [(label, truth) for labels, truth in zip(out["learned"], out["scene"]) for label in labels]
    assert len(emitted) >= 0.6 * len(held[held["scene"] != "bricks"])
    precision = sum(label == truth for label, truth in emitted) / len(emitted)
    assert precision >= 0.9, (precision, emitted)
    # Most likely first, and only labels over their own threshold.
    for labels, scores in zip(out["learned"], out["learned_scores"]):
        assert [scores[x] for x in labels] == sorted((scores[x] for x in labels), reverse=True)
        for x in labels:
            assert scores[x] >= model.thresholds[model.labels.index(x)] - 1e-4


def test_one_label_per_row_emits_one_several_emit_several(scenes, scene_cache) -> None:
    train = scenes.groupby("scene").head(6)
    held = scenes.drop(train.index)
    single = learn(train, labels="scene", cache_dir=scene_cache, progress=False)
    assert single.exclusive
    assert all(len(x) <= 1 for x in single.predict(held, cache_dir=scene_cache)["learned"])
    multi = train.assign(both=[[s, "machine"] if s in ("motorcycle", "rocket") else [s] for s in train["scene"]])
    model = learn(multi, labels="both", cache_dir=scene_cache, progress=False)
    assert not model.exclusive
    out = model.predict(held[held["scene"] == "motorcycle"], cache_dir=scene_cache)
    assert sum(set(x) == {"motorcycle", "machine"} for x in out["learned"]) >= len(out) // 2, out["learned"].tolist()


def test_a_label_that_cannot_be_right_stays_silent(scenes, scene_cache) -> None:
    df = scenes.copy()
    # Labels that have nothing to do with the pictures: half of each scene's views are
    # "heads", half "tails", at random. No threshold can make them precise.
    rng = np.random.default_rng(3)
    df["noise"] = None
    for _scene, rows in df.groupby("scene").groups.items():
        flips = rng.permutation(np.array(["heads", "tails"] * (len(rows) // 2)))
        df.loc[rows, "noise"] = flips
    df.loc[df.index[:2], "noise"] = "rare"
    df.loc[df.index[2:], "noise"] = df.loc[df.index[2:], "noise"].where(df.index[2:] % 7 != 0, None)
    model = learn(df, labels="noise", cache_dir=scene_cache, progress=False)
    rep = model.report().set_index("label")
    assert pd.isna(rep.loc["rare", "threshold"]) and "too few examples" in rep.loc["rare", "note"]
    silent = rep[rep["threshold"].isna()]
    assert {"heads", "tails"} <= set(silent.index), rep
    assert "precision stays under" in rep.loc["heads", "note"]
    out = model.predict(df, cache_dir=scene_cache)
    assert all(labels == [] for labels in out["learned"])


def test_choose_threshold_is_the_lowest_precise_cut() -> None:
    scores = np.array([.95, .9, .8, .7, .6, .5, .4])
    truth = np.array([1, 1, 1, 0, 1, 0, 0])
    # Cuts end on a positive, halfway (in log-odds) to the next score down.
    assert choose_threshold(scores, truth, 0.75) == (0.5505, 0.8, 1.0)
    assert choose_threshold(scores, truth, 0.9) == (0.7534, 1.0, 0.75)
    assert choose_threshold(scores, truth, 0.99)[0] == 0.7534
    # Ties cannot be cut apart.
    assert choose_threshold(np.array([.9, .9]), np.array([1, 0]), 0.9)[0] is None


def test_rejected_tags_are_negative_examples(scenes, scene_cache, tmp_path) -> None:
    train = scenes.groupby("scene", group_keys=False).head(4).reset_index(drop=True)
    # "vehicle" is given on motorcycles and rockets; a person rejects it on three temple views.
    train["label"] = [["vehicle"] if s in ("motorcycle", "rocket") else [s] for s in train["scene"]]
    temples = scenes[scenes["scene"] == "temple"].iloc[6:9]
    tagged = pd.DataFrame({"path": temples["path"].tolist(),
                           "tags": [["temple", "vehicle"]] * 3})
    rv = review(tagged, path=tmp_path / "review.json")
    for i in range(3):
        rv.remove_tag(i, "vehicle")
    saved = labels_from_review(tmp_path / "review.json")
    assert saved["rejected"].tolist() == [["vehicle"]] * 3 and saved["label"].isna().all()
    plain = learn(train, labels="label", cache_dir=scene_cache, progress=False)
    both = pd.concat([train, saved], ignore_index=True)
    taught = learn(both, labels="label", cache_dir=scene_cache, progress=False)
    before = plain.report().set_index("label").loc["vehicle", "negatives"]
    after = taught.report().set_index("label").loc["vehicle", "negatives"]
    assert after == before + 3
    # Only "vehicle" learned from them: no other label counts the unlabelled rejections.
    assert (taught.report().set_index("label").drop("vehicle")["negatives"]
            == plain.report().set_index("label").drop("vehicle")["negatives"]).all()
    other = scenes[scenes["scene"] == "temple"].iloc[9:]
    j = plain.labels.index("vehicle")
    p0 = plain.predict(other, cache_dir=scene_cache)["learned_scores"].map(lambda d: d["vehicle"])
    p1 = taught.predict(other, cache_dir=scene_cache)["learned_scores"].map(lambda d: d["vehicle"])
    assert (p1 < p0).all(), (p0.tolist(), p1.tolist(), j)


def test_review_file_marks_reviewed_tags_as_labels(tmp_path) -> None:
    df = pd.DataFrame({"path": [str(SAMPLES / "coffee.jpg"), str(SAMPLES / "rocket.jpg")],
                       "tags": [["coffee", "cake"], ["rocket"]]})
    rv = review(df, path=tmp_path / "r.json")
    rv.remove_tag(0, "cake")
    rv.add_tag(0, "breakfast")
    rv.set_reviewed(0)
    rv.remove_tag(1, "rocket")
    rv.add_tag(1, "rocket")  # put back: no longer rejected
    rv.set_reviewed(1)
    got = labels_from_review(tmp_path / "r.json")
    assert got["label"].tolist() == [["coffee", "breakfast"], ["rocket"]]
    assert got["rejected"].tolist() == [["cake"], []]
    with pytest.raises(ConfigurationError, match="no such review file"):
        labels_from_review(tmp_path / "none.json")


def test_save_load_round_trip_and_mismatch_refused(scenes, scene_cache, tmp_path) -> None:
    model = scenes.groupby("scene").head(5).imagetags.learn(labels="scene", cache_dir=scene_cache, progress=False)
    folder = model.save(tmp_path / "labels-model")
    assert sorted(p.name for p in folder.iterdir()) == ["bias.npy", "model.json", "weights.npy"]
    back = LabelModel.load(folder)
    assert back.labels == model.labels and back.thresholds == model.thresholds
    assert back.exclusive == model.exclusive
    assert back.report().equals(model.report())
    a = model.predict(scenes, cache_dir=scene_cache)
    b = back.predict(scenes, cache_dir=scene_cache)
    assert a["learned"].tolist() == b["learned"].tolist()
    meta = json.loads((folder / "model.json").read_text())
    meta["embedding"] = meta["embedding"].replace("prep", "prep9")
    (folder / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ConfigurationError, match="other embeddings .* Learn it again"):
        imagetags_df.LabelModel.load(folder)
    # Arrays are read without pickle: an object array is refused, not executed.
    meta["embedding"] = model.identity
    (folder / "model.json").write_text(json.dumps(meta))
    np.save(folder / "bias.npy", np.array([{"x": 1}] * len(model.labels), dtype=object), allow_pickle=True)
    with pytest.raises(ConfigurationError, match="damaged"):
        LabelModel.load(folder)


def test_suggest_picks_uncertain_and_varied_rows(scenes, scene_cache, tmp_path) -> None:
    df = scenes.copy()
    df["label"] = None
    labelled = df.groupby("scene").head(3).index
    df.loc[labelled, "label"] = df.loc[labelled, "scene"]
    # Ten copies of the same picture: however uncertain, one is enough.
    odd = SAMPLES / "hubble_deep_field.jpg"
    copies = [tmp_path / f"copy_{i}.jpg" for i in range(10)]
    for c in copies:
        c.write_bytes(odd.read_bytes())
    df = pd.concat([df, pd.DataFrame({"path": [str(c) for c in copies], "scene": "space", "label": None})],
                   ignore_index=True)
    model = df.imagetags.learn(cache_dir=scene_cache, progress=False)
    picks = model.suggest(df, n=8, cache_dir=scene_cache)
    assert len(picks) == 8 and picks["label"].isna().all()
    assert picks["path"].isin([str(c) for c in copies]).sum() <= 1
    assert picks["scene"].nunique() >= 4  # spread over the scenes, not one cluster
    assert (picks["uncertainty"].between(0, 1)).all()
    # The most uncertain unlabelled row comes first.
    u = model.predict(df[df["label"].isna()], cache_dir=scene_cache)["learned_scores"]
    assert picks.iloc[0]["uncertainty"] >= 0.5 or len(u) == 0


def test_learn_names_what_is_wrong(scenes) -> None:
    with pytest.raises(ConfigurationError, match="labels column 'nope' not found"):
        learn(scenes, labels="nope", progress=False)
    with pytest.raises(ConfigurationError, match="no labels"):
        learn(scenes.assign(label=None), progress=False)
    with pytest.raises(ConfigurationError, match="must be a string"):
        learn(scenes.assign(label=3), progress=False)


@pytest.mark.slow
def test_dask_embed_on_a_local_cluster(scenes, scene_cache, tmp_path) -> None:
    dd = pytest.importorskip("dask.dataframe")
    distributed = pytest.importorskip("distributed")
    df = scenes.iloc[::6].reset_index(drop=True)
    df.loc[len(df)] = {"path": str(tmp_path / "gone.jpg"), "scene": "none"}
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=True, dashboard_address=None) as c, \
            distributed.Client(c):
        out = dd.from_pandas(df, npartitions=3).imagetags.embed(cache_dir=tmp_path / "cache").compute()
    want = learn_embeddings.embed(df, cache_dir=scene_cache, progress=False)
    assert list(out.index) == list(want.index)
    for a, b in zip(out["embedding"].iloc[:-1], want["embedding"].iloc[:-1]):
        assert np.abs(a - b).max() <= 6.0 * 2 ** -10
    assert np.isnan(out["embedding"].iloc[-1]) and "gone.jpg" in out["error"].iloc[-1]
