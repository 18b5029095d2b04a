"""The run: one engine behind every door (accessor, CLI, server).

A run has two phases.

1. **Scan** (in the caller's thread): every row becomes an image digest. Paths
   are looked up in the stat memo (path, size, mtime) first, so a re-run over
   unchanged files reads nothing; then each unique digest is looked up in the
   result cache. Rows that cannot be read get their error here.
2. **Tag** (in an event loop on a worker thread): unique uncached images are
   prepared a few at a time (never all in memory), paced to the backend's rate
   limit, sent concurrently, retried when transient, and each result is stored in
   the cache the moment it arrives, so an interrupt or a crash loses only the
   calls in flight.

The loop always runs on its own thread, so the engine behaves the same in a
script and in Jupyter (where a loop is already running), and Ctrl-C in the
caller's thread cancels the run cleanly.
"""

from __future__ import annotations

import asyncio
import math
import os
import threading
from collections.abc import Callable, Coroutine, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import pandas as pd

from . import _constants as C
from . import images as _images
from ._exceptions import (
    AuthenticationError,
    BudgetExceededError,
    ConfigurationError,
    ImageError,
    ImageTagsError,
    InsufficientCreditsError,
    RateLimitError,
)
from ._types import Estimate, PreparedImage, RateLimit, TagResult
from .backends import Backend, resolve_backend
from .cache import Cache, default_cache_dir, result_key
from .ratelimit import Pacer
from .retry import retry_delay, should_retry

T = TypeVar("T")

#: Columns ``generate`` adds, in order.
RESULT_COLUMNS = ("tags", "tag_scores", "title", "description", "error_code", "error",
                  "request_id", "credits_used", "cached", "backend")


# --------------------------------------------------------------------------- settings
@dataclass
class RunSettings:
    """Everything a run needs, settled once from arguments (then env, then defaults)."""

    backend: Backend
    lang: str
    cache: Cache
    rate_limit: RateLimit | None
    max_concurrency: int
    max_retries: int
    max_credits: float | None
    on_error: Literal["record", "raise"]
    progress: bool


def settle(*, lang: str = C.DEFAULT_LANG, backend: str | Backend = "auto", api_key: str | None = None,
           base_url: str | None = None, timeout: float | None = None, cache_dir: Any = None,
           max_concurrency: int | None = None, rate_limit: Any = None, max_retries: int | None = None,
           max_credits: float | None = None, on_error: str = "record", progress: bool = True,
           ocr: bool | None = None) -> RunSettings:
    """Validate options and build the backend and cache. Raises ConfigurationError."""
    if lang not in C.LANGUAGES:
        raise ConfigurationError(f"lang {lang!r} is not supported; use one of {', '.join(C.LANGUAGES)}")
    if on_error not in ("record", "raise"):
        raise ConfigurationError(f"on_error must be 'record' or 'raise', not {on_error!r}")
    if max_credits is not None and (not isinstance(max_credits, (int, float)) or max_credits < 0):
        raise ConfigurationError(f"max_credits must be a non-negative number, not {max_credits!r}")
    if max_concurrency is not None and (not isinstance(max_concurrency, int) or max_concurrency < 1):
        raise ConfigurationError(f"max_concurrency must be a positive integer, not {max_concurrency!r}")
    if max_retries is not None and (not isinstance(max_retries, int) or max_retries < 0):
        raise ConfigurationError(f"max_retries must be a non-negative integer, not {max_retries!r}")
    rate = RateLimit.parse(rate_limit) if rate_limit is not None else None
    be = resolve_backend(backend, api_key=api_key, base_url=base_url, timeout=timeout,
                         rate_limit=rate, ocr=ocr)
    if rate is None:
        rate = be.rate_limit
    if cache_dir is False:
        cache = Cache(None)
    else:
        cache = Cache(Path(cache_dir).expanduser() if cache_dir not in (None, True) else default_cache_dir())
    be.attach_cache(cache)
    # Each backend sizes its own default (the API's from its rate limit; the
    # CPU-bound offline tagger to one batch at a time).
    concurrency = max_concurrency or be.max_concurrency
    return RunSettings(
        backend=be, lang=lang, cache=cache, rate_limit=rate, max_concurrency=concurrency,
        max_retries=C.DEFAULT_MAX_RETRIES if max_retries is None else max_retries,
        max_credits=None if max_credits is None else float(max_credits),
        on_error=on_error,  # type: ignore[arg-type]
        progress=progress,
    )


