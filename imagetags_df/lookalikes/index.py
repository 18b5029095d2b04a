"""The nearest-neighbour index over image embeddings: built once, grown, kept beside the cache.

An HNSW graph (hnswlib) keyed by image digest, so one index serves every frame drawn from the
same cache, and a frame with new images only *adds* them (``add`` skips what is known; the
graph is resized in place, never rebuilt). It lives in ``<cache_dir>/lookalikes/``
(``vectors.hnsw`` and ``keys.txt``, one digest per line); with ``cache_dir=False`` it lives in
memory for the call. Small frames skip the index altogether: an exact scan of a few thousand
vectors is faster than building anything (:data:`EXACT_UP_TO`).

Why hnswlib (faiss-cpu and usearch were measured with the same vectors, see
``bench/lookalikes.py --ann`` and docs/lookalikes.md): it built and answered fastest here,
has incremental ``add_items``/``resize_index`` and one-file save/load, and its wheel is small
(faiss-cpu's is ~30 MB; usearch was slowest to build on this machine).

>>> import numpy as np
>>> idx = VectorIndex(dim=4)
>>> idx.add(["a", "b", "c"], np.eye(4, dtype="float32")[:3])
3
>>> idx.add(["a"], np.eye(4, dtype="float32")[:1])  # known keys are skipped
0
>>> idx.search(np.eye(4, dtype="float32")[1:2], 1)[0][0]
['b']
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._exceptions import ConfigurationError

#: HNSW's graph degree and build/search breadth (hnswlib's usual values; recall@16 0.999 at 100k).
M = 16
EF_CONSTRUCTION = 100
EF_SEARCH = 64
#: Frames up to this many rows are searched exactly (a matrix product in blocks), no index.
EXACT_UP_TO = 5000
#: Rows per block of the exact search: bounds memory to BLOCK x n similarities.
BLOCK = 1024

_locks: dict[str, threading.Lock] = {}


def _hnswlib() -> Any:
    try:
        import hnswlib
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise ConfigurationError("similarity search needs hnswlib: pip install hnswlib") from exc
    return hnswlib


class VectorIndex:
    """Unit vectors keyed by string (image digests), searched by cosine similarity."""

    def __init__(self, dim: int, directory: str | os.PathLike[str] | None = None) -> None:
        self.dim = dim
        self.directory = Path(directory) if directory is not None else None
        self.keys: list[str] = []
        self._ids: dict[str, int] = {}
        self._index: Any = None
        if self.directory is not None and (self.directory / "vectors.hnsw").exists():
            self._load()

    def __len__(self) -> int:
        return len(self.keys)

    def __contains__(self, key: object) -> bool:
        return key in self._ids

    def _new(self, capacity: int) -> Any:
        idx = _hnswlib().Index(space="ip", dim=self.dim)
        idx.init_index(max_elements=max(capacity, 16), ef_construction=EF_CONSTRUCTION, M=M,
                       allow_replace_deleted=False)
        idx.set_ef(EF_SEARCH)
        return idx

    def _load(self) -> None:
        assert self.directory is not None
        keys = (self.directory / "keys.txt").read_text().split()
        idx = _hnswlib().Index(space="ip", dim=self.dim)
        idx.load_index(str(self.directory / "vectors.hnsw"), max_elements=len(keys))
        if idx.get_current_count() != len(keys):
            return  # a save that did not finish: start again rather than trust half of it
        idx.set_ef(EF_SEARCH)
        self._index, self.keys = idx, keys
        self._ids = {k: i for i, k in enumerate(keys)}

    def add(self, keys: Sequence[str], vectors: np.ndarray) -> int:
        """Add the vectors whose keys are new; return how many were added."""
        fresh: dict[str, int] = {}
        for i, k in enumerate(keys):
            if k not in self._ids and k not in fresh:
                fresh[k] = i
        if not fresh:
            return 0
        rows = np.ascontiguousarray(vectors[list(fresh.values())], dtype=np.float32)
        start = len(self.keys)
        if self._index is None:
            self._index = self._new(start + len(fresh))
        elif start + len(fresh) > self._index.get_max_elements():
            # Grow geometrically so adding a few images at a time stays cheap.
            self._index.resize_index(max(start + len(fresh), 2 * self._index.get_max_elements()))
        self._index.add_items(rows, np.arange(start, start + len(fresh)), num_threads=os.cpu_count() or 1)
        for j, k in enumerate(fresh):
            self._ids[k] = start + j
        self.keys.extend(fresh)
        return len(fresh)

    def search(self, queries: np.ndarray, k: int) -> tuple[list[list[str]], np.ndarray]:
        """The ``k`` nearest keys of each query and their cosine similarities (best first)."""
        k = min(k, len(self.keys))
        if k == 0 or self._index is None:
            return [[] for _ in range(len(queries))], np.zeros((len(queries), 0), np.float32)
        self._index.set_ef(max(EF_SEARCH, k))
        labels, dist = self._index.knn_query(np.ascontiguousarray(queries, dtype=np.float32), k=k,
                                             num_threads=os.cpu_count() or 1)
        return [[self.keys[i] for i in row] for row in labels], (1.0 - dist).astype(np.float32)

    def save(self) -> None:
        """Write the index beside the cache (atomically: a crash leaves the old one)."""
        if self.directory is None or self._index is None:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = self.directory / f"vectors.hnsw.{os.getpid()}.tmp"
        self._index.save_index(str(tmp))
        keys_tmp = self.directory / f"keys.txt.{os.getpid()}.tmp"
        keys_tmp.write_text("\n".join(self.keys))
        os.replace(tmp, self.directory / "vectors.hnsw")
        os.replace(keys_tmp, self.directory / "keys.txt")


def index_dir(cache_directory: Path | None) -> Path | None:
    """Where a cache's index lives: ``<cache_dir>/lookalikes`` (None: in memory only)."""
    return None if cache_directory is None else cache_directory / "lookalikes"


