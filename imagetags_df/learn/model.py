"""The label model: a person's own labels learned from a few examples, right or silent.

Each label gets its own small linear model (logistic regression, one label against the rest)
on the images' embeddings, after a square root and L2 normalisation (the pooled features are
averages of non-negative activations; the root evens out a few dominant channels). Which
examples count:

* a row labelled ``"beach"`` (or ``["beach", "dog"]``) is a positive for each of its labels and
  a negative for every other label (a labelled row says what it shows, all of it);
* a rejected label (the review widget's reject, a ``rejected`` column) is a negative for that
  label only, also on rows that carry no label;
* rows with neither (NaN, None, ``[]``) are unlabelled: :meth:`LabelModel.predict` and
  :meth:`LabelModel.suggest` are for them.

Right or silent: every label's threshold comes from cross-validation. Out-of-fold scores of
the labelled rows (folds repeated with several shuffles) say, for each threshold, how precise
the label would have been on images the model did not see; the threshold is the lowest one
at which that precision still reaches ``min_precision``. A label that never reaches it, or
has too few examples to tell, gets no threshold: it still has scores, but is never emitted,
and :meth:`LabelModel.report` says why.

When every labelled row has exactly one label, the labels are taken as kinds that exclude each
other (a photo is a beach *or* a city): at most one is emitted per image, its most likely, and
only over its own threshold. With several labels on some rows, every label over its threshold
is emitted.

Saved as a folder: ``model.json`` (labels, thresholds, report, the embedding identity) and
plain ``.npy`` arrays read with ``allow_pickle=False``; nothing is unpickled.
"""

from __future__ import annotations

import json
import logging
import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._exceptions import ConfigurationError
from .embeddings import DIM, embed_values, embedding_identity
from .embeddings import _frame_column as frame_column
from .embeddings import _settings as embed_settings

log = logging.getLogger(__name__)

#: Positive examples a label needs before a threshold is trusted (fewer: it emits nothing).
MIN_POSITIVES = 3
#: Negative examples a label needs (images that are not it) for the same reason.
MIN_NEGATIVES = 3
#: Inverse regularisation of each label's logistic regression (measured: bench/learn.py).
C_REG = 10.0
#: Cross-validation: folds, and how many times they are reshuffled (pooled out-of-fold scores
#: make a threshold chosen on 5 examples per class steadier).
FOLDS = 5
REPEATS = 3
#: From this many labelled rows on, one pass of the folds gives enough out-of-fold scores.
MANY_ROWS = 200
#: Directions the fits run in (see fit_label_model).
RANK = 128
#: Format of a saved model folder.
FORMAT = "imagetags_df.LabelModel"
FORMAT_VERSION = 1

__all__ = ["LabelModel", "learn", "fit_label_model", "label_sets", "MIN_POSITIVES", "MIN_NEGATIVES"]


def _sklearn() -> Any:
    # Imported on first use: scikit-learn (and scipy under it) take a second to import, which
    # `import imagetags_df` should not pay.
    try:
        from sklearn.linear_model import LogisticRegression
    except ImportError:  # pragma: no cover - a core dependency; only a broken install lands here
        raise ConfigurationError('learning labels needs scikit-learn: pip install "scikit-learn>=1.3"') from None
    return LogisticRegression


def normalise(x: np.ndarray) -> np.ndarray:
    """The features the models see: square root, then unit length (float32)."""
    # In place on one copy: on 50,000 rows at a time these passes over memory are most of
    # predict's cost.
    x = np.array(x, dtype=np.float32, copy=True, ndmin=2)
    np.maximum(x, 0.0, out=x)
    np.sqrt(x, out=x)
    norm = np.sqrt(np.einsum("ij,ij->i", x, x))
    x /= np.where(norm > 0, norm, 1.0)[:, None]
    return x


def label_sets(values: Sequence[Any]) -> list[list[str]]:
    """Each cell as a list of labels: a string is one label, a list several, NaN/None/``[]``/``""``
    none.

    >>> label_sets(["beach", ["city", "night"], None, float("nan"), [], " "])
    [['beach'], ['city', 'night'], [], [], [], []]
    """
    out: list[list[str]] = []
    for v in values:
        if isinstance(v, str):
            items: list[Any] = [v]
        elif isinstance(v, (list, tuple, set, frozenset, np.ndarray, pd.Series)):
            items = list(v)
        elif v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
            items = []
        else:
            raise ConfigurationError(f"a label must be a string or a list of strings, not {type(v).__name__} "
                                     f"({v!r})")
        labels: list[str] = []
        for item in items:
            if not isinstance(item, str):
                raise ConfigurationError(f"a label must be a string, not {type(item).__name__} ({item!r})")
            text = " ".join(item.split())
            if text and text not in labels:
                labels.append(text)
        out.append(labels)
    return out