# --------------------------------------------------------------------------- scan
@dataclass
class _Job:
    """One unique image to tag, and the rows that show it."""

    digest: str
    value: Any  # the first row's input (path, bytes or PIL image)
    source: str
    rows: list[int] = field(default_factory=list)


@dataclass
class _Scan:
    n: int
    digests: list[str | None]
    errors: dict[int, ImageTagsError]
    results: dict[str, TagResult]  # cached results by digest
    jobs: list[_Job]


def _row_label(index_value: Any, pos: int) -> str:
    return f"row {index_value!r}" if index_value is not None else f"row {pos}"


def _scan(values: Sequence[Any], labels: Sequence[Any], col: str, settings: RunSettings) -> _Scan:
    cache, identity, lang = settings.cache, settings.backend.cache_identity(), settings.lang
    n = len(values)
    digests: list[str | None] = [None] * n
    errors: dict[int, ImageTagsError] = {}
    to_read: list[tuple[int, str, os.stat_result | None]] = []
    memo: dict[str, str] = {}  # this run: same path twice is hashed once

    stat_rows: list[tuple[int, str, os.stat_result]] = []
    for pos, value in enumerate(values):
        if _images.is_missing(value):
            errors[pos] = ImageError(f"{_row_label(labels[pos], pos)}: no image (the {col!r} cell is empty)")
            continue
        if isinstance(value, (str, os.PathLike)):
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

    def digest_of(item: tuple[int, str, os.stat_result | None]) -> tuple[int, str | ImageTagsError]:
        pos, path, st = item
        value = values[pos]
        name = os.fspath(value) if path else f"{_row_label(labels[pos], pos)} {_images.describe(value)}"
        try:
            data = _images.read_bytes(value, source=name)
        except ImageTagsError as exc:
            return pos, exc
        digest = _images.sha256(data)
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
                    if isinstance(value, (str, os.PathLike)):
                        memo[os.path.abspath(os.path.expanduser(os.fspath(value)))] = res
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
    jobs: dict[str, _Job] = {}
    for pos, digest in enumerate(digests):
        if digest is None or digest in results:
            continue
        job = jobs.get(digest)
        if job is not None:
            job.rows.append(pos)
            continue
        value = values[pos]
        source = os.fspath(value) if isinstance(value, (str, os.PathLike)) else \
            f"{_row_label(labels[pos], pos)} {_images.describe(value)}"
        jobs[digest] = _Job(digest=digest, value=value, source=source, rows=[pos])
    return _Scan(n=n, digests=digests, errors=errors, results=results, jobs=list(jobs.values()))


# --------------------------------------------------------------------------- tag
class _Progress:
    """tqdm.auto bar counting rows: done, cached, failed, credits left."""

    def __init__(self, total: int, enabled: bool, backend: str) -> None:
        self.ok = self.cached = self.failed = 0
        self.credits_left: float | None = None
        self._bar = None
        if enabled and total:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc=f"imagetags ({backend})", unit="img")

    def add(self, *, ok: int = 0, cached: int = 0, failed: int = 0, credits_left: float | None = None) -> None:
        self.ok += ok
        self.cached += cached
        self.failed += failed
        if credits_left is not None:
            self.credits_left = credits_left
        if self._bar is not None:
            self._bar.update(ok + cached + failed)
            post = {"ok": self.ok, "cached": self.cached, "failed": self.failed}
            if self.credits_left is not None:
                post["credits_left"] = f"{self.credits_left:g}"
            self._bar.set_postfix(post, refresh=False)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


