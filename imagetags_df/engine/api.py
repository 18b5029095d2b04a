"""The run: one engine behind every door (accessor, CLI, server, Dask).

A run is four phases, each in its own module:

1. :mod:`.settings` settles the options once (argument, environment, default);
2. :mod:`.scan` turns every row into an image digest and looks each up in the cache;
3. :mod:`.run` tags the unique uncached images: paced, concurrent, retried, cached
   the moment each answer arrives, interrupt-safe;
4. :mod:`.assemble` builds the result frame, one answer per row.

This module composes them into the public :func:`generate`, :func:`estimate`
and :func:`remember`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from typing import Any, Literal

import pandas as pd

from .. import _constants as C
from .. import images as _images
from .._exceptions import ConfigurationError, ImageTagsError, RunInterrupted
from .._types import Estimate, RateLimit, TagResult
from ..backends import Backend
from ..infra.cache import result_key
from .assemble import RESULT_COLUMNS, assemble
from .run import Progress, Run, run_in_thread
from .scan import scan
from .settings import RunSettings, settle

__all__ = ["generate", "estimate", "remember", "ResultMemory", "RESULT_COLUMNS", "RunSettings", "settle"]


def check_column(columns: Iterable[Any], col: str) -> None:
    """ConfigurationError, naming the frame's columns, when ``col`` is not one of them."""
    names = list(columns)
    if col not in names:
        raise ConfigurationError(
            f"column {col!r} not found; the frame has {', '.join(map(str, names)) or 'no columns'}. "
            "Pass col= with the name of the column that holds image paths.")


def _column(df: pd.DataFrame, col: str) -> pd.Series:
    if not isinstance(df, pd.DataFrame):
        raise ConfigurationError(f"expected a pandas DataFrame, got {type(df).__name__}")
    check_column(df.columns, col)
    return df[col]


def generate(df: pd.DataFrame, col: str = "path", lang: str = C.DEFAULT_LANG, *,
             backend: str | Backend = "auto", api_key: str | None = None, base_url: str | None = None,
             cache_dir: str | os.PathLike | bool | None = None, max_concurrency: int | None = None,
             rate_limit: float | str | RateLimit | None = None, max_retries: int | None = None,
             max_credits: float | None = None, on_error: Literal["record", "raise"] = "record",
             progress: bool = True, timeout: float | None = None, ocr: bool | None = None,
             model: str | None = None, labels: Sequence[str] | None = None, instructions: str | None = None,
             max_side: int | None = None, max_tokens_budget: int | None = None,
             max_file_bytes: int | None = None, precision: str | None = None) -> pd.DataFrame:
    """Tags, title and description for every image in ``df[col]``; returns a new DataFrame.

    The input's columns and index are kept; added columns are ``RESULT_COLUMNS``.
    Rows that fail carry ``error`` (and the API's ``error_code``) instead of raising,
    unless ``on_error="raise"``. A bad key (1002/1003, HTTP 401/403) raises
    AuthenticationError; everything finished before it stays cached.

    With ``backend="openai"`` or ``"ollama"`` a vision-language model tags: ``model`` is
    required; ``labels`` restricts tags to a closed set (also for ``"local"``);
    ``instructions`` adds context to the prompt; images are downscaled to ``max_side``
    pixels (default 1024; 0 sends them as they are); ``max_tokens_budget`` stops before
    the run's input + output tokens would exceed it.

    Parameters (each settled once: the argument, else its environment variable where it
    has one, else a default):

    * ``col``: the column of images (paths, bytes or PIL images); ``lang``: one of
      ``LANGUAGES`` (``en zh fr de es ja ko``).
    * ``backend``: ``"auto"`` (the API when a key is set, else ``"local"``, the offline
      tagger), ``"imagedescriber"``, ``"local"``, ``"openai"``, ``"ollama"``, or a
      :class:`Backend`.
    * ``api_key`` / ``base_url``: the API's key and address (``IMAGEDESCRIBER_API_KEY``,
      ``IMAGEDESCRIBER_BASE_URL``). The key never reaches a log, a repr or the cache.
    * ``cache_dir``: where results are cached by image content (``IMAGETAGS_CACHE_DIR``);
      ``False`` turns the cache off.
    * ``max_concurrency``, ``rate_limit`` (``"60/min"``, ``"2/s"``, calls per minute, or a
      :class:`RateLimit`), ``max_retries``, ``timeout`` (seconds per call): pacing.
    * ``max_credits``: stop sending once the run would spend more; unsent rows say why.
    * ``on_error``: ``"record"`` (an ``error`` per row) or ``"raise"``.
    * ``progress``: a progress bar; ``ocr``: read text in the image (offline tagger).
    * ``precision``: the offline tagger's models, ``"int8"`` or ``"float32"``
      (``IMAGETAGS_PRECISION``; see docs/speed.md for which is the default and why).
    * ``max_file_bytes``: image files bigger than this are refused unread, as row errors
      (``IMAGETAGS_MAX_FILE_BYTES``; 64 MB). Only regular files are read: a FIFO or a
      device named ``x.jpg`` is a row error too.

    >>> out = generate(pd.DataFrame({"path": ["data/samples/chelsea_cat.jpg"]}), backend="local",
    ...                progress=False)
    >>> "cat" in out.loc[0, "tags"], out.loc[0, "error"], out.loc[0, "backend"]
    (True, None, 'local')
    """
    series = _column(df, col)
    settings = settle(lang=lang, backend=backend, api_key=api_key, base_url=base_url, timeout=timeout,
                      cache_dir=cache_dir, max_concurrency=max_concurrency, rate_limit=rate_limit,
                      max_retries=max_retries, max_credits=max_credits, on_error=on_error,
                      progress=progress, ocr=ocr, model=model, labels=labels, instructions=instructions,
                      max_side=max_side, max_tokens_budget=max_tokens_budget, max_file_bytes=max_file_bytes,
                      precision=precision)
    try:
        return _generate(df, series, col, settings)
    finally:
        settings.cache.close()


