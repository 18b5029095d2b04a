"""Groups of pictures that look alike, including groups the tagger has no word for.

k-means (k-means++ start, Lloyd's iterations) on the unit-length embeddings, so distances are
cosine distances. With ``n=None`` the number of clusters is chosen automatically: every k from
2 to ``min(MAX_AUTO, rows // 3)`` is tried and the one with the highest mean silhouette wins
(computed on a sample of at most :data:`SILHOUETTE_SAMPLE` rows, so never an n x n matrix).

``cluster_name`` joins the cluster's most frequent tags (from ``names_from``, default the
``tags`` column, or any column of tag lists such as learned labels), preferring tags more
frequent in the cluster than in the whole frame; without tags a cluster is "cluster <n>".

>>> import pandas as pd
>>> df = pd.DataFrame({"path": ["data/samples/chelsea_cat.jpg", "data/samples/coffee.jpg"] * 2})
>>> out = clusters(df, n=2, cache_dir=False)
>>> sorted(out["cluster"].unique().tolist())
[0, 1]
"""

from __future__ import annotations

import os
from collections import Counter

import numpy as np
import pandas as pd

from .. import analysis
from .._exceptions import ConfigurationError
from . import frame as _frame

MAX_AUTO = 20
SILHOUETTE_SAMPLE = 2000
ITERATIONS = 50
#: Tags in a cluster's name.
NAME_TAGS = 3
#: Rows per block when assigning rows to centres (bounds memory).
BLOCK = 4096


def kmeans(x: np.ndarray, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(labels, centres)`` of k-means on unit vectors (cosine), k-means++ seeded."""
    rng = np.random.default_rng(seed)
    n = len(x)
    centres = [x[rng.integers(n)]]
    d = 1.0 - x @ centres[0]
    for _ in range(1, k):
        p = np.clip(d, 0, None) ** 2
        total = p.sum()
        i = int(rng.choice(n, p=p / total)) if total > 0 else int(rng.integers(n))
        centres.append(x[i])
        d = np.minimum(d, 1.0 - x @ x[i])
    c = np.array(centres, dtype=np.float32)
    labels = np.zeros(n, np.int64)
    for it in range(ITERATIONS):
        new = np.concatenate([np.argmax(x[s:s + BLOCK] @ c.T, axis=1) for s in range(0, n, BLOCK)])
        if it and np.array_equal(new, labels):
            break
        labels = new
        for j in range(k):
            members = x[labels == j]
            if len(members):
                m = members.mean(axis=0)
                c[j] = m / (np.linalg.norm(m) or 1.0)
    return labels, c


def silhouette(x: np.ndarray, labels: np.ndarray, sample: int = SILHOUETTE_SAMPLE, seed: int = 0) -> float:
    """Mean silhouette (cosine distance) over a sample of rows."""
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(x), size=min(sample, len(x)), replace=False)
    xs, ls = x[idx], labels[idx]
    dist = 1.0 - xs @ xs.T
    ks = np.unique(ls)
    if len(ks) < 2:
        return -1.0
    mean_to = np.stack([dist[:, ls == j].mean(axis=1) for j in ks], axis=1)
    own = np.searchsorted(ks, ls)
    counts = np.array([(ls == j).sum() for j in ks])
    a = mean_to[np.arange(len(xs)), own] * counts[own] / np.maximum(counts[own] - 1, 1)
    mean_to[np.arange(len(xs)), own] = np.inf
    b = mean_to.min(axis=1)
    s = np.where(counts[own] > 1, (b - a) / np.maximum(np.maximum(a, b), 1e-9), 0.0)
    return float(s.mean())


def choose_k(x: np.ndarray) -> int:
    """The k in 2..min(MAX_AUTO, n // 3) with the best silhouette (2 for tiny frames)."""
    top = min(MAX_AUTO, len(x) // 3)
    if top < 2:
        return min(2, len(x))
    best, best_k = -2.0, 2
    for k in range(2, top + 1):
        labels, _ = kmeans(x, k)
        s = silhouette(x, labels)
        if s > best:
            best, best_k = s, k
    return best_k


def _names(lists: list[list[str] | None], labels: np.ndarray, k: int) -> dict[int, str]:
    everywhere = Counter(t for tags in lists if tags for t in set(tags))
    total = max(1, sum(1 for tags in lists if tags))
    names: dict[int, str] = {}
    for j in range(k):
        inside = [lists[i] for i in np.nonzero(labels == j)[0] if lists[i]]
        counts = Counter(t for tags in inside if tags for t in set(tags))
        if not counts:
            names[j] = f"cluster {j}"
            continue
        # Frequent in the cluster first, then more so than in the frame as a whole.
        ranked = sorted(counts, key=lambda t: (-counts[t], -(counts[t] / len(inside)) / (everywhere[t] / total), t))
        names[j] = ", ".join(ranked[:NAME_TAGS])
    return names


def clusters(df: pd.DataFrame, n: int | None = None, col: str = "path", *,
             cache_dir: str | os.PathLike[str] | bool | None = None, names_from: str | None = "tags",
             seed: int = 0) -> pd.DataFrame:
    """The frame plus ``cluster`` (int, -1 for rows without an embedding) and ``cluster_name``.

    ``n=None`` picks the number of clusters by silhouette (see the module); ``names_from`` is
    the column of tags (lists or comma-separated) the names come from.

    >>> import pandas as pd
    >>> df = pd.DataFrame({"path": ["data/samples/chelsea_cat.jpg"] * 3, "tags": [["cat"]] * 3})
    >>> clusters(df, n=1, cache_dir=False)["cluster_name"].tolist()
    ['cat', 'cat', 'cat']
    """
    if n is not None and (not isinstance(n, int) or n < 1):
        raise ConfigurationError(f"n must be a positive whole number or None, not {n!r}")
    settings = _frame.settings_for(cache_dir)
    try:
        rows = _frame.rows_of(df, col, settings)
        vectors, valid = _frame.embeddings(rows)
    finally:
        _frame.close(settings)
    pos = np.nonzero(valid)[0]
    labels = np.full(len(df), -1, np.int64)
    names: dict[int, str] = {-1: "(no image)"}
    if len(pos):
        x = vectors[pos]
        k = min(n if n is not None else choose_k(x), len(pos))
        got, _ = kmeans(x, k, seed=seed)
        # Number clusters by size, largest first: cluster 0 is the biggest group.
        order = {int(c): i for i, c in enumerate(np.argsort(-np.bincount(got, minlength=k), kind="stable"))}
        labels[pos] = [order[int(c)] for c in got]
        lists = analysis.tag_lists(df, names_from) if names_from and names_from in df.columns else [None] * len(df)
        names.update(_names([lists[i] for i in pos], labels[pos], k))
    out = df.copy()
    out["cluster"] = labels
    out["cluster_name"] = [names.get(int(c), f"cluster {c}") for c in labels]
    return out