class _Run:
    """State of the tag phase; lives inside the event loop's thread."""

    def __init__(self, settings: RunSettings, jobs: list[_Job], progress: _Progress) -> None:
        self.s = settings
        self.jobs = jobs
        self.progress = progress
        self.outcome: dict[str, TagResult | ImageTagsError] = {}
        self.stop: ImageTagsError | None = None  # stop sending (2002 / budget); not an exception to raise
        self.fatal: BaseException | None = None  # stop everything and raise
        self.spent = 0.0
        self.reserved = 0.0
        be = settings.backend
        self.pacer = (Pacer(settings.rate_limit, be.limiter_id() or be.cache_identity(), settings.cache.store)
                      if settings.rate_limit is not None else None)
        self.key_prefix = (be.cache_identity(), settings.lang)

    # A job finished for good (result or final error).
    def _finish(self, job: _Job, outcome: TagResult | ImageTagsError) -> None:
        self.outcome[job.digest] = outcome
        if isinstance(outcome, TagResult):
            self.s.cache.set_result(result_key(*self.key_prefix, job.digest), outcome)
            self.spent += outcome.credits_used
            self.progress.add(ok=len(job.rows), credits_left=outcome.credits_remaining)
            return
        self.progress.add(failed=len(job.rows))
        if isinstance(outcome, AuthenticationError):
            self.fatal = outcome
        elif isinstance(outcome, InsufficientCreditsError) and self.stop is None:
            self.stop = outcome
        elif self.s.on_error == "raise" and self.fatal is None:
            self.fatal = outcome

    async def _prepared(self, queue: asyncio.Queue) -> None:
        """Producer: prepare images a few ahead of the senders (bounded memory)."""
        validate = not self.s.backend.decodes_images
        for job in self.jobs:
            if self.stop is not None or self.fatal is not None:
                break
            try:
                img: PreparedImage | ImageTagsError = await asyncio.to_thread(
                    _prepare_job, job, validate)
            except ImageTagsError as exc:
                img = exc
            await queue.put((job, img))
        await queue.put(None)

    def _cost(self, n: int) -> float:
        """Credits to hold for n calls while they are in flight (0 when no budget is set)."""
        be = self.s.backend
        return n * be.credits_per_call if (self.s.max_credits is not None and be.costs_credits) else 0.0

    def _budget_allows(self, n: int) -> bool:
        if self.s.max_credits is None or not self.s.backend.costs_credits:
            return True
        need = self._cost(n)
        if self.spent + self.reserved + need > self.s.max_credits + 1e-9:
            self.stop = BudgetExceededError(
                f"not sent: max_credits={self.s.max_credits:g} would be exceeded "
                f"({self.spent:g} spent, {self.reserved:g} in flight)")
            return False
        self.reserved += need
        return True

    async def _attempt(self, batch: list[tuple[_Job, PreparedImage]], sem: asyncio.Semaphore) -> None:
        be = self.s.backend
        reserved = self._cost(len(batch))
        try:
            attempt = 0
            pending = batch
            while pending:
                results = await be.tag_batch([img for _, img in pending], self.s.lang)
                retry: list[tuple[_Job, PreparedImage]] = []
                wait = 0.0
                for (job, img), res in zip(pending, results):
                    if isinstance(res, TagResult):
                        if not res.backend:
                            res = TagResult(**{**res.to_json(), "backend": be.name})
                        self._finish(job, res)
                    elif isinstance(res, ImageTagsError) and should_retry(res) and attempt < self.s.max_retries:
                        retry.append((job, img))
                        delay = retry_delay(attempt, getattr(res, "retry_after", None))
                        wait = max(wait, delay)
                        if isinstance(res, RateLimitError) and self.pacer is not None:
                            self.pacer.pause(delay)  # every worker, every process
                    elif isinstance(res, ImageTagsError):
                        self._finish(job, res)
                    else:  # a bug or an unexpected library error: record it, never crash the run
                        err = ImageTagsError(f"{job.source}: {type(res).__name__}: {res}")
                        self._finish(job, err)
                if self.fatal is not None:
                    return
                pending = retry
                if pending:
                    attempt += 1
                    await asyncio.sleep(wait)
                    if self.pacer is not None:
                        await self.pacer.acquire()
        finally:
            self.reserved -= reserved
            sem.release()

    async def run(self) -> None:
        be = self.s.backend
        queue: asyncio.Queue = asyncio.Queue(maxsize=max(2, 2 * self.s.max_concurrency * be.max_batch))
        producer = asyncio.create_task(self._prepared(queue))
        sem = asyncio.Semaphore(self.s.max_concurrency)
        tasks: set[asyncio.Task] = set()
        try:
            try:
                await self._dispatch(queue, sem, tasks)
            except asyncio.CancelledError:
                # Ctrl-C: send nothing more, but let calls already sent (and paid for)
                # land in the cache, so a re-run does not pay for them twice.
                self.stop = self.stop or ImageTagsError("interrupted")
                if tasks:
                    await asyncio.wait(set(tasks), timeout=C.INTERRUPT_GRACE)
                raise
            if self.fatal is not None:
                for t in tasks:
                    t.cancel()
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            producer.cancel()
            for t in list(tasks):
                t.cancel()
            await asyncio.gather(producer, *tasks, return_exceptions=True)
            await be.aclose()

    async def _dispatch(self, queue: asyncio.Queue, sem: asyncio.Semaphore, tasks: set[asyncio.Task]) -> None:
        """Take prepared images in batches, wait for a slot and a pace, start a call."""
        be = self.s.backend
        done = False
        while not done and self.fatal is None and self.stop is None:
            batch: list[tuple[_Job, PreparedImage]] = []
            item = await queue.get()
            while item is not None:
                job, img = item
                if isinstance(img, ImageTagsError):
                    self._finish(job, img)
                else:
                    batch.append((job, img))
                if len(batch) >= be.max_batch or queue.empty() or self.fatal is not None:
                    break
                item = await queue.get()
            done = item is None
            if not batch or self.fatal is not None:
                continue
            if not self._budget_allows(len(batch)):
                return
            await sem.acquire()
            try:
                if self.pacer is not None:
                    await self.pacer.acquire()
            except BaseException:
                sem.release()
                self.reserved -= self._cost(len(batch))
                raise
            if self.fatal is not None or self.stop is not None:
                sem.release()
                self.reserved -= self._cost(len(batch))
                return
            task = asyncio.create_task(self._attempt(batch, sem))
            tasks.add(task)
            task.add_done_callback(tasks.discard)


