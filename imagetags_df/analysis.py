"""Looking at the tags: one-hot columns, frequencies, co-occurrence, filters and charts.

Every function takes the DataFrame that :func:`imagetags_df.generate` returned and works
without the accessor (``df.imagetags.tag_counts()`` is a one-line call into
:func:`tag_counts`). None of them change the frame they are given.

Two kinds of rows have no tags, and they are treated differently on purpose:

* a **failed** row (``tags`` is None/NaN, or ``error`` / ``error_code`` is set): its tags are
  *unknown*. It never matches a tag filter and is left out of every denominator
  (``normalize=True``, Jaccard, lift), so a batch of unreadable files does not make every
  tag look rarer than it is;
* a row tagged with an **empty list** and no error: the image was looked at and nothing was
  found. It counts as an image in the denominators.

matplotlib is imported only by the two ``plot_*`` functions.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from ._exceptions import ConfigurationError

if TYPE_CHECKING:  # matplotlib is an optional extra; never import it at module load
    from matplotlib.axes import Axes

__all__ = [
    "score_map",
    "onehot",
    "from_onehot",
    "tag_counts",
    "cooccurrence",
    "filter_tags",
    "tag_mask",
    "ONEHOT_PREFIX",
    "plot_tags",
    "plot_cooccurrence",
    "tag_lists",
    "failed_mask",
]

Measure = Literal["count", "jaccard", "lift"]
_MEASURES = ("count", "jaccard", "lift")

#: Default name prefix of the one-hot columns. A colon never appears in a result column
#: (``tags``, ``tag_scores``, ...), so ``wide.filter(like="tag:")`` finds exactly the
#: one-hot columns and no tag can produce the name of an existing result column.
ONEHOT_PREFIX = "tag:"

#: ``onehot(sparse=None)`` switches to sparse columns above this many tags: past a few
#: hundred columns a dense bool block of a 100k-row frame starts to cost real memory,
#: while most cells are False.
SPARSE_AUTO_MIN_TAGS = 200

#: Font families that cover Chinese, Japanese and Korean, best first. The Debian packages
#: ``fonts-noto-cjk`` and ``fonts-wqy-zenhei`` provide the first and the WenQuanYi ones;
#: the rest are what macOS and Windows ship.
CJK_FONT_FAMILIES: tuple[str, ...] = (
    "Noto Sans CJK JP", "Noto Sans CJK SC", "Noto Sans CJK TC", "Noto Sans CJK KR",
    "Noto Serif CJK JP", "Noto Sans SC", "Noto Sans JP", "Source Han Sans",
    "Source Han Sans SC", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "Droid Sans Fallback",
    "PingFang SC", "Hiragino Sans", "Hiragino Sans GB", "Heiti SC", "Apple SD Gothic Neo",
    "Microsoft YaHei", "SimHei", "Yu Gothic", "Meiryo", "Malgun Gothic",
)
#: File-name fragments of the same fonts, for fonts installed after matplotlib built its
#: font cache (it does not rescan the system by itself).
_CJK_FONT_FILE_HINTS = ("notosanscjk", "notoserifcjk", "sourcehansans", "wqy-zenhei",
                        "wqy-microhei", "droidsansfallback", "msyh", "simhei", "pingfang")
CJK_INSTALL_HINT = (
    "Install a CJK font and restart the kernel: `apt-get install fonts-noto-cjk` "
    "(Debian/Ubuntu), `dnf install google-noto-sans-cjk-fonts` (Fedora), or "
    "`conda install -c conda-forge font-ttf-noto-cjk`."
)
_CJK_RE = re.compile("[\u1100-\u11ff\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")


# --- reading the tags column ---------------------------------------------------


def _require_col(df: pd.DataFrame, col: str) -> pd.Series:
    if col not in df.columns:
        raise ConfigurationError(
            f"column {col!r} not found (columns: {list(df.columns)[:12]}); run "
            f"df.imagetags.generate() first, or pass col= to name the column that holds "
            f"the tag lists")
    return df[col]


def _as_list(value: Any) -> list[str] | None:
    """One cell of the tags column as a list of unique tags, or None when unknown.

    Cells may be lists, tuples, numpy arrays (a frame read back from Parquet) or sets;
    None, NaN and pd.NA mean the row was never tagged.
    """
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, str):
        # A single tag where a list was expected (e.g. a hand-edited CSV): one tag, not
        # a list of characters.
        value = [value] if value else []
    if isinstance(value, (list, tuple, set, frozenset, np.ndarray, pd.Series)):
        # dict.fromkeys keeps the first occurrence's order and drops repeats, so a tag
        # listed twice by a backend is counted once for its image.
        return list(dict.fromkeys(str(t) for t in value if not _is_blank(t)))
    raise ConfigurationError(f"tags cell {value!r} is not a list of tags")


def _is_blank(tag: Any) -> bool:
    return tag is None or (isinstance(tag, float) and math.isnan(tag)) or not str(tag)


def score_map(scores: Any, tags: Any = None) -> dict[str, float] | None:
    """A ``tag_scores`` (or ``learned_scores``) cell as its one shape: a dict tag -> score
    in tag order; None when the backend reports no score.

    Also reads what files give back: a JSON object (CSV), a list of ``(tag, score)``
    pairs (Parquet's map type), and the list parallel to ``tags`` that older results hold.

    >>> score_map({"cat": 0.9, "pet": 0.7})
    {'cat': 0.9, 'pet': 0.7}
    >>> score_map([0.9, 0.7], ["cat", "pet"]), score_map('{"cat": 0.9}'), score_map(None)
    ({'cat': 0.9, 'pet': 0.7}, {'cat': 0.9}, None)
    """
    if isinstance(scores, str):
        try:
            scores = json.loads(scores)
        except ValueError:
            return None
    if scores is None or (isinstance(scores, float) and math.isnan(scores)):
        return None
    if hasattr(scores, "tolist") and not isinstance(scores, dict):
        scores = scores.tolist()  # numpy arrays from Parquet
    try:
        if isinstance(scores, dict):
            return {str(t): float(s) for t, s in scores.items()}
        items = list(scores)
        if items and all(isinstance(i, (tuple, list)) and len(i) == 2 and isinstance(i[0], str) for i in items):
            return {str(t): float(s) for t, s in items}
        if tags is None or isinstance(tags, float) or len(items) != len(tags):
            return None
        return {str(t): float(s) for t, s in zip(tags, items)}
    except (TypeError, ValueError):
        return None


def tag_lists(df: pd.DataFrame, col: str = "tags") -> list[list[str] | None]:
    """Each row's tags as a de-duplicated list; None where the row failed.

    >>> tag_lists(pd.DataFrame({"tags": [["cat", "cat", "pet"], [], None]}))
    [['cat', 'pet'], [], None]
    """
    failed = failed_mask(df, col=col).to_numpy()
    out: list[list[str] | None] = []
    for value, bad in zip(_require_col(df, col).tolist(), failed):
        out.append(None if bad else (_as_list(value) or []))
    return out


def failed_mask(df: pd.DataFrame, col: str = "tags") -> pd.Series:
    """True for rows whose tags are unknown: no tags list, or an error recorded.

    >>> failed_mask(pd.DataFrame({"tags": [["cat"], None], "error": [None, "missing"]})).tolist()
    [False, True]
    """
    tags = _require_col(df, col)
    mask = np.fromiter((_as_list(v) is None for v in tags.tolist()), dtype=bool, count=len(tags))
    for err_col in ("error", "error_code"):
        if err_col in df.columns:
            mask |= df[err_col].notna().to_numpy(dtype=bool)
    return pd.Series(mask, index=df.index, name="failed")


def _counter(lists: Iterable[list[str] | None]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for tags in lists:
        if tags:
            counts.update(tags)
    return counts


def _ranked(counts: Counter[str]) -> list[str]:
    # Most common first; ties broken by the tag itself so results never depend on row order.
    return sorted(counts, key=lambda t: (-counts[t], t))


def _tags_arg(tags: str | Iterable[str] | None) -> list[str]:
    if tags is None:
        return []
    if isinstance(tags, str):
        return [tags]
    return [str(t) for t in tags]


# --- counts, one-hot, co-occurrence, filters -----------------------------------------


def tag_counts(df: pd.DataFrame, normalize: bool = False, col: str = "tags") -> pd.Series:
    """How many images carry each tag, most common first.

    A tag repeated within one row counts once. With ``normalize=True`` the values are the
    share of successfully tagged images that carry the tag (failed rows are not in the
    denominator; rows tagged with an empty list are).

    >>> df = pd.DataFrame({"tags": [["cat", "pet"], ["cat"], [], None]})
    >>> tag_counts(df).to_dict()
    {'cat': 2, 'pet': 1}
    >>> tag_counts(df, normalize=True).round(3).to_dict()
    {'cat': 0.667, 'pet': 0.333}
    """
    lists = tag_lists(df, col=col)
    counts = _counter(lists)
    order = _ranked(counts)
    out = pd.Series([counts[t] for t in order], index=pd.Index(order, name="tag", dtype=object),
                    name="count", dtype="int64")
    if normalize:
        tagged = sum(1 for tags in lists if tags is not None)
        out = (out / tagged) if tagged else out.astype("float64")
        out.name = "proportion"
    return out


def onehot(
    df: pd.DataFrame,
    min_count: int = 1,
    prefix: str = ONEHOT_PREFIX,
    sparse: bool | None = None,
    col: str = "tags",
) -> pd.DataFrame:
    """The frame with one boolean column per tag (``prefix + tag``) joined on the right.

    Only tags carried by at least ``min_count`` images get a column; columns are ordered
    most common first. Failed rows and rows without tags are all False (check ``error`` to
    tell them apart). ``sparse=None`` picks sparse columns (``pd.SparseDtype(bool)``) when
    there are more than :data:`SPARSE_AUTO_MIN_TAGS` tags, dense ``bool`` otherwise.
    :func:`from_onehot` turns the columns back into lists.

    >>> df = pd.DataFrame({"path": ["a.jpg", "b.jpg"], "tags": [["cat", "pet"], ["dog", "pet"]]})
    >>> onehot(df, min_count=2).columns.tolist()
    ['path', 'tags', 'tag:pet']
    """
    if min_count < 1:
        raise ConfigurationError(f"min_count must be at least 1, got {min_count}")
    lists = tag_lists(df, col=col)
    counts = _counter(lists)
    kept = [t for t in _ranked(counts) if counts[t] >= min_count]
    names = [prefix + t for t in kept]
    clash = sorted(set(names) & set(map(str, df.columns)))
    if clash:
        raise ConfigurationError(
            f"one-hot columns would overwrite existing columns {clash[:5]}: pass another prefix=")
    if sparse is None:
        sparse = len(kept) > SPARSE_AUTO_MIN_TAGS

    # Row positions per tag, gathered in one pass; each column is then built from its
    # positions, so the work is proportional to the number of (row, tag) pairs plus one
    # allocation per column, never rows x tags Python operations.
    position = {t: i for i, t in enumerate(kept)}
    rows_of: list[list[int]] = [[] for _ in kept]
    for r, tags in enumerate(lists):
        for t in tags or ():
            i = position.get(t)
            if i is not None:
                rows_of[i].append(r)

    n = len(df)
    columns: dict[str, Any] = {}
    for name, rows in zip(names, rows_of):
        dense = np.zeros(n, dtype=bool)
        dense[rows] = True
        columns[name] = pd.arrays.SparseArray(dense, fill_value=False) if sparse else dense
    block = pd.DataFrame(columns, index=df.index)
    if not kept:
        return df.copy()
    return pd.concat([df, block], axis=1)


def from_onehot(df: pd.DataFrame, prefix: str = ONEHOT_PREFIX, col: str = "tags") -> pd.DataFrame:
    """Collapse ``prefix*`` boolean columns back into a ``col`` column of tag lists.

    The one-hot columns are dropped; each row's list follows column order.

    >>> wide = pd.DataFrame({"path": ["a", "b"], "tag:cat": [True, False], "tag:pet": [True, True]})
    >>> from_onehot(wide)["tags"].tolist()
    [['cat', 'pet'], ['pet']]
    """
    cols = [c for c in df.columns if isinstance(c, str) and c.startswith(prefix)]
    tags = [c[len(prefix):] for c in cols]
    out = df.drop(columns=cols)
    if cols:
        matrix = np.column_stack([np.asarray(df[c].to_numpy(dtype=bool)) for c in cols])
        out[col] = [[tags[j] for j in np.flatnonzero(row)] for row in matrix]
    else:
        out[col] = [[] for _ in range(len(df))]
    return out


def _presence(lists: Sequence[list[str] | None], tags: Sequence[str]) -> np.ndarray:
    """rows x tags 0/1 matrix (int64, so X.T @ X cannot overflow)."""
    position = {t: i for i, t in enumerate(tags)}
    x = np.zeros((len(lists), len(tags)), dtype=np.int64)
    for r, row in enumerate(lists):
        for t in row or ():
            i = position.get(t)
            if i is not None:
                x[r, i] = 1
    return x


def cooccurrence(
    df: pd.DataFrame,
    top: int | None = 30,
    measure: Measure = "count",
    col: str = "tags",
) -> pd.DataFrame:
    """A square, symmetric frame of how the ``top`` most common tags go together.

    ``measure``:

    * ``"count"``: images carrying both tags; the diagonal is each tag's own count;
    * ``"jaccard"``: both / either (``|A∩B| / |A∪B|``), 1 on the diagonal;
    * ``"lift"``: ``P(A and B) / (P(A) P(B))`` over successfully tagged images: 1 means
      independent, above 1 they go together more than chance. The diagonal is NaN: a
      tag's lift with itself (``1 / P(A)``) says nothing about tags going together.

    ``top=None`` keeps every tag. Rows and columns follow :func:`tag_counts` order.

    >>> df = pd.DataFrame({"tags": [["cat", "pet"], ["cat"], ["dog", "pet"]]})
    >>> cooccurrence(df).loc["cat", "pet"]
    np.int64(1)
    """
    if measure not in _MEASURES:
        raise ConfigurationError(f"measure must be one of {_MEASURES}, got {measure!r}")
    lists = tag_lists(df, col=col)
    counts = _counter(lists)
    tags = _ranked(counts)[: top if top is not None else None]
    x = _presence(lists, tags)
    both = x.T @ x
    index = pd.Index(tags, name="tag", dtype=object)
    if measure == "count":
        return pd.DataFrame(both, index=index, columns=index.rename(None))
    single = np.diag(both).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure == "jaccard":
            values = both / (single[:, None] + single[None, :] - both)
        else:
            tagged = sum(1 for t in lists if t is not None)
            values = both * tagged / (single[:, None] * single[None, :])
            np.fill_diagonal(values, np.nan)
    return pd.DataFrame(values, index=index, columns=index.rename(None))


def tag_mask(
    df: pd.DataFrame,
    all_of: str | Iterable[str] | None = None,
    any_of: str | Iterable[str] | None = None,
    none_of: str | Iterable[str] | None = None,
    col: str = "tags",
    case: bool = False,
) -> pd.Series:
    """True for rows whose tags include every tag of ``all_of``, at least one of ``any_of``
    and none of ``none_of`` (each a tag or a list of tags).

    Tags match whole, ignoring case unless ``case=True`` (``"Cat"`` finds ``"cat"``; a
    backend's capitalisation is not something to guess). Failed rows have unknown tags, so
    they are False whenever a criterion is given (``none_of=["cat"]`` cannot promise there
    is no cat in an image nobody looked at). With no criterion every row is True.

    >>> df = pd.DataFrame({"tags": [["cat", "pet"], ["dog", "pet"], [], None]})
    >>> tag_mask(df, any_of=["Cat", "DOG"]).tolist()
    [True, True, False, False]
    >>> tag_mask(df, any_of="Cat", case=True).tolist()
    [False, False, False, False]
    """
    fold = (lambda t: t) if case else str.casefold
    need_all, need_any, need_none = ({fold(t.strip()) for t in _tags_arg(arg)}
                                     for arg in (all_of, any_of, none_of))
    if not (need_all or need_any or need_none):
        return pd.Series(True, index=df.index, name="match")
    keep = np.zeros(len(df), dtype=bool)
    for r, tags in enumerate(tag_lists(df, col=col)):
        if tags is None:
            continue
        have = {fold(t) for t in tags}
        keep[r] = (need_all <= have and (not need_any or bool(need_any & have))
                   and not (need_none & have))
    return pd.Series(keep, index=df.index, name="match")


def filter_tags(
    df: pd.DataFrame,
    all_of: str | Iterable[str] | None = None,
    any_of: str | Iterable[str] | None = None,
    none_of: str | Iterable[str] | None = None,
    col: str = "tags",
    case: bool = False,
) -> pd.DataFrame:
    """Rows whose tags include every tag of ``all_of``, at least one of ``any_of`` and
    none of ``none_of`` (each a tag or a list of tags), as a copy.

    Matching follows :func:`tag_mask`: whole tags, case-insensitive unless ``case=True``,
    failed rows dropped whenever a criterion is given. With no criterion the frame comes
    back whole.

    >>> df = pd.DataFrame({"tags": [["cat", "pet"], ["dog", "pet"], [], None]})
    >>> filter_tags(df, all_of="pet", none_of=["dog"]).index.tolist()
    [0]
    >>> filter_tags(df, any_of=["Cat"]).index.tolist()
    [0]
    """
    mask = tag_mask(df, all_of=all_of, any_of=any_of, none_of=none_of, col=col, case=case)
    return df.loc[mask.to_numpy()].copy()


# --- charts -----------------------------------------------------------------------


def _has_cjk(labels: Iterable[str]) -> bool:
    return any(_CJK_RE.search(str(s)) for s in labels)


@lru_cache(maxsize=1)
def find_cjk_font() -> str | None:
    """The family name of an installed font that renders CJK text, or None.

    Looks in matplotlib's font list first, then on disk for fonts installed after
    matplotlib built its cache (registering them so they can be used at once).
    """
    from matplotlib import font_manager

    known = {f.name for f in font_manager.fontManager.ttflist}
    for family in CJK_FONT_FAMILIES:
        if family in known:
            return family
    try:
        paths = font_manager.findSystemFonts()
    except Exception:  # an odd font directory must not break a chart
        paths = []
    for path in sorted(paths):
        if any(h in path.lower().replace("_", "").replace(" ", "") for h in _CJK_FONT_FILE_HINTS):
            try:
                font_manager.fontManager.addfont(path)
                name = font_manager.FontProperties(fname=path).get_name()
            except Exception:
                continue
            if name:
                return name
    return None


def _label_fonts(labels: Iterable[str]) -> list[str] | None:
    """Font families for tick labels: the default plus a CJK fallback when needed.

    matplotlib (>= 3.6) falls back glyph by glyph along a family list, so Latin tags keep
    the default look and CJK tags get the CJK font. Warns, with the fix, when no CJK font
    is installed.
    """
    if not _has_cjk(labels):
        return None
    font = find_cjk_font()
    if font is None:
        warnings.warn("Some tags are Chinese, Japanese or Korean but no font that renders "
                      "them was found, so they will show as empty boxes. " + CJK_INSTALL_HINT,
                      UserWarning, stacklevel=3)
        return None
    mpl = _matplotlib()

    return [*mpl.rcParams["font.sans-serif"][:1], font]


def _matplotlib() -> Any:
    try:
        import matplotlib
    except ImportError as exc:
        from ._install import pip_install

        raise ConfigurationError(f"charts need matplotlib: {pip_install('widgets')}") from exc
    return matplotlib


def _pyplot() -> Any:
    _matplotlib()
    import matplotlib.pyplot as plt

    return plt


def _whole_numbers() -> Any:
    """A tick locator that puts ticks on whole numbers only, for axes that count images."""
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(integer=True)


def plot_tags(
    df: pd.DataFrame,
    top: int = 20,
    ax: Axes | None = None,
    normalize: bool = False,
    color: str | None = None,
    title: str | None = None,
    col: str = "tags",
) -> Axes:
    """Horizontal bar chart of the ``top`` most common tags, most common at the top.

    >>> ax = plot_tags(pd.DataFrame({"tags": [["cat", "pet"], ["cat"]]}))
    >>> [label.get_text() for label in ax.get_yticklabels()], ax.get_title()
    (['pet', 'cat'], 'Top 2 tags of 2 tagged images')
    """
    plt = _pyplot()

    counts = tag_counts(df, normalize=normalize, col=col).head(top)
    if ax is None:
        _, ax = plt.subplots(figsize=(7, max(2.0, 0.32 * len(counts) + 1)), layout="constrained")
    labels = [str(t) for t in counts.index[::-1]]
    positions = np.arange(len(labels))
    ax.barh(positions, counts.to_numpy()[::-1], color=color or "#4C72B0")
    fonts = _label_fonts(labels)
    ax.set_yticks(positions, labels=labels)
    if fonts:
        for label in ax.get_yticklabels():
            label.set_fontfamily(fonts)
    ax.set_xlabel("share of tagged images" if normalize else "images")
    if not normalize:
        ax.xaxis.set_major_locator(_whole_numbers())  # counts: no "2.5 images" tick
    n_failed = int(failed_mask(df, col=col).sum())
    default_title = f"Top {len(counts)} tags of {len(df) - n_failed} tagged images"
    if n_failed:
        default_title += f" ({n_failed} failed)"
    ax.set_title(title if title is not None else default_title)
    if not len(counts):
        ax.text(0.5, 0.5, "no tags", ha="center", va="center", transform=ax.transAxes)
    return ax


def plot_cooccurrence(
    df: pd.DataFrame,
    top: int = 20,
    measure: Measure = "count",
    ax: Axes | None = None,
    cmap: str = "viridis",
    annotate: bool | None = None,
    col: str = "tags",
) -> Axes:
    """Heat map of :func:`cooccurrence` for the ``top`` most common tags.

    ``annotate=None`` writes the values in the cells when there are at most 12 tags.

    >>> ax = plot_cooccurrence(pd.DataFrame({"tags": [["cat", "pet"], ["cat"]]}))
    >>> ax.images[0].get_array().tolist()
    [[2.0, 1.0], [1.0, 1.0]]
    """
    plt = _pyplot()

    matrix = cooccurrence(df, top=top, measure=measure, col=col)
    k = len(matrix)
    if ax is None:
        side = max(3.5, 0.38 * k + 2.5)
        _, ax = plt.subplots(figsize=(side + 1.2, side), layout="constrained")
    if not k:  # nothing to draw; imshow of a 0x0 array only produces warnings
        ax.text(0.5, 0.5, "no tags", ha="center", va="center", transform=ax.transAxes)
        ax.set_title(f"Tag co-occurrence ({measure})")
        return ax
    values = matrix.to_numpy(dtype=float)
    image = ax.imshow(values, cmap=cmap, interpolation="nearest")
    labels = [str(t) for t in matrix.index]
    fonts = _label_fonts(labels)
    ax.set_xticks(np.arange(k), labels=labels, rotation=60, ha="right", rotation_mode="anchor")
    ax.set_yticks(np.arange(k), labels=labels)
    if fonts:
        for label in [*ax.get_xticklabels(), *ax.get_yticklabels()]:
            label.set_fontfamily(fonts)
    bar = ax.figure.colorbar(image, ax=ax, shrink=0.8, label=measure)
    if measure == "count":
        bar.locator = _whole_numbers()
        bar.update_ticks()
    ax.set_title(f"Tag co-occurrence ({measure}, top {k})")
    if annotate if annotate is not None else k <= 12:
        finite = values[np.isfinite(values)]
        middle = (finite.max() + finite.min()) / 2 if finite.size else 0.0
        for i in range(k):
            for j in range(k):
                v = values[i, j]
                if not np.isfinite(v):
                    continue  # the blank diagonal of lift
                text = f"{v:.0f}" if measure == "count" else f"{v:.2f}"
                ax.text(j, i, text, ha="center", va="center", fontsize=8,
                        color="black" if np.isfinite(v) and v > middle else "white")
    return ax