@dataclass
class _Fit:
    weights: np.ndarray  # (L, D) float32
    bias: np.ndarray  # (L,) float32


def _fit(x: np.ndarray, targets: np.ndarray) -> _Fit:
    """One logistic regression per label; ``targets`` (n, L) holds 1, 0 or -1 (not an example).
    A label with only one kind of example gets a constant score (weights 0)."""
    regression = _sklearn()
    n_labels = targets.shape[1]
    weights = np.zeros((n_labels, x.shape[1]), dtype=np.float32)
    bias = np.zeros(n_labels, dtype=np.float32)
    for j in range(n_labels):
        rows = targets[:, j] >= 0
        y = targets[rows, j]
        if y.size == 0:
            bias[j] = -10.0
            continue
        if y.min() == y.max():
            bias[j] = 10.0 if y[0] == 1 else -10.0
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = regression(C=C_REG, class_weight="balanced", solver="liblinear",
                               dual=bool(rows.sum() < x.shape[1]), max_iter=1000).fit(x[rows], y)
        weights[j] = model.coef_[0]
        bias[j] = model.intercept_[0]
    return _Fit(weights, bias)


def _scores(x: np.ndarray, fit: _Fit) -> np.ndarray:
    z = x @ fit.weights.T + fit.bias
    return (1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))).astype(np.float32)


