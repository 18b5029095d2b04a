"""analysis.py against answers worked out by hand on a small frame.

The frame has the awkward rows on purpose: a row with no tags, a failed row whose tags are
None, a failed row that still has an (empty) list, a tag repeated within a row, a CJK tag,
and a non-default index.
"""

from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")  # no display in CI; must precede pyplot

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import imagetags_df  # noqa: E402,F401  (registers the accessor)
from imagetags_df import analysis  # noqa: E402
from imagetags_df._exceptions import ConfigurationError  # noqa: E402

DOG_ZH = "\u72d7"  # 狗


@pytest.fixture
def df() -> pd.DataFrame:
    rows = [
        # index, tags, error_code, error
        ("a", ["cat", "pet", "animal"], None, None),
        ("b", ["dog", "pet", "animal"], None, None),
        ("c", ["cat", "pet"], None, None),
        ("d", [], None, None),                              # tagged, nothing found
        ("e", None, 2004, "invalid image format"),          # failed
        ("f", ["cat", "cat", "indoor"], None, None),        # repeated tag
        ("g", [], 5050, "internal error"),                  # failed, empty list
        ("h", [DOG_ZH, "pet"], None, None),                 # CJK
    ]
    frame = pd.DataFrame({
        "path": [f"{i}.jpg" for i, *_ in rows],
        "tags": [t for _, t, _, _ in rows],
        "error_code": pd.array([c for *_, c, _ in rows], dtype="Int64"),
        "error": [e for *_, e in rows],
    }, index=[i for i, *_ in rows])
    return frame


# Hand-computed: 6 tagged rows (a b c d f h); failed: e g.
COUNTS = {"pet": 4, "cat": 3, "animal": 2, "dog": 1, "indoor": 1, DOG_ZH: 1}


def test_tag_counts_by_hand(df):
    counts = analysis.tag_counts(df)
    assert counts.to_dict() == COUNTS
    # most common first; ties broken by the tag, so the order is fixed
    assert counts.index.tolist() == ["pet", "cat", "animal", "dog", "indoor", DOG_ZH]
    assert counts.dtype == "int64"


def test_tag_counts_normalize_leaves_failed_rows_out(df):
    share = analysis.tag_counts(df, normalize=True)
    assert share["pet"] == pytest.approx(4 / 6)
    assert share["cat"] == pytest.approx(3 / 6)
    assert share[DOG_ZH] == pytest.approx(1 / 6)


def test_failed_mask(df):
    assert analysis.failed_mask(df).tolist() == [False, False, False, False, True, False, True, False]


def test_tag_lists_dedupes_and_marks_failed(df):
    lists = analysis.tag_lists(df)
    assert lists[5] == ["cat", "indoor"]
    assert lists[3] == [] and lists[4] is None and lists[6] is None


def test_cooccurrence_count_by_hand(df):
    m = analysis.cooccurrence(df, top=3)
    assert m.index.tolist() == ["pet", "cat", "animal"] == m.columns.tolist()
    expected = np.array([[4, 2, 2],
                         [2, 3, 1],
                         [2, 1, 2]])
    np.testing.assert_array_equal(m.to_numpy(), expected)


def test_cooccurrence_jaccard_by_hand(df):
    m = analysis.cooccurrence(df, top=3, measure="jaccard")
    assert m.loc["pet", "cat"] == pytest.approx(2 / 5)
    assert m.loc["pet", "animal"] == pytest.approx(2 / 4)
    assert m.loc["cat", "animal"] == pytest.approx(1 / 4)
    np.testing.assert_allclose(np.diag(m.to_numpy()), 1.0)
    np.testing.assert_allclose(m.to_numpy(), m.to_numpy().T)


def test_cooccurrence_lift_by_hand(df):
    m = analysis.cooccurrence(df, top=3, measure="lift")
    # lift = both * N / (A * B) with N = 6 tagged images
    assert m.loc["pet", "cat"] == pytest.approx(2 * 6 / (4 * 3))
    assert m.loc["pet", "animal"] == pytest.approx(2 * 6 / (4 * 2))
    assert m.loc["cat", "animal"] == pytest.approx(1 * 6 / (3 * 2))


def test_cooccurrence_all_tags_and_bad_measure(df):
    assert analysis.cooccurrence(df, top=None).shape == (6, 6)
    with pytest.raises(ConfigurationError, match="measure"):
        analysis.cooccurrence(df, measure="pmi")  # type: ignore[arg-type]


