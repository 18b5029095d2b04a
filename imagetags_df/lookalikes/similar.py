"""What else looks like this one: the k rows whose embeddings are nearest a query's.

>>> import pandas as pd
>>> df = pd.DataFrame({"path": ["data/samples/chelsea_cat.jpg", "data/samples/coffee.jpg",
...                             "data/samples/astronaut.jpg"]})
>>> out = similar(df, 0, k=2, cache_dir=False)
>>> 0 in out.index, len(out), list(out.columns)
(False, 2, ['path', 'similarity'])
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

from .._exceptions import ConfigurationError
from ..learn.embeddings import embed_values
from . import frame as _frame
from .index import neighbours


def _query_vector(df: pd.DataFrame, rows: _frame.Rows, vectors: np.ndarray, valid: np.ndarray,
                  query: Any, col: str) -> tuple[np.ndarray, set[int]]:
    """The query's vector, and the row positions that *are* the query (left out)."""
    is_label = not isinstance(query, Image.Image) and not isinstance(query, bytes)
    if is_label:
        try:
            hit = df.index.get_indexer_for([query])
        except TypeError:
            hit = np.array([], dtype=int)
        hit = hit[hit >= 0]
        if len(hit):
            pos = int(hit[0])
            if not valid[pos]:
                raise ConfigurationError(
                    f"row {query!r} has no embedding ({rows.errors.get(pos, 'its image could not be read')}); "
                    "pick another row or fix its file")
            return vectors[pos], {int(p) for p in hit}
    if isinstance(query, (str, os.PathLike)) or isinstance(query, (Image.Image, bytes)):
        got = embed_values([query], ["query"], col, rows.settings)
        if not got.valid[0]:
            raise ConfigurationError(f"the query image could not be used: {got.errors.get(0, 'unreadable')}")
        same: set[int] = set()
        if isinstance(query, (str, os.PathLike)):
            target = os.path.abspath(os.path.expanduser(os.fspath(query)))
            same = {p for p, v in enumerate(rows.values)
                    if isinstance(v, (str, os.PathLike)) and os.path.abspath(os.path.expanduser(os.fspath(v))) == target}
        return _frame.normalise(got.matrix)[0], same
    raise ConfigurationError(
        f"query {query!r} is neither a row label of the frame, an image path nor a PIL image")


def similar(df: pd.DataFrame, query: Any, k: int = 10, col: str = "path", *,
            cache_dir: str | os.PathLike[str] | bool | None = None) -> pd.DataFrame:
    """The ``k`` rows most like ``query`` (a row label of ``df``, an image path or a PIL image),
    most similar first, with a ``similarity`` column (cosine of the embeddings, -1..1). The
    query's own row (or a row of the same file) is left out.

    Embeddings come from the cache (computed once for images that have none). Frames over
    5,000 rows are searched through the cache's index (see :mod:`.index`), grown by the new
    images only.

    >>> import pandas as pd
    >>> df = pd.DataFrame({"path": ["data/samples/chelsea_cat.jpg", "data/samples/coffee.jpg"]})
    >>> similar(df, "data/samples/coffee.jpg", cache_dir=False).index.tolist()
    [0]
    """
    if not isinstance(k, int) or k < 1:
        raise ConfigurationError(f"k must be a positive whole number, not {k!r}")
    settings = _frame.settings_for(cache_dir)
    try:
        rows = _frame.rows_of(df, col, settings)
        vectors, valid = _frame.embeddings(rows)
        qv, exclude = _query_vector(df, rows, vectors, valid, query, col)
        usable = [p for p in range(len(df)) if valid[p] and p not in exclude]
        if not usable:
            return df.iloc[[]].assign(similarity=pd.Series(dtype=np.float32))
        sub = vectors[usable]
        keys = [rows.digests[p] or "" for p in usable]
        ids, sims = neighbours(sub, keys, min(k, len(usable)), settings.cache.directory, queries=qv[None, :])
    finally:
        _frame.close(settings)
    picked = [(usable[int(i)], float(s)) for i, s in zip(ids[0], sims[0]) if i >= 0]
    out = df.iloc[[p for p, _ in picked]].copy()
    out["similarity"] = np.array([s for _, s in picked], dtype=np.float32)
    return out