def _out_of_fold(x: np.ndarray, targets: np.ndarray, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """(rows, scores) for each repeat: every labelled row scored by a model that never saw it."""
    n = len(x)
    folds = max(2, min(FOLDS, n))
    out = []
    rng = np.random.default_rng(seed)
    # Stratify on each row's first positive label (or "none"), so small labels spread over folds.
    first = np.array([int(np.argmax(t == 1)) if (t == 1).any() else -1 for t in targets])
    for _ in range(REPEATS if n < MANY_ROWS else 1):
        assign = np.empty(n, dtype=int)
        for key in np.unique(first):
            idx = np.nonzero(first == key)[0]
            idx = idx[rng.permutation(len(idx))]
            start = int(rng.integers(folds))
            assign[idx] = (np.arange(len(idx)) + start) % folds
        scores = np.full(targets.shape, np.nan, dtype=np.float32)
        for f in range(folds):
            test = assign == f
            if not test.any() or test.all():
                continue
            scores[test] = _scores(x[test], _fit(x[~test], targets[~test]))
        out.append((np.arange(n), scores))
    return out


def choose_threshold(scores: np.ndarray, truth: np.ndarray, min_precision: float
                     ) -> tuple[float | None, float, float]:
    """``(threshold, precision, recall)`` for one label from out-of-fold ``scores`` and ``truth``
    (1 positive, 0 negative).

    The cut keeps the most rows whose precision still reaches ``min_precision``, and always
    ends on a positive: a cut that ends on a negative sits at the top of the negatives, where
    new images of other kinds land just above it. The threshold is halfway (in log-odds)
    between the last row kept and the next score down, so it is not set on one example's exact
    score either. ``threshold`` is None when no cut reaches the precision (then precision and
    recall are those of the most precise cut).

    >>> choose_threshold(np.array([.9, .8, .7, .2]), np.array([1, 1, 0, 0]), 0.9)
    (0.7534, 1.0, 1.0)
    """
    order = np.argsort(-scores, kind="stable")
    s, t = scores[order].astype(np.float64), truth[order]
    tp = np.cumsum(t == 1)
    fp = np.cumsum(t == 0)
    positives = max(1, int((t == 1).sum()))
    # A cut can only fall between distinct scores: take the last row of each run of ties.
    last_of_tie = np.r_[s[1:] != s[:-1], True]
    precision = tp / np.maximum(1, tp + fp)
    cuts = np.nonzero(last_of_tie & (t == 1))[0]
    if cuts.size == 0:
        return None, 0.0, 0.0
    ok = cuts[precision[cuts] >= min_precision]
    if ok.size == 0:
        best = int(cuts[np.argmax(precision[cuts])])
        return None, float(precision[best]), float(tp[best] / positives)
    k = int(ok[-1])
    below = s[k + 1] if k + 1 < len(s) else s[k]
    return round(_halfway(s[k], below), 4), float(precision[k]), float(tp[k] / positives)


def _halfway(a: float, b: float) -> float:
    """The probability halfway between ``a`` and ``b`` in log-odds."""
    def logit(p: float) -> float:
        p = min(max(p, 1e-6), 1 - 1e-6)
        return math.log(p / (1 - p))

    return 1.0 / (1.0 + math.exp(-(logit(a) + logit(b)) / 2))


@dataclass
class LabelModel:
    """Labels learned from examples; build with :func:`learn` (``df.imagetags.learn``).

    ``predict`` adds ``learned`` (labels over their thresholds, most likely first) and
    ``learned_scores`` (label -> probability); ``report`` says how far each label can be trusted;
    ``suggest`` picks the rows to label next; ``save``/``load`` keep it as JSON and arrays.
    """

    labels: list[str]
    weights: np.ndarray
    bias: np.ndarray
    thresholds: list[float | None]
    rows: list[dict[str, Any]]
    identity: str
    min_precision: float
    label_column: str = "label"
    #: Every labelled row had one label: the labels are kinds that exclude each other, and at
    #: most one (the most likely, over its threshold) is emitted per image.
    exclusive: bool = False
    #: Where ``predict``/``suggest`` look for embeddings by default (not saved: a path of this machine).
    cache_dir: Any = field(default=None, repr=False, compare=False)

    # --- scoring -------------------------------------------------------------------------
    def scores(self, embeddings: np.ndarray) -> np.ndarray:
        """Probabilities (N, L) for raw embeddings (N, 1280)."""
        self._check_identity()
        return _scores(normalise(embeddings), _Fit(self.weights, self.bias))

    def _emitted(self, probs: np.ndarray) -> list[list[str]]:
        limits = np.array([np.inf if t is None else t for t in self.thresholds], dtype=np.float32)
        if self.exclusive:
            probs = _only_top(probs)
        out = []
        for row in probs:
            above = np.nonzero(row >= limits)[0]
            out.append([self.labels[j] for j in above[np.argsort(-row[above], kind="stable")]])
        return out

    def predict(self, df: pd.DataFrame, col: str = "path", cache_dir: str | os.PathLike | bool | None = None, *,
                progress: bool = False) -> pd.DataFrame:
        """The input plus ``learned`` (labels above their thresholds, most likely first) and
        ``learned_scores`` (a dict label -> probability for every label). Rows whose image
        failed get None in both and their ``error``. Embeddings come from the cache (computed
        where missing), a slice of rows at a time.

        >>> import pandas as pd
        >>> df = pd.DataFrame({"path": ["data/samples/coffee.jpg", "data/samples/chelsea_cat.jpg",
        ...                             "data/samples/rocket.jpg"], "label": ["drink", "animal", None]})
        >>> out = learn(df, progress=False).predict(df)
        >>> out.loc[2, "learned"], sorted(out.loc[2, "learned_scores"])   # 1 example each: silent
        ([], ['animal', 'drink'])
        """
        from .embeddings import ROWS_PER_STEP

        series = frame_column(df, col)
        settings = embed_settings(self.cache_dir if cache_dir is None else cache_dir, None)
        values, index = series.tolist(), list(df.index)
        learned: list[Any] = [None] * len(values)
        scores: list[Any] = [None] * len(values)
        errors: dict[int, str] = {}
        try:
            for start in range(0, len(values), ROWS_PER_STEP):
                got = embed_values(values[start:start + ROWS_PER_STEP], index[start:start + ROWS_PER_STEP], col,
                                   settings, progress=progress)
                ok = np.nonzero(got.valid)[0]
                probs = self.scores(got.matrix[ok])
                for i, names, row in zip(ok, self._emitted(probs), probs):
                    learned[start + i] = names
                    scores[start + i] = {label: round(float(p), 4) for label, p in zip(self.labels, row)}
                errors.update((start + i, msg) for i, msg in got.errors.items())
        finally:
            settings.cache.close()
        out = df.copy()
        out["learned"] = pd.Series(learned, index=df.index, dtype=object)
        out["learned_scores"] = pd.Series(scores, index=df.index, dtype=object)
        if errors or "error" in out.columns:
            before = out["error"].tolist() if "error" in out.columns else [None] * len(df)
            out["error"] = pd.Series([errors.get(i, before[i]) for i in range(len(df))], index=df.index,
                                     dtype=object)
        return out

    def report(self) -> pd.DataFrame:
        """One row per label: ``positives``, ``negatives``, cross-validated ``precision`` and
        ``recall`` at the ``threshold`` (None: the label is never emitted), and a ``note``
        saying why when it is not.

        >>> import pandas as pd
        >>> df = pd.DataFrame({"path": ["data/samples/coffee.jpg", "data/samples/rocket.jpg"],
        ...                    "label": ["drink", "space"]})
        >>> print(learn(df, progress=False).report().loc[0, "note"])
        too few examples: 1 labelled (needs 3); emits nothing until more are labelled
        """
        cols = ["label", "positives", "negatives", "precision", "recall", "threshold", "note"]
        return pd.DataFrame([{c: r.get(c) for c in cols} for r in self.rows], columns=cols)

    def suggest(self, df: pd.DataFrame, n: int = 20, col: str = "path",
                cache_dir: str | os.PathLike | bool | None = None) -> pd.DataFrame:
        """The ``n`` unlabelled rows that would teach the model most: see
        :func:`imagetags_df.learn.suggest.suggest`."""
        from .suggest import suggest

        return suggest(self, df, n=n, col=col, cache_dir=self.cache_dir if cache_dir is None else cache_dir)

    # --- saving --------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Write the model to the folder ``path`` (created; files in it replaced): ``model.json``
        and ``weights.npy``/``bias.npy``. No pickle: a saved model is safe to load from anyone."""
        folder = Path(path)
        if folder.exists() and not folder.is_dir():
            raise ConfigurationError(f"{folder} is a file; a model is saved as a folder: choose another path")
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / "weights.npy", np.asarray(self.weights, dtype=np.float32), allow_pickle=False)
        np.save(folder / "bias.npy", np.asarray(self.bias, dtype=np.float32), allow_pickle=False)
        meta = {"format": FORMAT, "version": FORMAT_VERSION, "embedding": self.identity,
                "labels": self.labels, "thresholds": self.thresholds, "min_precision": self.min_precision,
                "label_column": self.label_column, "exclusive": self.exclusive, "report": self.rows}
        tmp = folder / "model.json.tmp"
        tmp.write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(tmp, folder / "model.json")
        return folder

    @classmethod
    def load(cls, path: str | os.PathLike) -> LabelModel:
        """Read a folder written by :meth:`save`; refuses one made with other embeddings (another
        classifier or preprocessing) rather than give meaningless labels."""
        folder = Path(path)
        meta_file = folder / "model.json"
        try:
            meta = json.loads(meta_file.read_text(encoding="utf-8"))
            weights = np.load(folder / "weights.npy", allow_pickle=False)
            bias = np.load(folder / "bias.npy", allow_pickle=False)
        except FileNotFoundError as exc:
            raise ConfigurationError(f"{folder} is not a saved label model ({exc.filename} is missing)") from None
        except ValueError as exc:
            raise ConfigurationError(f"{folder}: damaged label model ({exc})") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ConfigurationError(f"{meta_file} is not a label model file")
        if int(meta.get("version", 0)) > FORMAT_VERSION:
            raise ConfigurationError(f"{folder} was saved by a newer imagetags_df (format {meta.get('version')}); "
                                     "upgrade imagetags_df to load it")
        labels = [str(x) for x in meta["labels"]]
        if weights.shape != (len(labels), DIM) or bias.shape != (len(labels),):
            raise ConfigurationError(f"{folder}: damaged label model (arrays do not match its {len(labels)} labels)")
        model = cls(labels=labels, weights=weights.astype(np.float32), bias=bias.astype(np.float32),
                    thresholds=[None if t is None else float(t) for t in meta["thresholds"]],
                    rows=list(meta.get("report", [])), identity=str(meta["embedding"]),
                    min_precision=float(meta["min_precision"]), label_column=str(meta.get("label_column", "label")),
                    exclusive=bool(meta.get("exclusive", False)))
        model._check_identity(folder)
        return model

    def _check_identity(self, where: Any = None) -> None:
        installed = embedding_identity()
        if self.identity != installed:
            name = f"the label model at {where}" if where is not None else "this label model"
            raise ConfigurationError(
                f"{name} was learned on other embeddings ({self.identity}) than this installation makes "
                f"({installed}): its scores would mean nothing. Learn it again here from the same labels "
                "(df.imagetags.learn(...)); the labelled images are embedded once and cached.")


def _targets(labels: list[list[str]], rejected: list[list[str]]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Label names, the rows that are examples, and the (rows, labels) matrix of 1/0/-1."""
    names = sorted({x for row in labels for x in row} | {x for row in rejected for x in row})
    col = {name: j for j, name in enumerate(names)}
    rows = [i for i in range(len(labels)) if labels[i] or rejected[i]]
    t = np.full((len(rows), len(names)), -1, dtype=np.int8)
    for r, i in enumerate(rows):
        if labels[i]:
            t[r, :] = 0  # a labelled row is a negative for every label it does not carry
            for name in labels[i]:
                t[r, col[name]] = 1
        for name in rejected[i]:
            if name in labels[i]:
                raise ConfigurationError(f"row {i}: {name!r} is both a label and rejected; keep one")
            t[r, col[name]] = 0
    return names, np.array(rows, dtype=int), t


def learn(df: pd.DataFrame, labels: str = "label", col: str = "path",
          cache_dir: str | os.PathLike | bool | None = None, *, min_precision: float = 0.9,
          rejected: str | None = "rejected", progress: bool = True) -> LabelModel:
    """Learn ``df[labels]`` (a label, a list of labels, or nothing per row) from the images in
    ``df[col]``, and rejected labels from ``df[rejected]`` when that column exists (negative
    examples of those labels: see :func:`imagetags_df.learn.labels_from_review`).

    Embeddings come from the cache (a ``generate(backend="local")`` run stored them) or are
    computed once. Each label's threshold is set by cross-validation so that emitted labels
    reach ``min_precision``; a label that cannot emits nothing, and ``report()`` says why.

    >>> import pandas as pd
    >>> df = pd.DataFrame({"path": ["data/samples/coffee.jpg", "data/samples/chelsea_cat.jpg"],
    ...                    "label": ["drink", "animal"]})
    >>> model = learn(df, progress=False)
    >>> model.report()[["label", "positives", "negatives", "threshold"]]
        label  positives  negatives threshold
    0  animal          1          1      None
    1   drink          1          1      None
    """
    if not 0.0 < float(min_precision) <= 1.0:
        raise ConfigurationError(f"min_precision must be in (0, 1], not {min_precision!r}")
    series = frame_column(df, col)
    if labels not in df.columns:
        raise ConfigurationError(f"labels column {labels!r} not found; the frame has "
                                 f"{', '.join(map(str, df.columns))}. Pass labels= with the column of labels.")
    wanted = label_sets(df[labels].tolist())
    refused = label_sets(df[rejected].tolist()) if rejected is not None and rejected in df.columns else [[]] * len(df)
    names, rows, targets = _targets(wanted, refused)
    if not names:
        raise ConfigurationError(f"no labels in column {labels!r}: label a few images per class first "
                                 "(a string or a list of strings per row)")
    settings = embed_settings(cache_dir, None)
    values, index = series.tolist(), list(df.index)
    try:
        got = embed_values([values[i] for i in rows], [index[i] for i in rows], col, settings, progress=progress)
    finally:
        settings.cache.close()
    if got.errors:
        first = min(got.errors)
        log.warning("%d labelled rows have no embedding and are left out (first: %s)", len(got.errors),
                    got.errors[first])
    keep = np.nonzero(got.valid)[0]
    model = fit_label_model(got.matrix[keep], [wanted[rows[i]] for i in keep], [refused[rows[i]] for i in keep],
                            min_precision=float(min_precision), label_column=labels)
    model.cache_dir = cache_dir
    return model


def fit_label_model(embeddings: np.ndarray, labels: Sequence[Sequence[str]],
                    rejected: Sequence[Sequence[str]] | None = None, *, min_precision: float = 0.9,
                    label_column: str = "label") -> LabelModel:
    """:func:`learn` on embeddings already in hand: ``embeddings`` (N, 1280) and, per row, its
    labels and rejected labels (lists). For benchmarks and for embeddings kept elsewhere.

    >>> rng = np.random.default_rng(0)
    >>> x = np.abs(rng.normal(size=(12, 1280))).astype(np.float32)
    >>> x[:6, :50] += 3.0                      # six images of one kind, six of another
    >>> model = fit_label_model(x, [["a"]] * 6 + [["b"]] * 6)
    >>> model.labels, [t is not None for t in model.thresholds]
    (['a', 'b'], [True, True])
    """
    refused = [list(r) for r in rejected] if rejected is not None else [[] for _ in labels]
    names, rows, targets = _targets([list(x) for x in labels], refused)
    if not names:
        raise ConfigurationError("no labels: label a few images per class first")
    from threadpoolctl import threadpool_limits

    # One BLAS thread: these matrices are small, and a multi-threaded BLAS on cores that are
    # busy with anything else was measured 10x slower than one thread (a 1000x1280 SVD: 14 s
    # against 1 s on a loaded 2-core machine).
    with threadpool_limits(1):
        return _fit_label_model(np.asarray(embeddings)[rows], names, targets, min_precision, label_column)


def _fit_label_model(embeddings: np.ndarray, names: list[str], targets: np.ndarray, min_precision: float,
                     label_column: str) -> LabelModel:
    x = normalise(embeddings)
    # The fits run in the span of the labelled rows' top directions: exactly the same solution
    # while there are fewer rows than RANK (an L2-penalised linear model's weights are a
    # combination of its rows), a close one above, and many times faster on 1,000 rows.
    basis = _basis(x)
    z = x @ basis.T
    positives_per_row = (targets == 1).sum(axis=1)
    exclusive = bool((positives_per_row == 1).any() and (positives_per_row <= 1).all())
    fit = _fit(z, targets)
    report, thresholds = _cross_validate(z, targets, names, float(min_precision))
    return LabelModel(labels=names, weights=(fit.weights @ basis).astype(np.float32), bias=fit.bias, thresholds=thresholds, rows=report,
                      identity=embedding_identity(), min_precision=float(min_precision), label_column=label_column,
                      exclusive=exclusive)


def _basis(x: np.ndarray) -> np.ndarray:
    """Orthonormal rows spanning ``x``'s rows (at most RANK of them, the strongest)."""
    if len(x) <= RANK:
        q, _r = np.linalg.qr(x.T)  # every row's direction: nothing is lost
        return np.ascontiguousarray(q.T, dtype=np.float32)
    from sklearn.utils.extmath import randomized_svd

    _u, _s, vt = randomized_svd(x, RANK, random_state=0)
    return np.ascontiguousarray(vt, dtype=np.float32)


def _only_top(probs: np.ndarray) -> np.ndarray:
    """``probs`` with every score but each row's highest set to -1 (never over a threshold)."""
    out = np.full_like(probs, -1.0)
    if probs.shape[1]:
        top = probs.argmax(axis=1)
        out[np.arange(len(probs)), top] = probs[np.arange(len(probs)), top]
    return out


def _cross_validate(x: np.ndarray, targets: np.ndarray, names: list[str], min_precision: float
                    ) -> tuple[list[dict[str, Any]], list[float | None]]:
    positives = (targets == 1).sum(axis=0)
    negatives = (targets == 0).sum(axis=0)
    runs = _out_of_fold(x, targets) if len(x) >= 4 else []
    # With exclusive labels only a row's most likely label is emitted, yet each threshold is
    # judged on every row's score for it: judging it only where the label comes first lowered
    # thresholds, labelled more images and was less precise (bench/learn.py, harder sets).
    report: list[dict[str, Any]] = []
    thresholds: list[float | None] = []
    for j, name in enumerate(names):
        row: dict[str, Any] = {"label": name, "positives": int(positives[j]), "negatives": int(negatives[j]),
                               "precision": None, "recall": None, "threshold": None, "note": ""}
        threshold = None
        if positives[j] < MIN_POSITIVES:
            row["note"] = (f"too few examples: {positives[j]} labelled (needs {MIN_POSITIVES}); emits nothing "
                           "until more are labelled")
        elif negatives[j] < MIN_NEGATIVES:
            row["note"] = (f"too few counter-examples: {negatives[j]} images known not to be {name!r} (needs "
                           f"{MIN_NEGATIVES}); label other images, or reject {name!r} where it is wrong")
        else:
            known = targets[:, j] >= 0
            s = np.concatenate([sc[known, j] for _, sc in runs])
            t = np.concatenate([targets[known, j] for _ in runs])
            keep = ~np.isnan(s)
            threshold, precision, recall = choose_threshold(s[keep], t[keep], min_precision)
            row["precision"], row["recall"] = round(precision, 3), round(recall, 3)
            if threshold is None:
                row["note"] = (f"cross-validated precision stays under {min_precision:.2f} (best {precision:.2f}); "
                               "emits nothing: label more examples, or lower min_precision")
            else:
                row["threshold"] = round(threshold, 4)
        thresholds.append(threshold)
        report.append(row)
    return report, thresholds
