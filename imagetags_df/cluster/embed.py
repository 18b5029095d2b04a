"""``ddf.imagetags.embed``: the pandas path's embeddings, one partition per task.

Each partition is embedded where it runs, with the pandas path's function: cached embeddings
are read from the cache directory, missing ones computed by the offline classifier on that
worker and stored there. Workers on one host share the client's cache directory (the
default), so an image tagged or embedded before costs nothing; on several hosts, point
``cache_dir`` at a shared folder or accept one computation per host.
"""

from __future__ import annotations

import os

import dask.dataframe as dd
import pandas as pd

from ..engine import settle
from ..infra.cache import default_cache_dir


def embed_partition(pdf: pd.DataFrame, col: str, cache_dir: str | bool, max_file_bytes: int | None
                    ) -> pd.DataFrame:
    from ..learn.embeddings import embed_frame

    settings = settle(backend="local", cache_dir=cache_dir, progress=False, max_file_bytes=max_file_bytes)
    # Dask already runs one task per core: one classifier thread per task.
    settings.backend.threads = 1  # type: ignore[attr-defined]
    try:
        return embed_frame(pdf, col, settings)
    finally:
        settings.cache.close()


def embed(ddf: dd.DataFrame, col: str = "path", cache_dir: str | os.PathLike | bool | None = None, *,
          max_file_bytes: int | None = None) -> dd.DataFrame:
    """Lazy: the input's partitions plus ``embedding`` and ``error``, as
    :func:`imagetags_df.learn.embed` gives them on pandas.

    >>> out = ddf.imagetags.embed(col="path").compute()        # doctest: +SKIP
    """
    from .door import _check

    _check(ddf, col)
    # Settled here, so every worker uses the directory this machine would (not its own default).
    where: str | bool = (False if cache_dir is False else
                         os.fspath(default_cache_dir() if cache_dir in (None, True) else cache_dir))  # type: ignore[arg-type]
    meta = ddf._meta.copy()
    meta["embedding"] = pd.Series([], dtype=object)
    meta["error"] = pd.Series([], dtype=object)
    return ddf.map_partitions(embed_partition, col, where, max_file_bytes, meta=meta)
