"""Embeddings of a DataFrame's images: cached by image content, computed only when missing.

Every row is hashed as ``generate`` hashes it (the same stat memo, so unchanged files are not
read again), then each unique image's embedding is looked up in the cache (see
:mod:`imagetags_df.backends.local.embeddings` for what an embedding is and how it is kept).
A ``generate(backend="local")`` run has already stored them: then nothing is decoded and no
model runs. Missing ones are computed by the offline classifier, whatever backend tagged the
images, a chunk at a time, and stored at once, so an interrupted run keeps what it did.

Memory: the cache holds 2,560 bytes per image (float16). :func:`embed` returns one float32
array per row (5 KB each: 5 GB for a million rows), so at that size work by chunks of rows,
or use :func:`embedding_matrix` (one contiguous array) or the label model, whose ``predict``
and ``suggest`` read the cache chunk by chunk and never hold every embedding at once.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .. import images as _images
from .._exceptions import ConfigurationError, CorruptImageError, ImageTagsError
from .._types import PreparedImage
from ..backends.local import embeddings as _local
from ..engine.api import check_column
from ..engine.run import Progress
from ..engine.scan import scan
from ..engine.settings import RunSettings, settle
from ..infra.cache import embedding_key

#: Images read, decoded, embedded and stored per step: bounds the bytes held in memory and
#: what an interruption can lose.
CHUNK = 256
#: Rows per cache lookup step in :func:`iter_embeddings` (bounds memory at any row count).
ROWS_PER_STEP = 50_000

__all__ = ["embed", "embedding_matrix", "iter_embeddings", "embed_frame", "Embedded", "DIM", "embedding_identity"]

DIM = _local.DIM
embedding_identity = _local.embedding_identity


@dataclass
class Embedded:
    """Embeddings of a list of rows: ``matrix`` (N, DIM) float32, zero where ``valid`` is False;
    ``errors`` maps row positions to what went wrong."""

    matrix: np.ndarray
    valid: np.ndarray
    errors: dict[int, str]


def _settings(cache_dir: Any, max_file_bytes: int | None) -> RunSettings:
    return settle(backend="local", cache_dir=cache_dir, progress=False, max_file_bytes=max_file_bytes)


def embed_values(values: Sequence[Any], index: Sequence[Any], col: str, settings: RunSettings,
                 progress: bool = False, dtype: Any = np.float32) -> Embedded:
    """The embedding of each value (path, bytes or PIL image): cached ones read, others computed
    and stored. The plain core under :func:`embed`, :func:`embedding_matrix` and the Dask door."""
    n = len(values)
    found = scan(values, index, col, settings)
    errors: dict[int, str] = {pos: str(exc) for pos, exc in found.errors.items()}
    first: dict[str, int] = {}
    for pos, digest in enumerate(found.digests):
        if digest is not None:
            first.setdefault(digest, pos)
    identity = _local.embedding_identity()
    cache = settings.cache
    vectors: dict[str, np.ndarray] = {}
    digests = list(first)
    for start in range(0, len(digests), ROWS_PER_STEP):
        part = digests[start:start + ROWS_PER_STEP]
        keys = [embedding_key(identity, d) for d in part]
        stored = cache.get_bytes(keys)
        for d, k in zip(part, keys):
            if k in stored and (v := _local.from_bytes(stored[k])) is not None:
                vectors[d] = v
    bar = Progress(n, progress, "embed")
    bar.add(cached=sum(1 for d in found.digests if d is not None and d in vectors), failed=len(errors))
    kept = {job.digest: job for job in found.jobs}
    missing = [d for d in digests if d not in vectors]
    failed: dict[str, str] = {}
    try:
        for start in range(0, len(missing), CHUNK):
            chunk = missing[start:start + CHUNK]
            prepared = _prepare_all(chunk, first, kept, values, index, settings)
            ready = [(d, p) for d, p in zip(chunk, prepared) if isinstance(p, PreparedImage)]
            failed.update((d, str(p)) for d, p in zip(chunk, prepared) if not isinstance(p, PreparedImage))
            out = _local.embed_images([p for _, p in ready], threads=getattr(settings.backend, "threads", None))
            fresh: dict[str, bytes] = {}
            for (d, _p), vec in zip(ready, out):
                if isinstance(vec, BaseException):
                    failed[d] = str(vec)
                    continue
                data = fresh[embedding_key(identity, d)] = _local.to_bytes(vec)
                # What the cache will give back next time, so a result never depends on
                # whether an embedding was cached.
                vectors[d] = _local.from_bytes(data)  # type: ignore[assignment]
            # The cache degrades to memory by itself on a disk fault: nothing to lose here.
            cache.set_bytes_many(fresh)
            done = set(chunk)
            bar.add(ok=sum(1 for x in found.digests if x in done and x in vectors),
                    failed=sum(1 for x in found.digests if x in done and x not in vectors))
    finally:
        bar.close()
    matrix = np.zeros((n, DIM), dtype=dtype)
    valid = np.zeros(n, dtype=bool)
    for pos, digest in enumerate(found.digests):
        if digest is None:
            continue
        v = vectors.get(digest)
        if v is None:
            errors[pos] = failed.get(digest, "no embedding")
            continue
        matrix[pos] = v
        valid[pos] = True
    return Embedded(matrix=matrix, valid=valid, errors=errors)


def _prepare_all(chunk: Sequence[str], first: dict[str, int], kept: dict[str, Any], values: Sequence[Any],
                 index: Sequence[Any], settings: RunSettings) -> list[PreparedImage | ImageTagsError]:
    """Read each image's bytes (unless the scan kept them). The classifier decodes the original
    bytes, never a copy converted for an API, so nothing is re-encoded here (a tagging run
    stores only embeddings of unconverted images, so both agree)."""
    from ..engine.scan import source_name

    def one(digest: str) -> PreparedImage | ImageTagsError:
        pos = first[digest]
        source = source_name(values[pos], index[pos], pos)
        job = kept.get(digest)
        data = job.data if job is not None else None
        try:
            if data is None:
                data = _images.read_bytes(values[pos], source=source, max_file_bytes=settings.max_file_bytes)
            if not data:
                raise CorruptImageError(f"{source}: the file is empty", source=source)
            return PreparedImage(data=data, mime=_images.mime_for(_images.sniff_format(data) or "") or "",
                                 sha256=digest, source=source)
        except ImageTagsError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=min(8, max(1, len(chunk)), (os.cpu_count() or 1) * 2)) as pool:
        return list(pool.map(one, chunk))


def _frame_column(df: pd.DataFrame, col: str) -> pd.Series:
    if not isinstance(df, pd.DataFrame):
        raise ConfigurationError(f"expected a pandas DataFrame, got {type(df).__name__}")
    check_column(df.columns, col)
    return df[col]


def embed(df: pd.DataFrame, col: str = "path", cache_dir: str | os.PathLike | bool | None = None, *,
          progress: bool = True, max_file_bytes: int | None = None) -> pd.DataFrame:
    """The input's columns plus ``embedding``: a 1-D float32 array per row (NaN where the image
    failed, and ``error`` says why, naming the file).

    Embeddings are the offline classifier's pooled features, cached by image content under the
    model's and the preprocessing's identity: images a ``generate(backend="local")`` run saw
    cost nothing, others are computed once. ``cache_dir`` is ``generate``'s (``False``: none).

    >>> import pandas as pd
    >>> out = embed(pd.DataFrame({"path": ["data/samples/coffee.jpg", "nope.jpg"]}), progress=False)
    >>> out.loc[0, "embedding"].shape, out.loc[0, "embedding"].dtype, pd.isna(out.loc[1, "embedding"])
    ((1280,), dtype('float32'), True)
    >>> "nope.jpg" in out.loc[1, "error"]
    True
    """
    _frame_column(df, col)
    settings = _settings(cache_dir, max_file_bytes)
    try:
        return embed_frame(df, col, settings, progress=progress)
    finally:
        settings.cache.close()


def embed_frame(df: pd.DataFrame, col: str, settings: RunSettings, progress: bool = False) -> pd.DataFrame:
    """:func:`embed` with settled options (the Dask door runs it per partition)."""
    got = embed_values(df[col].tolist(), list(df.index), col, settings, progress=progress)
    out = df.copy()
    out["embedding"] = pd.Series([got.matrix[i].copy() if got.valid[i] else np.nan for i in range(len(df))],
                                 index=df.index, dtype=object)
    before = out["error"].tolist() if "error" in out.columns else [None] * len(df)
    out["error"] = pd.Series([got.errors.get(i, before[i]) for i in range(len(df))], index=df.index, dtype=object)
    return out


def embedding_matrix(df: pd.DataFrame, col: str = "path", cache_dir: str | os.PathLike | bool | None = None,
                     ) -> tuple[np.ndarray, np.ndarray]:
    """``(matrix, valid)``: float32 (N, 1280) embeddings aligned with ``df``'s rows, and which rows
    have one (failed rows are zeros and False). The same cache and computation as :func:`embed`,
    as one contiguous array (for similarity search, clustering, a model of your own).

    >>> import pandas as pd
    >>> m, ok = embedding_matrix(pd.DataFrame({"path": ["data/samples/coffee.jpg", "missing.jpg"]}))
    >>> m.shape, m.dtype, ok.tolist()
    ((2, 1280), dtype('float32'), [True, False])
    """
    series = _frame_column(df, col)
    settings = _settings(cache_dir, None)
    try:
        got = embed_values(series.tolist(), list(df.index), col, settings)
    finally:
        settings.cache.close()
    return got.matrix, got.valid


def iter_embeddings(df: pd.DataFrame, col: str = "path", cache_dir: str | os.PathLike | bool | None = None,
                    rows: int = ROWS_PER_STEP, progress: bool = False) -> Iterator[tuple[int, Embedded]]:
    """``(start, Embedded)`` for consecutive slices of ``rows`` rows: a million rows in bounded
    memory (each slice is computed or read from the cache, then let go)."""
    series = _frame_column(df, col)
    settings = _settings(cache_dir, None)
    values, index = series.tolist(), list(df.index)
    try:
        for start in range(0, len(values), rows):
            yield start, embed_values(values[start:start + rows], index[start:start + rows], col, settings,
                                      progress=progress)
    finally:
        settings.cache.close()
