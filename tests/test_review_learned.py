"""Learned labels in the review widget: chips unlike tags, accept/reject by click (saved with
the other edits and read back by labels_from_review), "label these next" and "learn again".
Real photos (views of data/samples), the real classifier, a real cache, real widget models."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
from test_learn import SAMPLES, _views

from imagetags_df.learn import labels_from_review, learn
from imagetags_df.widgets import review

pytest.importorskip("ipywidgets")

CLASSES = {"cat": "chelsea_cat", "coffee": "coffee", "rocket": "rocket"}


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> tuple[pd.DataFrame, Path]:
    """5 labelled and 3 unlabelled views of each of 3 scenes, and a cache holding them."""
    root = tmp_path_factory.mktemp("review-photos")
    rows = []
    for k, (label, stem) in enumerate(CLASSES.items()):
        views = _views(SAMPLES / f"{stem}.jpg", root, 8, seed=70 + k)
        rows += [{"path": str(p), "label": label if i < 5 else None, "truth": label} for i, p in enumerate(views)]
    df = pd.DataFrame(rows)
    df["tags"] = [["thing"]] * len(df)
    return df, tmp_path_factory.mktemp("review-cache")


@pytest.fixture(scope="module")
def model(photos):
    df, cache = photos
    return learn(df, labels="label", cache_dir=cache, progress=False)


def _open_rows(rv, df):
    return [c for c in rv.cards if pd.isna(df.at[df.index[c.pos], "label"])]


def test_learned_chips_look_unlike_tags_and_accept_reject_are_saved(photos, model, tmp_path):
    df, _ = photos
    path = tmp_path / "labels.json"
    rv = review(df, path=path, model=model, labels="label", n=len(df))
    cards = rv.cards
    # Labelled rows show no learned chip (their label is known); unlabelled ones do.
    assert all(not c.learned for c in cards if isinstance(df.at[c.pos, "label"], str))
    open_cards = _open_rows(rv, df)
    assert open_cards and all(c.learned for c in open_cards)
    first = open_cards[0]
    chip_html = first.learned_box.children[0].children[0].value
    assert "itdf-learned-chip" in chip_html and "dashed" in chip_html
    assert "itdf-learned-chip" not in "".join(b.description for b in first.chips.values())

    # One click to accept (it becomes a tag), one to reject (a negative example).
    truth = df.at[first.pos, "truth"]
    assert truth in first.learned
    first.learned[truth][0].click()
    assert truth not in first.learned and truth in first.chips
    second = open_cards[1]
    wrong = next(t for t in model.labels if t != df.at[second.pos, "truth"])
    if wrong not in second.learned:  # the model is sure and right: reject a label from code
        rv.reject(second.pos, wrong)
    else:
        second.learned[wrong][1].click()
    saved = json.loads(path.read_text(encoding="utf-8"))
    entries = {e["image"]: e for e in saved["edits"].values()}
    assert entries[df.at[first.pos, "path"]]["accepted"] == [truth]
    assert truth in entries[df.at[first.pos, "path"]]["tags"]
    assert entries[df.at[second.pos, "path"]]["rejected"] == [wrong]

    # The saved file is the documented labels column: accept -> label, reject -> negative.
    got = labels_from_review(path).set_index("path")
    assert got.at[df.at[first.pos, "path"], "label"] == [truth]
    assert got.at[df.at[second.pos, "path"], "rejected"] == [wrong]
    assert got.at[df.at[second.pos, "path"], "label"] is None

    # A new process opening the same file sees the accept and the reject.
    code = textwrap.dedent(f"""
        import io, json, pandas as pd
        from imagetags_df.widgets import review
        df = pd.read_json(io.StringIO({json.dumps(df.to_json())}))
        df.index = range(len(df))
        out = review(df, path={str(path)!r}, labels="label").result()
        print(json.dumps([out.at[{first.pos}, "tags_reviewed"], out.at[{second.pos}, "tags_reviewed"]]))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [["thing", truth], ["thing"]]