def _generate(df: pd.DataFrame, series: pd.Series, col: str, settings: RunSettings) -> pd.DataFrame:
    values = series.tolist()
    found = scan(values, list(df.index), col, settings)
    if settings.on_error == "raise" and found.errors:
        raise found.errors[min(found.errors)]
    progress = Progress(found.n, settings.progress, settings.backend.name)
    cached_rows = sum(1 for d in found.digests if d is not None and d in found.results)
    progress.add(cached=cached_rows, failed=len(found.errors))
    run = Run(settings, found.jobs, progress)
    try:
        if found.jobs:
            run_in_thread(run.run)
    except KeyboardInterrupt:
        progress.close()
        kept = settings.cache.store is not None
        raise RunInterrupted(cached_rows + progress.ok, found.n, kept=kept) from None
    finally:
        progress.close()
    if run.fatal is not None:
        raise run.fatal
    return assemble(df, found, run, settings)


def remember(items: Iterable[tuple[str | os.PathLike, TagResult]], lang: str = C.DEFAULT_LANG, *,
             backend: str | Backend = "auto", api_key: str | None = None, base_url: str | None = None,
             cache_dir: str | os.PathLike | bool | None = None, model: str | None = None,
             labels: Sequence[str] | None = None, instructions: str | None = None,
             max_side: int | None = None) -> int:
    """Store known results for image files so the next run reuses them.

    For files whose bytes changed but whose picture did not (tags written into
    their metadata): the cache is keyed on the bytes, so without this the next
    run would pay for every such image again. The options must be the ones the
    results were made with; they choose the cache entry. Each result is stored as
    ``items`` yields it. Returns how many were stored.
    """
    with ResultMemory(lang, backend=backend, api_key=api_key, base_url=base_url, cache_dir=cache_dir,
                      model=model, labels=labels, instructions=instructions, max_side=max_side) as memory:
        for path, result in items:
            memory.store(path, result)
        return memory.stored