def _prepare_job(job: _Job, validate: bool) -> PreparedImage:
    data = _images.read_bytes(job.value, source=job.source)
    return _images.prepare(data, source=job.source, digest=job.digest, validate=validate)


def _run_in_thread(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine on a fresh loop in a worker thread; Ctrl-C cancels it cleanly.

    A thread (not ``asyncio.run`` here) because Jupyter already runs a loop in
    this thread, and because it gives one interrupt path for scripts and notebooks.
    """
    box: dict[str, Any] = {}
    ready = threading.Event()

    def target() -> None:
        loop = asyncio.new_event_loop()
        try:
            task = loop.create_task(factory())
            box["loop"], box["task"] = loop, task
            ready.set()
            box["value"] = loop.run_until_complete(task)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            box["error"] = exc
        finally:
            ready.set()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    thread = threading.Thread(target=target, name="imagetags-engine", daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            thread.join(0.1)
    except KeyboardInterrupt:
        ready.wait(5)
        loop, task = box.get("loop"), box.get("task")
        if loop is not None and task is not None and not loop.is_closed():
            loop.call_soon_threadsafe(task.cancel)
        thread.join(30)
        raise
    if "error" in box:
        raise box["error"]
    return box["value"]


# --------------------------------------------------------------------------- public
def _column(df: pd.DataFrame, col: str) -> pd.Series:
    if not isinstance(df, pd.DataFrame):
        raise ConfigurationError(f"expected a pandas DataFrame, got {type(df).__name__}")
    if col not in df.columns:
        raise ConfigurationError(
            f"column {col!r} not found; the frame has {', '.join(map(str, df.columns)) or 'no columns'}. "
            "Pass col= with the name of the column that holds image paths.")
    return df[col]


def generate(df: pd.DataFrame, col: str = "path", lang: str = C.DEFAULT_LANG, *,
             backend: str | Backend = "auto", api_key: str | None = None, base_url: str | None = None,
             cache_dir: str | os.PathLike | bool | None = None, max_concurrency: int | None = None,
             rate_limit: float | str | RateLimit | None = None, max_retries: int | None = None,
             max_credits: float | None = None, on_error: Literal["record", "raise"] = "record",
             progress: bool = True, timeout: float | None = None, ocr: bool | None = None) -> pd.DataFrame:
    """Tags, title and description for every image in ``df[col]``; returns a new DataFrame.

    The input's columns and index are kept; added columns are ``RESULT_COLUMNS``.
    Rows that fail carry ``error`` (and the API's ``error_code``) instead of raising,
    unless ``on_error="raise"``. A bad key (1002/1003) raises AuthenticationError;
    everything finished before it stays cached.

    >>> out = generate(pd.DataFrame({"path": ["data/samples/chelsea.jpg"]}), backend="local")  # doctest: +SKIP
    >>> out.loc[0, "tags"][:2]  # doctest: +SKIP
    ['cat', 'tabby cat']
    """
    series = _column(df, col)
    settings = settle(lang=lang, backend=backend, api_key=api_key, base_url=base_url, timeout=timeout,
                      cache_dir=cache_dir, max_concurrency=max_concurrency, rate_limit=rate_limit,
                      max_retries=max_retries, max_credits=max_credits, on_error=on_error,
                      progress=progress, ocr=ocr)
    try:
        return _generate(df, series, col, settings)
    finally:
        settings.cache.close()


def _generate(df: pd.DataFrame, series: pd.Series, col: str, settings: RunSettings) -> pd.DataFrame:
    values = series.tolist()
    scan = _scan(values, list(df.index), col, settings)
    if settings.on_error == "raise" and scan.errors:
        raise scan.errors[min(scan.errors)]
    progress = _Progress(scan.n, settings.progress, settings.backend.name)
    cached_rows = sum(1 for d in scan.digests if d is not None and d in scan.results)
    progress.add(cached=cached_rows, failed=len(scan.errors))
    run = _Run(settings, scan.jobs, progress)
    try:
        if scan.jobs:
            _run_in_thread(run.run)
    finally:
        progress.close()
    if run.fatal is not None:
        raise run.fatal
    return _assemble(df, scan, run, settings)


def _assemble(df: pd.DataFrame, scan: _Scan, run: _Run, settings: RunSettings) -> pd.DataFrame:
    n = scan.n
    tags: list[list[str]] = [[] for _ in range(n)]
    scores: list[list[float] | None] = [None] * n
    title: list[str | None] = [None] * n
    desc: list[str | None] = [None] * n
    code: list[int | None] = [None] * n
    error: list[str | None] = [None] * n
    rid: list[str | None] = [None] * n
    credits = [0.0] * n
    cached = [False] * n
    be_name: list[str] = [settings.backend.name] * n
    first_row: dict[str, int] = {}
    unsent: ImageTagsError = ImageTagsError("not sent: the run stopped before this image")
    if isinstance(run.stop, InsufficientCreditsError):
        unsent = InsufficientCreditsError(
            "not sent: the account ran out of credits (2002) before this image; top up and re-run "
            "(finished rows are cached and will not be paid for again)", code=C.CODE_NO_CREDITS)
    elif run.stop is not None:
        unsent = run.stop
    for pos in range(n):
        err: ImageTagsError | None = scan.errors.get(pos)
        res: TagResult | None = None
        digest = scan.digests[pos]
        if err is None and digest is not None:
            if digest in scan.results:
                res, cached[pos] = scan.results[digest], True
            else:
                out = run.outcome.get(digest)
                if isinstance(out, TagResult):
                    res = out
                elif isinstance(out, ImageTagsError):
                    err = out
                else:  # never sent: credits ran out or the budget stopped the run
                    err = unsent
        if res is not None:
            tags[pos] = list(res.tags)
            scores[pos] = list(res.tag_scores) if res.tag_scores is not None else None
            title[pos], desc[pos], rid[pos] = res.title, res.description, res.request_id
            be_name[pos] = res.backend or settings.backend.name
            if not cached[pos] and digest not in first_row:
                first_row[digest] = pos  # credits are charged to the first row showing the image
                credits[pos] = res.credits_used
        elif err is not None:
            code[pos] = err.code
            error[pos] = str(err)
    out = df.copy()
    idx = df.index
    out["tags"] = pd.Series(tags, index=idx, dtype=object)
    out["tag_scores"] = pd.Series(scores, index=idx, dtype=object)
    out["title"] = pd.Series(title, index=idx, dtype=object)
    out["description"] = pd.Series(desc, index=idx, dtype=object)
    out["error_code"] = pd.array(code, dtype="Int64")
    out["error"] = pd.Series(error, index=idx, dtype=object)
    out["request_id"] = pd.Series(rid, index=idx, dtype=object)
    out["credits_used"] = pd.Series(credits, index=idx, dtype=float)
    out["cached"] = pd.Series(cached, index=idx, dtype=bool)
    out["backend"] = pd.Series(be_name, index=idx, dtype=object)
    return out


def remember(items: "Iterable[tuple[str | os.PathLike, TagResult]]", lang: str = C.DEFAULT_LANG, *,
             backend: str | Backend = "auto", api_key: str | None = None, base_url: str | None = None,
             cache_dir: str | os.PathLike | bool | None = None) -> int:
    """Store known results for image files so the next run reuses them.

    For files whose bytes changed but whose picture did not (tags written into
    their metadata): the cache is keyed on the bytes, so without this the next
    run would pay for every such image again. The options must be the ones the
    results were made with; they choose the cache entry. Returns how many were stored.
    """
    settings = settle(lang=lang, backend=backend, api_key=api_key, base_url=base_url,
                      cache_dir=cache_dir, progress=False)
    stored = 0
    try:
        identity = settings.backend.cache_identity()
        for path, result in items:
            abspath = os.path.abspath(os.path.expanduser(os.fspath(path)))
            st = os.stat(abspath)
            digest = _images.sha256(_images.read_bytes(abspath))
            settings.cache.set_result(result_key(identity, lang, digest), result)
            settings.cache.set_hash(abspath, st, digest)  # the next scan does not even re-read it
            stored += 1
    finally:
        settings.cache.close()
    return stored


def estimate(df: pd.DataFrame, col: str = "path", lang: str = C.DEFAULT_LANG, *,
             backend: str | Backend = "auto", api_key: str | None = None, base_url: str | None = None,
             cache_dir: str | os.PathLike | bool | None = None, rate_limit: Any = None,
             ocr: bool | None = None, **_ignored: Any) -> Estimate:
    """What ``generate`` would do: rows, unique images, cached, calls, credits, time. Calls nothing.

    Unread files are read and hashed (that is how the cache is consulted), and the
    hashes are remembered, so the real run does not hash them again.

    >>> print(estimate(pd.DataFrame({"path": ["a.jpg"]}), backend="local", cache_dir=False))  # doctest: +SKIP
    1 rows, 0 unique images, 0 cached, 1 unreadable; 0 calls, ...
    """
    series = _column(df, col)
    settings = settle(lang=lang, backend=backend, api_key=api_key, base_url=base_url, cache_dir=cache_dir,
                      rate_limit=rate_limit, progress=False, ocr=ocr)
    try:
        scan = _scan(series.tolist(), list(df.index), col, settings)
    finally:
        settings.cache.close()
    be = settings.backend
    calls = len(scan.jobs)
    seconds = None
    if settings.rate_limit is not None:
        seconds = calls * settings.rate_limit.interval * (1 + C.RATE_LIMIT_SAFETY)
    unique = len(set(d for d in scan.digests if d is not None))
    return Estimate(
        rows=scan.n, unique_images=unique, cached=len(scan.results), invalid=len(scan.errors),
        calls_needed=calls, credits_needed=calls * be.credits_per_call if be.costs_credits else 0.0,
        seconds_needed=seconds if seconds is not None else math.nan, backend=be.name,
        rate_limit=str(settings.rate_limit) if settings.rate_limit else None,
        errors={pos: str(e) for pos, e in scan.errors.items()},
    )