def open_index(cache_directory: Path | None, dim: int) -> tuple[VectorIndex, threading.Lock]:
    """The cache's index and the lock that serialises growing it within this process."""
    where = index_dir(cache_directory)
    lock = _locks.setdefault(str(where), threading.Lock())
    return VectorIndex(dim, where), lock


def exact_neighbours(vectors: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact ``k`` nearest rows of ``vectors`` for each query, in blocks (never n x n at once)."""
    k = min(k, len(vectors))
    ids = np.zeros((len(queries), k), np.int64)
    sims = np.zeros((len(queries), k), np.float32)
    for start in range(0, len(queries), BLOCK):
        s = queries[start:start + BLOCK] @ vectors.T
        part = np.argpartition(-s, k - 1, axis=1)[:, :k] if k < s.shape[1] else np.tile(np.arange(k), (len(s), 1))
        ps = np.take_along_axis(s, part, axis=1)
        order = np.argsort(-ps, axis=1)
        ids[start:start + BLOCK] = np.take_along_axis(part, order, axis=1)
        sims[start:start + BLOCK] = np.take_along_axis(ps, order, axis=1)
    return ids, sims


def neighbours(vectors: np.ndarray, keys: Sequence[str], k: int, cache_directory: Path | None,
               queries: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest of ``vectors`` (rows) for each query (default: every row), as row
    positions (-1 where fewer exist) and similarities: exact for small frames, else through the
    cache's index (grown by the rows it lacks, then saved)."""
    queries = vectors if queries is None else queries
    if len(vectors) <= EXACT_UP_TO:
        return exact_neighbours(vectors, queries, k)
    idx, lock = open_index(cache_directory, vectors.shape[1])
    with lock:
        if idx.add(keys, vectors):
            idx.save()
    row_of: dict[str, list[int]] = {}
    for pos, key in enumerate(keys):
        row_of.setdefault(key, []).append(pos)
    # The index may hold other frames' images too: ask for more until k rows of this frame.
    want = k
    while True:
        found, sims = idx.search(queries, min(len(idx), want + max(16, want)))
        ids = np.full((len(queries), k), -1, np.int64)
        out = np.zeros((len(queries), k), np.float32)
        short = False
        for q, (row_keys, row_sims) in enumerate(zip(found, sims)):
            got = [(p, s) for key, s in zip(row_keys, row_sims) for p in row_of.get(key, [])][:k]
            for j, (p, s) in enumerate(got):
                ids[q, j], out[q, j] = p, s
            short |= len(got) < k and len(row_keys) < len(idx)
        if not short or want >= len(idx):
            return ids, out
        want *= 4
