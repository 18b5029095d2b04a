"""The on-disk cache: results keyed on image content, a memo of file hashes, and what a
backend keeps to answer again in another language.

Built on diskcache (SQLite underneath), so two notebooks or processes can share
one directory safely. Values are JSON text, so the cache stays inspectable with
any SQLite browser. Keys never contain an API key: results are keyed on the
SHA-256 of the image bytes, the backend's identity (which excludes secrets),
the language and the cache schema version.

A cache is a convenience, never a reason to lose a run: a damaged cache file, a
read-only directory or a full disk turns it into a memory-only cache for the
rest of the run, with one warning, and every row still gets its answer.

Size: results were paid for, so nothing ever evicts them (diskcache's default
would start dropping entries past 1 GiB, about a million images); they take a
few hundred bytes each. What can be made again without paying, the file-hash
memo and the offline tagger's analyses, lives in a ``memo`` sub-directory capped
at :data:`MEMO_SIZE_LIMIT`, the entries stored longest ago evicted first.

Claims: processes sharing a directory tag each image once. Before sending an
image a process claims it (:meth:`Cache.claim`, an atomic insert with an expiry);
another process that finds the claim waits for the answer to appear instead of
paying for it too. A claim is renewed while its call runs and lapses when its
process dies, so a killed process's images are taken over within one lease.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import diskcache
from diskcache.core import MODE_RAW

from .. import _constants as C
from .._types import TagResult

log = logging.getLogger(__name__)

#: Bytes the evictable store (hash memo, analyses) may hold before its oldest entries go.
MEMO_SIZE_LIMIT = 1 << 30
#: Key prefixes of what can be recomputed for free: file-hash memos and backends' analyses.
_EVICTABLE_PREFIXES = ("h|", f"a{C.CACHE_SCHEMA}|")

#: What a broken cache raises: SQLite's errors (damaged file, read-only database,
#: disk full), the file system's (values diskcache keeps in files, a directory it
#: cannot create) and diskcache's lock timeout.
CACHE_FAULTS: tuple[type[BaseException], ...] = (sqlite3.Error, OSError, diskcache.Timeout)


def default_cache_dir() -> Path:
    """``$IMAGETAGS_CACHE_DIR`` or the per-user cache directory."""
    env = os.environ.get(C.ENV_CACHE_DIR)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("imagetags_df"))


def result_key(backend_identity: str, lang: str, digest: str) -> str:
    return f"r{C.CACHE_SCHEMA}|{backend_identity}|{lang}|{digest}"


def analysis_key(backend_identity: str, digest: str) -> str:
    """Key of a backend's language-free intermediate result for one image (see
    :meth:`Backend.attach_cache`)."""
    return f"a{C.CACHE_SCHEMA}|{backend_identity}|{digest}"


def embedding_key(embedding_identity: str, digest: str) -> str:
    """Key of one image's embedding (compact bytes, see :mod:`imagetags_df.learn.embeddings`)."""
    return f"e{C.CACHE_SCHEMA}|{embedding_identity}|{digest}"


def claim_key(backend_identity: str, lang: str, digest: str) -> str:
    """Key of the claim a process holds while it tags one image (see :meth:`Cache.claim`)."""
    return f"c{C.CACHE_SCHEMA}|{backend_identity}|{lang}|{digest}"


def _stat_key(path: str, size: int, mtime_ns: int) -> str:
    # Path + size + mtime is the usual "unchanged file" test (make, rsync): if any
    # of them moves we re-read and re-hash, so a stale hash is never used.
    return f"h|{path}|{size}|{mtime_ns}"


