"""``imagetags learn`` and ``imagetags tag --learned``, run as real subprocesses on real photos
(views of data/samples cut the way a camera would frame the same scene again), a real cache."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_learn import SAMPLES, _views

from imagetags_df import LabelModel
from imagetags_df.export import read_table
from imagetags_df.widgets import review

ROOT = Path(__file__).resolve().parent.parent
CLASSES = {"cat": "chelsea_cat", "coffee": "coffee", "rocket": "rocket"}


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "imagetags_df", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> dict[str, list[Path]]:
    """6 labelled views and 2 new views of each of 3 scenes."""
    root = tmp_path_factory.mktemp("photos")
    (root / "train").mkdir()
    (root / "new").mkdir()
    out: dict[str, list[Path]] = {"train": [], "new": []}
    for k, stem in enumerate(CLASSES.values()):
        out["train"] += _views(SAMPLES / f"{stem}.jpg", root / "train", 6, seed=10 + k)
        out["new"] += _views(SAMPLES / f"{stem}.jpg", root / "new", 2, seed=50 + k)
    return out


def _label_of(path: Path) -> str:
    stem = path.name.rsplit("_", 1)[0]
    return next(label for label, s in CLASSES.items() if s == stem)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, photos) -> tuple[Path, Path, subprocess.CompletedProcess]:
    work = tmp_path_factory.mktemp("learn")
    pd.DataFrame({"path": [str(p) for p in photos["train"]],
                  "label": [_label_of(p) for p in photos["train"]]}).to_csv(work / "labels.csv", index=False)
    done = run("learn", "labels.csv", "--out", "model", "--cache-dir", "cache", "--no-progress", cwd=work)
    return work, work / "model", done


def test_learn_saves_a_model_and_prints_its_report(trained):
    work, model_dir, done = trained
    assert done.returncode == 0, done.stderr
    for label in CLASSES:
        assert label in done.stdout
    assert "precision" in done.stdout and "threshold" in done.stdout
    assert f"saved a model of 3 label(s), 3 emitting, to {Path('model')}" in done.stderr
    model = LabelModel.load(model_dir)
    assert model.labels == sorted(CLASSES)
    assert all(t is not None for t in model.thresholds)


def test_tag_learned_adds_labels_to_table_sidecars_and_keywords(trained, photos, tmp_path):
    work, model_dir, _ = trained
    new = tmp_path / "new"
    new.mkdir()
    for p in photos["new"]:
        (new / p.name).write_bytes(p.read_bytes())
    done = run("tag", str(new), "--backend", "local", "--learned", str(model_dir), "--cache-dir",
               str(work / "cache"), "--no-progress", "--sidecars", "--write-metadata", "--out",
               str(tmp_path / "out.jsonl"), cwd=work)
    assert done.returncode == 0, done.stderr
    table = read_table(tmp_path / "out.jsonl")
    assert len(table) == 6
    from imagetags_df.export.metadata import read_metadata

    for path, learned, scores in zip(table["path"], table["learned"], table["learned_scores"]):
        truth = _label_of(Path(path))
        assert learned == [truth], (path, learned, scores)
        assert max(scores, key=scores.get) == truth
        sidecar = json.loads(Path(path + ".json").read_text(encoding="utf-8"))
        assert sidecar["learned"] == [truth]
        assert truth in read_metadata(path)["tags"]

    # The terminal table shows them, marked as learned.
    shown = run("tag", str(new), "--backend", "local", "--learned", str(model_dir), "--cache-dir",
                str(work / "cache"), "--no-progress", cwd=work)
    assert shown.returncode == 0, shown.stderr
    assert "cat (learned)" in shown.stdout and "rocket (learned)" in shown.stdout


def test_tag_without_learned_writes_no_learned_key(trained, photos, tmp_path):
    work, _, _ = trained
    new = tmp_path / "plain"
    new.mkdir()
    p = photos["new"][0]
    (new / p.name).write_bytes(p.read_bytes())
    done = run("tag", str(new), "--backend", "local", "--cache-dir", str(work / "cache"), "--no-progress",
               "--sidecars", cwd=work)
    assert done.returncode == 0, done.stderr
    assert "learned" not in json.loads((new / (p.name + ".json")).read_text(encoding="utf-8"))


def test_learn_from_a_review_file(photos, tmp_path):
    """The review widget's saved file: reviewed rows' tags are labels, removed tags negatives."""
    train = photos["train"]
    df = pd.DataFrame({"path": [str(p) for p in train], "tags": [[_label_of(p), "thing"] for p in train]})
    rv = review(df, path=tmp_path / "labels.json")
    for i in df.index:
        rv.remove_tag(i, "thing")
        rv.set_reviewed(i)
    done = run("learn", "labels.json", "--out", "m", "--cache-dir", "cache", "--no-progress", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = LabelModel.load(tmp_path / "m").report().set_index("label")
    assert sorted(report.index) == ["cat", "coffee", "rocket", "thing"]
    assert report.loc["thing", "positives"] == 0 and report.loc["thing", "negatives"] == len(train)
    assert report.loc["cat", "positives"] == 6


def test_learn_bad_input_is_a_clear_error(tmp_path):
    pd.DataFrame({"file": ["a.jpg"], "label": ["x"]}).to_csv(tmp_path / "l.csv", index=False)
    done = run("learn", "l.csv", "--out", "m", cwd=tmp_path)
    assert done.returncode == 2
    assert "no column 'path'" in done.stderr and "--col" in done.stderr
    done = run("learn", "missing.json", "--out", "m", cwd=tmp_path)
    assert done.returncode == 4 and "no such review file" in done.stderr


def test_tag_refuses_a_model_of_other_embeddings_before_tagging(trained, photos, tmp_path):
    _, model_dir, _ = trained
    other = tmp_path / "other"
    other.mkdir()
    for name in ("weights.npy", "bias.npy"):
        np.save(other / name, np.load(model_dir / name), allow_pickle=False)
    meta = json.loads((model_dir / "model.json").read_text(encoding="utf-8"))
    meta["embedding"] = "some-other-classifier"
    (other / "model.json").write_text(json.dumps(meta), encoding="utf-8")
    done = run("tag", str(photos["new"][0]), "--backend", "local", "--learned", str(other), "--cache-dir",
               str(tmp_path / "cache"), "--no-progress", cwd=tmp_path)
    assert done.returncode == 4
    assert "other embeddings" in done.stderr
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("*.sqlite*"))
