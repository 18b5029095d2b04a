"""The scan phase: every row becomes an image digest, each unique digest a job or a cache hit.

Runs in the caller's thread. Paths are looked up in the stat memo (path, size,
mtime) first, so a re-run over unchanged files reads nothing; then each unique
digest is looked up in the result cache. Rows that cannot be read get their
error here, named after their own row and file.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from .. import _constants as C
from .. import images as _images
from .._exceptions import ImageError, ImageTagsError
from .._types import TagResult
from ..infra.cache import result_key
from .settings import RunSettings


@dataclass
class Job:
    """One unique image to tag, and the rows that show it."""

    digest: str
    value: Any  # the first row's input (path, bytes or PIL image)
    source: str
    rows: list[int] = field(default_factory=list)
    #: The bytes the scan read to hash, when it could keep them: the tag phase then
    #: prepares from them instead of reading the file again.
    data: bytes | None = field(default=None, repr=False)


@dataclass
class Scan:
    n: int
    digests: list[str | None]
    errors: dict[int, ImageTagsError]
    results: dict[str, TagResult]  # cached results by digest
    jobs: list[Job]
    sources: list[str | None]  # each row's own name for messages (its path, or row and kind)


def row_label(index_value: Any, pos: int) -> str:
    return f"row {index_value!r}" if index_value is not None else f"row {pos}"


def source_name(value: Any, index_value: Any, pos: int) -> str:
    """How messages name a row's image: its path, or its row and what it holds."""
    if isinstance(value, (str, os.PathLike)):
        return os.fspath(value)
    return f"{row_label(index_value, pos)} {_images.describe(value)}"


def scan(values: Sequence[Any], labels: Sequence[Any], col: str, settings: RunSettings) -> Scan:
    cache, identity, lang = settings.cache, settings.backend.cache_identity(), settings.lang
    n = len(values)
    digests: list[str | None] = [None] * n
    errors: dict[int, ImageTagsError] = {}
    to_read: list[tuple[int, str, os.stat_result | None]] = []
    memo: dict[str, str] = {}  # this run: same path twice is hashed once

    stat_rows: list[tuple[int, str, os.stat_result]] = []
    url_first: dict[str, int] = {}  # each URL is downloaded once; its repeats take that outcome
    url_repeats: list[tuple[int, int]] = []
    for pos, value in enumerate(values):
        if _images.is_missing(value):
            errors[pos] = ImageError(f"{row_label(labels[pos], pos)}: no image (the {col!r} cell is empty)")
            continue
        if _images.is_url(value):
            # Downloaded on every run (the picture behind a URL may change); results are
            # still cached by the bytes' digest, so an unchanged image is not tagged again.
            if value in url_first:
                url_repeats.append((pos, url_first[value]))
            else:
                url_first[value] = pos
                to_read.append((pos, value, None))
        elif isinstance(value, (str, os.PathLike)):
            path = os.path.abspath(os.path.expanduser(os.fspath(value)))
            try:
                stat_rows.append((pos, path, os.stat(path)))
            except OSError:
                to_read.append((pos, path, None))  # read_bytes below produces the precise message
        else:
            to_read.append((pos, "", None))

    # One batched memo lookup for every file: a re-run over unchanged files reads none of them.
    known = cache.get_hashes([(path, st) for _, path, st in stat_rows])
    for (pos, path, st), digest in zip(stat_rows, known):
        if digest is not None:
            digests[pos] = memo[path] = digest
        elif path not in memo:
            memo[path] = ""  # claimed: the same path later in the column waits for this read
            to_read.append((pos, path, st))

    kept: dict[str, bytes] = {}  # digest -> bytes read, for the tag phase (bounded)
    room = [C.READ_ONCE_BYTES]
    lock = threading.Lock()

    def digest_of(item: tuple[int, str, os.stat_result | None]) -> tuple[int, str | ImageTagsError]:
        pos, path, st = item
        value = values[pos]
        name = source_name(value, labels[pos], pos)
        try:
            data = _images.read_bytes(value, source=name, max_file_bytes=settings.max_file_bytes)
        except ImageTagsError as exc:
            return pos, exc
        digest = _images.sha256(data)
        if path:  # bytes and PIL images are in memory anyway
            with lock:
                if len(data) <= room[0] and digest not in kept:
                    kept[digest] = data
                    room[0] -= len(data)
        if path and st is not None:
            cache.set_hash(path, st, digest)
        return pos, digest

    to_read_paths = {pos: path for pos, path, _ in to_read if path}
    path_errors: dict[str, ImageTagsError] = {}
    if to_read:
        # Hashing is I/O plus hashlib, both of which release the GIL.
        with ThreadPoolExecutor(max_workers=min(8, len(to_read))) as pool:
            for pos, res in pool.map(digest_of, to_read):
                if isinstance(res, ImageTagsError):
                    errors[pos] = res
                    if to_read_paths.get(pos):
                        path_errors[to_read_paths[pos]] = res
                else:
                    digests[pos] = res
                    value = values[pos]
                    if isinstance(value, (str, os.PathLike)) and not _images.is_url(value):
                        memo[os.path.abspath(os.path.expanduser(os.fspath(value)))] = res
    for pos, first in url_repeats:
        if first in errors:
            errors[pos] = errors[first]
        else:
            digests[pos] = digests[first]
    # Repeated paths take the outcome of their first occurrence, read above.
    for pos, path, _ in stat_rows:
        if digests[pos] is None and pos not in errors:
            if memo.get(path):
                digests[pos] = memo[path]
            elif path in path_errors:
                errors[pos] = path_errors[path]

    unique = list(dict.fromkeys(d for d in digests if d is not None))
    hits = cache.get_results([result_key(identity, lang, d) for d in unique])
    results: dict[str, TagResult] = {}
    for digest in unique:
        hit = hits.get(result_key(identity, lang, digest))
        if hit is not None:
            results[digest] = hit
    jobs: dict[str, Job] = {}
    for pos, digest in enumerate(digests):
        if digest is None or digest in results:
            continue
        job = jobs.get(digest)
        if job is not None:
            job.rows.append(pos)
            continue
        jobs[digest] = Job(digest=digest, value=values[pos], source=source_name(values[pos], labels[pos], pos),
                           rows=[pos], data=kept.pop(digest, None))
    sources = [None if _images.is_missing(v) else source_name(v, labels[pos], pos)
               for pos, v in enumerate(values)]
    return Scan(n=n, digests=digests, errors=errors, results=results, jobs=list(jobs.values()),
                sources=sources)