@pytest.mark.parametrize("kwargs, expected", [
    ({"all_of": ["pet", "cat"]}, ["a", "c"]),
    ({"any_of": ["dog", "indoor"]}, ["b", "f"]),
    ({"none_of": "pet"}, ["d", "f"]),                      # failed rows e, g never match
    ({"all_of": "pet", "none_of": ["cat"]}, ["b", "h"]),
    ({"all_of": "pet", "any_of": ["animal", DOG_ZH]}, ["a", "b", "h"]),
    ({"all_of": ["unicorn"]}, []),
    ({}, list("abcdefgh")),                                 # no criterion: every row
])
def test_filter_tags_by_hand(df, kwargs, expected):
    out = analysis.filter_tags(df, **kwargs)
    assert out.index.tolist() == expected
    assert out.columns.tolist() == df.columns.tolist()


def test_filter_ignores_case_unless_asked(df):
    assert analysis.filter_tags(df, any_of=["Cat"]).index.tolist() == ["a", "c", "f"]
    assert analysis.filter_tags(df, all_of=" PET ", none_of="Dog").index.tolist() == ["a", "c", "h"]
    assert analysis.filter_tags(df, any_of=["Cat"], case=True).empty
    cased = pd.DataFrame({"tags": [["Eiffel Tower"], ["eiffel tower"]]})
    assert analysis.filter_tags(cased, any_of="eiffel tower").index.tolist() == [0, 1]
    assert analysis.filter_tags(cased, any_of="Eiffel Tower", case=True).index.tolist() == [0]
    # the mask says the same, and failed rows are never a match
    assert analysis.tag_mask(df, any_of="CAT").tolist() == \
        [True, False, True, False, False, True, False, False]
    assert analysis.tag_mask(df).all()


def test_onehot_default_prefix_cannot_meet_a_result_column(df):
    from imagetags_df import RESULT_COLUMNS

    assert not [c for c in RESULT_COLUMNS if c.startswith(analysis.ONEHOT_PREFIX)]
    # a frame as generate() returns it, with a tag named like the part after "tag_"
    out = df.assign(tag_scores=[[0.9] * len(t) if t else None for t in df["tags"]])
    out.loc["a", "tags"] = ["scores", "cat"]
    wide = analysis.onehot(out)
    one_hot = wide.filter(like=analysis.ONEHOT_PREFIX)
    assert "tag_scores" not in one_hot.columns and "tag:scores" in one_hot.columns
    assert all(str(d) == "bool" for d in one_hot.dtypes)
    assert wide["tag_scores"].equals(out["tag_scores"])


def test_filter_returns_a_copy(df):
    out = analysis.filter_tags(df, all_of="pet")
    out.loc["a", "path"] = "changed"
    assert df.loc["a", "path"] == "a.jpg"


def test_onehot_columns_and_values(df):
    wide = analysis.onehot(df, min_count=2)
    assert wide.columns.tolist() == [*df.columns, "tag:pet", "tag:cat", "tag:animal"]
    assert wide["tag:pet"].tolist() == [True, True, True, False, False, False, False, True]
    assert wide["tag:cat"].dtype == bool
    assert wide.index.equals(df.index)
    assert wide[df.columns.tolist()].equals(df)  # the original columns are untouched


def test_onehot_round_trip(df):
    wide = analysis.onehot(df)
    back = analysis.from_onehot(wide.drop(columns=["tags"]))
    expected = [sorted(t or []) for t in analysis.tag_lists(df)]
    assert [sorted(t) for t in back["tags"]] == expected
    assert back.drop(columns=["tags"]).equals(df.drop(columns=["tags"]))


def test_onehot_sparse_round_trip(df):
    wide = analysis.onehot(df, sparse=True)
    assert isinstance(wide["tag:pet"].dtype, pd.SparseDtype)
    back = analysis.from_onehot(wide.drop(columns=["tags"]))
    assert [sorted(t) for t in back["tags"]] == [sorted(t or []) for t in analysis.tag_lists(df)]


def test_onehot_goes_sparse_by_itself_with_many_tags():
    n_tags = analysis.SPARSE_AUTO_MIN_TAGS + 50
    many = pd.DataFrame({"tags": [[f"t{i}", f"t{(i + 1) % n_tags}"] for i in range(n_tags)]})
    wide = analysis.onehot(many)
    assert sum(c.startswith("tag:") for c in wide.columns) == n_tags
    assert isinstance(wide["tag:t0"].dtype, pd.SparseDtype)
    assert wide["tag:t0"].sum() == 2
    assert not isinstance(analysis.onehot(many.head(3))["tag:t0"].dtype, pd.SparseDtype)


def test_onehot_refuses_to_overwrite_columns(df):
    clash = df.assign(**{"tag:pet": 1})
    with pytest.raises(ConfigurationError, match="prefix"):
        analysis.onehot(clash)
    assert "pet_flag" not in analysis.onehot(clash, prefix="has_").columns
    assert "has_pet" in analysis.onehot(clash, prefix="has_").columns


def test_missing_tags_column_says_what_to_do():
    with pytest.raises(ConfigurationError, match="generate"):
        analysis.tag_counts(pd.DataFrame({"path": ["a.jpg"]}))