def test_learn_again_counts_accepts_and_rejects(photos, model, tmp_path):
    df, _ = photos
    rv = review(df, path=tmp_path / "labels.json", model=model, labels="label", n=len(df))
    open_pos = [p for p in range(len(df)) if pd.isna(df.at[p, "label"])]
    accepted, rejected = open_pos[0], open_pos[1]
    truth = df.at[accepted, "truth"]
    wrong = next(t for t in model.labels if t != df.at[rejected, "truth"])
    rv.accept(accepted, truth)
    rv.reject(rejected, wrong)
    _ = rv.widget
    rv.learn_button.click()
    new = rv.model
    assert new is not model
    before, after = model.report().set_index("label"), new.report().set_index("label")
    assert after.at[truth, "positives"] == before.at[truth, "positives"] + 1
    assert after.at[wrong, "negatives"] == before.at[wrong, "negatives"] + 1 + (truth != wrong)
    assert "learned 3 label(s)" in rv._w_info.value
    # The chips come from the new model: the accepted row shows nothing left to decide.
    card = next(c for c in rv.cards if c.pos == accepted)
    assert truth not in card.learned


def test_label_these_next_puts_suggestions_first(photos, model, tmp_path):
    df, cache = photos
    rv = review(df, path=tmp_path / "labels.json", model=model, labels="label", n=4)
    _ = rv.widget
    rv.page(2)
    rv.next_button.click()
    shown = [c.pos for c in rv.cards]
    picks = model.suggest(df, n=4, cache_dir=cache)
    assert shown == list(picks.index)
    assert all(pd.isna(df.at[p, "label"]) for p in shown)
    assert "page 1/" in rv._w_info.value and "label next come first" in rv._w_info.value


def test_learned_columns_without_a_model(photos, model, tmp_path):
    """The frame ``model.predict`` returned is enough to show chips and learn again."""
    df, cache = photos
    predicted = model.predict(df, cache_dir=cache)
    rv = review(predicted, path=tmp_path / "labels.json", labels="label")
    pos = next(p for p in range(len(df)) if pd.isna(df.at[p, "label"]))
    scores = predicted.at[pos, "learned_scores"]
    expected = predicted.at[pos, "learned"] or [max(scores, key=scores.get)]
    assert [t for t, _, _ in rv.learned_of(pos)] == expected
    with pytest.raises(Exception, match="needs a label model"):
        rv.label_next()
    rv.accept(pos, df.at[pos, "truth"])
    frame = rv.training_labels()
    assert frame.at[pos, "label"] == [df.at[pos, "truth"]]
    assert "thing" not in {t for r in frame["rejected"] for t in r}


def test_a_review_without_learned_labels_is_unchanged(photos, tmp_path):
    df, _ = photos
    rv = review(df.drop(columns=["label"]), path=tmp_path / "labels.json", n=3)
    assert not rv.has_learned
    assert all(not c.learned and c.learned_box not in c.box.children for c in rv.cards)
    assert "learned_accepted" not in rv.result().columns


def test_a_review_with_a_model_predicts_only_the_pages_shown(photos, model, tmp_path):
    """A review of a big frame must not embed every image up front: one page at a time."""
    df, _ = photos
    predicted_rows: list[int] = []
    real_predict = model.predict

    def counting_predict(frame, **kwargs):
        predicted_rows.append(len(frame))
        return real_predict(frame, **kwargs)

    model.predict = counting_predict
    try:
        rv = review(df, path=tmp_path / "labels.json", model=model, labels="label", n=4)
        assert predicted_rows == []
        assert len(rv.cards) == 4 and predicted_rows == [4]
        rv.page(1)
        assert predicted_rows == [4, 4]
        rv.page(0)  # shown before: nothing predicted again
        assert predicted_rows == [4, 4]
    finally:
        del model.predict