class ResultMemory:
    """The cache entry of one run's options, open to store results for files one by one.

    What :func:`remember` uses; a writer that changes files' bytes (metadata) stores
    each file's result under its new digest the moment it knows it, before the new
    bytes replace the old, so no interruption makes a later run pay for the file again.

    >>> with ResultMemory("en", backend="local", cache_dir=False) as memory:
    ...     memory.store("data/samples/chelsea_cat.jpg", TagResult(tags=["cat"], title="A cat", description=""))
    ...     memory.stored
    1
    """

    def __init__(self, lang: str = C.DEFAULT_LANG, *, backend: str | Backend = "auto",
                 api_key: str | None = None, base_url: str | None = None,
                 cache_dir: str | os.PathLike | bool | None = None, model: str | None = None,
                 labels: Sequence[str] | None = None, instructions: str | None = None,
                 max_side: int | None = None, precision: str | None = None) -> None:
        self._settings = settle(lang=lang, backend=backend, api_key=api_key, base_url=base_url,
                                cache_dir=cache_dir, progress=False, model=model, labels=labels,
                                instructions=instructions, max_side=max_side, precision=precision)
        self._identity = self._settings.backend.cache_identity()
        self.lang = lang
        #: Results stored so far.
        self.stored = 0

    def store(self, path: str | os.PathLike, result: TagResult, *, digest: str | None = None,
              stat: os.stat_result | None = None) -> None:
        """File ``result`` under the bytes of ``path``: ``digest`` when the caller knows them (with
        ``stat``, the file's stat once they are in place), else the file as it is now."""
        abspath = os.path.abspath(os.path.expanduser(os.fspath(path)))
        if digest is None:
            stat = os.stat(abspath)
            digest = _images.sha256(_images.read_bytes(abspath))
        cache = self._settings.cache
        cache.set_result(result_key(self._identity, self.lang, digest), result)
        if stat is not None:
            cache.set_hash(abspath, stat, digest)  # the next scan does not even re-read it
        self.stored += 1

    def close(self) -> None:
        self._settings.cache.close()

    def __enter__(self) -> ResultMemory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def estimate(df: pd.DataFrame, col: str = "path", lang: str = C.DEFAULT_LANG, *,
             backend: str | Backend = "auto", api_key: str | None = None, base_url: str | None = None,
             cache_dir: str | os.PathLike | bool | None = None, rate_limit: Any = None,
             ocr: bool | None = None, model: str | None = None, labels: Sequence[str] | None = None,
             instructions: str | None = None, max_side: int | None = None, check_images: bool = True,
             time_sample: int = 0, max_file_bytes: int | None = None, **_ignored: Any) -> Estimate:
    """What ``generate`` would do: rows, unique images, cached, calls, credits, time. Calls nothing.

    Unread files are read and hashed (that is how the cache is consulted), and the
    hashes are remembered, so the real run does not hash them again. With
    ``check_images`` every image that would be sent is also decoded (JPEG at 1/8
    scale), so files the run would fail on count as ``invalid`` here, not later.
    No API key is needed: an API run is priced without one.

    A backend without a rate limit (the offline tagger) has no pace to divide by:
    with ``time_sample=N`` up to N of the images are tagged, timed and cached (so
    the real run does not redo them), and ``seconds_needed`` extrapolates from them,
    model loading included. Backends that cost credits or tokens are never sampled.

    >>> paths = ["data/samples/coffee.jpg", "data/samples/coffee.jpg", "data/samples/missing.jpg"]
    >>> est = estimate(pd.DataFrame({"path": paths}), backend="local", cache_dir=False)
    >>> est.rows, est.unique_images, est.invalid, est.calls_needed, est.credits_needed
    (3, 1, 1, 1, 0.0)
    """
    series = _column(df, col)
    settings = settle(lang=lang, backend=backend, api_key=api_key, base_url=base_url, cache_dir=cache_dir,
                      rate_limit=rate_limit, progress=False, ocr=ocr, model=model, labels=labels,
                      instructions=instructions, max_side=max_side, keyless=True,
                      max_file_bytes=max_file_bytes)
    try:
        found = scan(series.tolist(), list(df.index), col, settings)
    finally:
        settings.cache.close()
    be = settings.backend
    errors: dict[int, str] = {pos: str(e) for pos, e in found.errors.items()}
    jobs = found.jobs
    if check_images and jobs:
        unreadable = _decode_check(jobs, settings.max_file_bytes)
        for job in jobs:
            if job.digest in unreadable:
                errors.update((pos, unreadable[job.digest]) for pos in job.rows)
        jobs = [job for job in jobs if job.digest not in unreadable]
    calls = len(jobs)
    cached = len(found.results)
    seconds = None
    sampled = 0
    if settings.rate_limit is not None:
        seconds = calls * settings.rate_limit.interval * (1 + C.RATE_LIMIT_SAFETY)
    elif time_sample > 0 and jobs and not be.costs_credits and not getattr(be, "reports_tokens", False):
        sample = [series.iloc[job.rows[0]] for job in jobs[:time_sample]]
        options = dict(lang=lang, backend=backend, api_key=api_key, base_url=base_url, cache_dir=cache_dir,
                       ocr=ocr, model=model, labels=labels, instructions=instructions, max_side=max_side)
        sampled = len(sample)
        calls -= sampled
        seconds = _timed_sample(sample, calls, options)
        cached += sampled
    unique = len(set(d for d in found.digests if d is not None))
    return Estimate(
        rows=found.n, unique_images=unique, cached=cached, invalid=len(errors),
        calls_needed=calls, credits_needed=calls * be.credits_per_call if be.costs_credits else 0.0,
        seconds_needed=seconds if seconds is not None else math.nan, backend=be.name,
        rate_limit=str(settings.rate_limit) if settings.rate_limit else None,
        errors=dict(sorted(errors.items())), timed_sample=sampled,
    )


def _decode_check(jobs: Sequence[Any], max_file_bytes: int) -> dict[str, str]:
    """digest -> message for every job whose image cannot be decoded."""
    from concurrent.futures import ThreadPoolExecutor

    def one(job: Any) -> tuple[str, str | None]:
        try:
            _images.check(job.data if job.data is not None else job.value, source=job.source,
                          max_file_bytes=max_file_bytes)
        except ImageTagsError as exc:
            return job.digest, str(exc)
        return job.digest, None

    # Pillow's decoders release the GIL: a couple of threads keep the disk and a core busy.
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1, len(jobs))) as pool:
        return {digest: msg for digest, msg in pool.map(one, jobs) if msg is not None}


def _timed_sample(values: list[Any], remaining: int, options: dict[str, Any]) -> float:
    """Seconds a run of the ``remaining`` images would take, from tagging ``values`` now.

    They are tagged through :func:`generate`, so they are cached as a real run's
    would be. The first is timed alone: it pays for loading the models, which a
    run pays once; the others give the time per image.
    """
    import time

    def timed(batch: list[Any]) -> float:
        start = time.perf_counter()
        generate(pd.DataFrame({"image": batch}), col="image", progress=False, **options)
        return time.perf_counter() - start

    first = timed(values[:1])
    if len(values) == 1:
        return first * remaining  # start-up and work not told apart: errs on the long side
    per_image = timed(values[1:]) / (len(values) - 1)
    if remaining == 0:
        return 0.0
    return max(0.0, first - per_image) + per_image * remaining  # start-up once, then each image
