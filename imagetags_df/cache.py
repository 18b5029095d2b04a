"""The on-disk cache: results keyed on image content, and a memo of file hashes.

Built on diskcache (SQLite underneath), so two notebooks or processes can share
one directory safely. Values are JSON text, so the cache stays inspectable with
any SQLite browser. Keys never contain an API key: results are keyed on the
SHA-256 of the image bytes, the backend's identity (which excludes secrets),
the language and the cache schema version.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import diskcache

from . import _constants as C
from ._types import TagResult


def default_cache_dir() -> Path:
    """``$IMAGETAGS_CACHE_DIR`` or the per-user cache directory."""
    env = os.environ.get(C.ENV_CACHE_DIR)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("imagetags_df"))


def result_key(backend_identity: str, lang: str, digest: str) -> str:
    return f"r{C.CACHE_SCHEMA}|{backend_identity}|{lang}|{digest}"


def _stat_key(path: str, size: int, mtime_ns: int) -> str:
    # Path + size + mtime is the usual "unchanged file" test (make, rsync): if any
    # of them moves we re-read and re-hash, so a stale hash is never used.
    return f"h|{path}|{size}|{mtime_ns}"


class Cache:
    """Results and file-hash memo in one diskcache directory (or only in memory).

    >>> c = Cache(None)  # memory only, for this process
    >>> c.get_result("k") is None
    True
    """

    def __init__(self, directory: str | os.PathLike | None) -> None:
        self.directory = Path(directory) if directory is not None else None
        self._mem: dict[str, Any] | None = None
        self._disk: diskcache.Cache | None = None
        if self.directory is None:
            self._mem = {}
        else:
            # A 4 GB cap with LRU-ish eviction is diskcache's default policy; a
            # result is a few hundred bytes, so that is millions of images.
            self._disk = diskcache.Cache(str(self.directory), timeout=60)

    @property
    def store(self) -> diskcache.Cache | None:
        """The underlying diskcache (shared pacing state lives there too)."""
        return self._disk

    def _get(self, key: str) -> Any:
        if self._disk is not None:
            return self._disk.get(key)
        return self._mem.get(key)  # type: ignore[union-attr]

    def _set(self, key: str, value: Any) -> None:
        if self._disk is not None:
            self._disk.set(key, value)
        else:
            self._mem[key] = value  # type: ignore[index]

    # file hash memo -----------------------------------------------------
    def get_hash(self, path: str, st: os.stat_result) -> str | None:
        return self._get(_stat_key(path, st.st_size, st.st_mtime_ns))

    def set_hash(self, path: str, st: os.stat_result, digest: str) -> None:
        self._set(_stat_key(path, st.st_size, st.st_mtime_ns), digest)

    # results --------------------------------------------------------------
    def get_result(self, key: str) -> TagResult | None:
        raw = self._get(key)
        if raw is None:
            return None
        try:
            return TagResult.from_json(json.loads(raw))
        except (ValueError, TypeError):
            return None  # a damaged entry is a miss, not a crash

    def set_result(self, key: str, result: TagResult) -> None:
        self._set(key, json.dumps(result.to_json(), ensure_ascii=False))

    def __len__(self) -> int:
        return len(self._disk) if self._disk is not None else len(self._mem)  # type: ignore[arg-type]

    def close(self) -> None:
        if self._disk is not None:
            self._disk.close()

    def __repr__(self) -> str:
        return f"Cache({str(self.directory) if self.directory else 'memory'!r})"