class Cache:
    """Results and file-hash memo in one diskcache directory (or only in memory).

    >>> c = Cache(None)  # memory only, for this process
    >>> c.get_results(["k"])
    {}
    """

    def __init__(self, directory: str | os.PathLike | None) -> None:
        self.directory = Path(directory) if directory is not None else None
        # Always present: the whole cache when there is no directory, and what
        # could not be written to disk when the disk fails mid-run.
        self._mem: dict[str, Any] = {}
        self._disk: diskcache.Cache | None = None
        self._memo: diskcache.Cache | None = None
        #: Why the disk is not used (any more), or None while it works.
        self.fault: str | None = None
        if self.directory is not None:
            try:
                # Set on purpose, also over a directory made with other settings: paid
                # results are never evicted, whatever size the cache reaches...
                self._disk = diskcache.Cache(str(self.directory), timeout=60, eviction_policy="none")
                # ...while what is free to make again stays bounded.
                self._memo = diskcache.Cache(str(self.directory / "memo"), timeout=60,
                                             size_limit=MEMO_SIZE_LIMIT,
                                             eviction_policy="least-recently-stored")
            except CACHE_FAULTS as exc:
                self._give_up_disk("could not be opened", exc)

    def _give_up_disk(self, what: str, exc: BaseException) -> None:
        """Continue in memory, and say so once: results from now on are not kept after the run."""
        if self.fault is None:
            self.fault = f"{type(exc).__name__}: {exc}"
            log.warning(
                "the cache at %s %s (%s); this run goes on with an in-memory cache, so its new "
                "results are returned but not kept for the next run. Free some space, fix the "
                "directory's permissions, or move the damaged cache away (or pass another cache_dir).",
                self.directory, what, self.fault)
        self.close()
        self._disk = self._memo = None

    def pacing_fault(self, exc: BaseException) -> None:
        """The pacer could not write its schedule here: the disk is as good as gone for this run."""
        self._give_up_disk("cannot store the pacing schedule", exc)

    @property
    def store(self) -> diskcache.Cache | None:
        """The underlying diskcache (shared pacing state lives there too), or None in memory."""
        return self._disk

    def _store_for(self, key: str) -> diskcache.Cache | None:
        # One read of each: another thread may give the disk up meanwhile.
        memo, disk = self._memo, self._disk
        if disk is None or memo is None:
            return None
        return memo if key.startswith(_EVICTABLE_PREFIXES) else disk

    def _set(self, key: str, value: Any) -> None:
        disk = self._store_for(key)
        if disk is not None:
            try:
                disk.set(key, value)
                return
            except CACHE_FAULTS as exc:
                self._give_up_disk("cannot store results", exc)
        self._mem[key] = value

    def _get_many(self, keys: Sequence[str]) -> dict[str, Any]:
        """Values of many keys, from memory first, then from disk in a few SQL queries."""
        found = {k: self._mem[k] for k in keys if k in self._mem}
        by_store: dict[int, tuple[diskcache.Cache, list[str]]] = {}
        for k in keys:
            disk = self._store_for(k)
            if disk is not None and k not in found:
                by_store.setdefault(id(disk), (disk, []))[1].append(k)
        for disk, wanted in by_store.values():
            try:
                found.update(self._disk_many(disk, wanted))
            except CACHE_FAULTS as exc:
                self._give_up_disk("cannot be read", exc)
                break
        return found

    @staticmethod
    def _disk_many(disk: diskcache.Cache, keys: Sequence[str]) -> dict[str, Any]:
        """Values of many keys in a few SQL queries instead of one each.

        diskcache has no multi-get, and one ``get`` per row is what made a cached
        re-run of 10,000 rows cost a second. Its table layout (string keys stored
        raw, short strings stored raw with ``MODE_RAW``) has been stable since
        diskcache 4; anything stored another way falls back to the public ``get``.
        """
        found: dict[str, Any] = {}
        now = time.time()
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 500):  # SQLite's bound-parameter limit is 999 on old builds
            chunk = unique[start:start + 500]
            rows = disk._sql(
                f"SELECT key, mode, value FROM Cache WHERE raw = 1 AND key IN ({','.join('?' * len(chunk))})"
                " AND (expire_time IS NULL OR expire_time > ?)", (*chunk, now)).fetchall()
            for key, mode, value in rows:
                found[key] = value if mode == MODE_RAW else disk.get(key)
        return found

    # file hash memo -----------------------------------------------------
    def get_hashes(self, items: Sequence[tuple[str, os.stat_result]]) -> list[str | None]:
        """The remembered SHA-256 of each (path, stat), or None where unknown or changed."""
        keys = [_stat_key(path, st.st_size, st.st_mtime_ns) for path, st in items]
        found = self._get_many(keys)
        return [found.get(k) for k in keys]

    def set_hash(self, path: str, st: os.stat_result, digest: str) -> None:
        self._set(_stat_key(path, st.st_size, st.st_mtime_ns), digest)

    # results --------------------------------------------------------------
    def get_results(self, keys: Sequence[str]) -> dict[str, TagResult]:
        """Cached results by key; misses are absent, and a damaged entry counts as a miss."""
        out: dict[str, TagResult] = {}
        for key, value in self.get_json(keys).items():
            try:
                out[key] = TagResult.from_json(value)
            except (ValueError, TypeError):
                continue
        return out

    def set_result(self, key: str, result: TagResult) -> None:
        self.set_json(key, result.to_json())

    # backends' own intermediate values -----------------------------------
    def get_json(self, keys: Sequence[str]) -> dict[str, Any]:
        """JSON values by key (batched like the results); a damaged entry counts as a miss."""
        out: dict[str, Any] = {}
        for key, raw in self._get_many(keys).items():
            try:
                out[key] = json.loads(raw)
            except (ValueError, TypeError):
                continue
        return out

    def set_json(self, key: str, value: Any) -> None:
        self._set(key, json.dumps(value, ensure_ascii=False))

    # raw bytes (embeddings: float16, 2.5 KB for 1280 numbers) ----------------
    def get_bytes(self, keys: Sequence[str]) -> dict[str, bytes]:
        """Byte values by key (batched); anything else stored under a key counts as a miss."""
        return {k: bytes(v) for k, v in self._get_many(keys).items() if isinstance(v, (bytes, memoryview))}

    def set_bytes(self, key: str, value: bytes) -> None:
        self._set(key, bytes(value))

    def set_bytes_many(self, items: dict[str, bytes]) -> None:
        """Store many byte values in one SQLite transaction (one commit instead of one each:
        storing a batch of embeddings one by one cost milliseconds per image)."""
        disk = self._disk
        if disk is not None and items:
            try:
                with disk.transact():
                    for key, value in items.items():
                        disk.set(key, bytes(value))
                return
            except CACHE_FAULTS as exc:
                self._give_up_disk("cannot store results", exc)
        self._mem.update((k, bytes(v)) for k, v in items.items())

    # claims ----------------------------------------------------------------
    def claim(self, key: str, owner: str, lease: float) -> bool:
        """Claim ``key`` for ``owner`` for ``lease`` seconds; True when ``owner`` holds it now.

        diskcache's ``add`` is one atomic insert that treats an expired entry as absent,
        so of two processes claiming at once exactly one wins, and a dead owner's claim
        is free again once its lease has run out. Without a disk there is nobody to share
        with: every claim is granted.

        >>> c = Cache(None)
        >>> c.claim("k", "me", 60.0)
        True
        """
        disk = self._disk
        if disk is None:
            return True
        try:
            return bool(disk.add(key, owner, expire=lease)) or disk.get(key) == owner
        except CACHE_FAULTS as exc:
            self._give_up_disk("cannot store claims", exc)
            return True

    def holders(self, keys: Sequence[str]) -> dict[str, str]:
        """Owner of each claim among ``keys`` that is held and not lapsed (one read, no write)."""
        disk = self._disk
        if disk is None or not keys:
            return {}
        try:
            return {k: v for k, v in self._disk_many(disk, keys).items() if isinstance(v, str)}
        except CACHE_FAULTS as exc:
            self._give_up_disk("cannot be read", exc)
            return {}

    def renew(self, keys: Sequence[str], owner: str, lease: float) -> None:
        """Extend ``owner``'s claims on ``keys`` by ``lease`` seconds from now."""
        disk = self._disk
        if disk is None or not keys:
            return
        try:
            with disk.transact():  # read and extend as one step: never extend another's claim
                for key in keys:
                    if disk.get(key) == owner:
                        disk.touch(key, expire=lease)
        except CACHE_FAULTS as exc:
            self._give_up_disk("cannot store claims", exc)

    def release(self, keys: Sequence[str], owner: str) -> None:
        """Give up ``owner``'s claims on ``keys`` (the answers are stored, or will not come)."""
        disk = self._disk
        if disk is None or not keys:
            return
        try:
            with disk.transact():
                for key in keys:
                    if disk.get(key) == owner:
                        disk.delete(key)
        except CACHE_FAULTS as exc:
            self._give_up_disk("cannot store claims", exc)

    def __len__(self) -> int:
        disk = self._disk
        if disk is not None:
            try:
                return len(disk) + len(self._mem)
            except CACHE_FAULTS as exc:
                self._give_up_disk("cannot be read", exc)
        return len(self._mem)

    def close(self) -> None:
        for disk in (self._disk, self._memo):
            if disk is not None:
                try:
                    disk.close()
                except CACHE_FAULTS:
                    pass

    def __repr__(self) -> str:
        return f"Cache({str(self.directory) if self.directory else 'memory'!r})"