def test_parquet_style_cells_and_nan():
    # Parquet gives numpy arrays back; a CSV round trip can give NaN for failed rows.
    frame = pd.DataFrame({"tags": [np.array(["cat", "pet"]), float("nan"), np.array([], dtype=object)]})
    assert analysis.tag_counts(frame).to_dict() == {"cat": 1, "pet": 1}
    assert analysis.failed_mask(frame).tolist() == [False, True, False]


def test_accessor_is_a_thin_adapter(df):
    assert df.imagetags.tag_counts().equals(analysis.tag_counts(df))
    assert df.imagetags.cooccurrence(top=3, measure="jaccard").equals(
        analysis.cooccurrence(df, top=3, measure="jaccard"))
    assert df.imagetags.filter(any_of="dog").index.tolist() == ["b"]
    assert df.imagetags.onehot(min_count=3).columns.tolist()[-2:] == ["tag:pet", "tag:cat"]


# --- charts -----------------------------------------------------------------------


def _draw_and_collect_warnings(ax) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ax.figure.canvas.draw()
    return [str(w.message) for w in caught]


def test_plot_tags_bars_follow_counts(df):
    ax = df.imagetags.plot_tags(top=3)
    try:
        labels = [t.get_text() for t in ax.get_yticklabels()]
        assert labels == ["animal", "cat", "pet"]  # most common at the top of the chart
        assert [p.get_width() for p in ax.patches] == [2, 3, 4]
        assert "6 tagged images (2 failed)" in ax.get_title()
    finally:
        plt.close(ax.figure)


def test_plot_cooccurrence_matches_matrix(df):
    ax = analysis.plot_cooccurrence(df, top=3, measure="jaccard")
    try:
        data = ax.images[0].get_array()
        np.testing.assert_allclose(data, analysis.cooccurrence(df, top=3, measure="jaccard").to_numpy())
        assert [t.get_text() for t in ax.get_xticklabels()] == ["pet", "cat", "animal"]
        assert len(ax.texts) == 9  # annotated: few tags
    finally:
        plt.close(ax.figure)


def test_plots_on_given_axes_and_empty_frames():
    fig, (a1, a2) = plt.subplots(1, 2)
    try:
        empty = pd.DataFrame({"tags": [None, []], "error": ["boom", None]})
        assert analysis.plot_tags(empty, ax=a1) is a1
        assert analysis.plot_cooccurrence(empty, ax=a2) is a2
        fig.canvas.draw()
    finally:
        plt.close(fig)


def test_cjk_tags_render_with_a_cjk_font(df):
    """Needs a CJK font: CI installs Debian's fonts-noto-cjk."""
    font = analysis.find_cjk_font()
    assert font is not None, "no CJK font found: apt-get install fonts-noto-cjk"
    for ax in (analysis.plot_tags(df), analysis.plot_cooccurrence(df, top=6)):
        try:
            missing = [m for m in _draw_and_collect_warnings(ax) if "missing from font" in m]
            assert missing == []
            label = next(t for t in ax.get_yticklabels() if t.get_text() == DOG_ZH)
            assert font in label.get_fontfamily()
        finally:
            plt.close(ax.figure)


def test_cjk_without_font_warns_with_the_fix(df, monkeypatch):
    monkeypatch.setattr(analysis, "find_cjk_font", lambda: None)
    with pytest.warns(UserWarning, match="apt-get install fonts-noto-cjk"):
        ax = analysis.plot_tags(df)
    plt.close(ax.figure)
    # Latin-only tags need no CJK font and must not warn.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ax = analysis.plot_tags(df.drop(index="h"))
    plt.close(ax.figure)


def test_lift_diagonal_is_blank_in_the_matrix_and_the_heat_map(df):
    m = analysis.cooccurrence(df, top=3, measure="lift")
    assert np.isnan(np.diag(m.to_numpy())).all()
    assert np.isfinite(m.to_numpy()[~np.eye(3, dtype=bool)]).all()
    ax = analysis.plot_cooccurrence(df, top=3, measure="lift")
    try:
        assert len(ax.texts) == 6  # the three diagonal cells carry no number
    finally:
        plt.close(ax.figure)


def test_count_charts_tick_whole_numbers_only():
    few = pd.DataFrame({"tags": [["cat", "pet"], ["cat"], ["dog", "pet"]]})
    ax = analysis.plot_tags(few)
    try:
        ax.figure.canvas.draw()
        ticks = ax.get_xticks()
        assert len(ticks) >= 2 and all(float(t).is_integer() for t in ticks), ticks
    finally:
        plt.close(ax.figure)
    ax = analysis.plot_cooccurrence(few, measure="count")
    try:
        ax.figure.canvas.draw()
        bar = ax.images[0].colorbar
        assert all(float(t).is_integer() for t in bar.get_ticks()), bar.get_ticks()
    finally:
        plt.close(ax.figure)
