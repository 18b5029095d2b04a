"""The engine's phases as Dask partition functions, and the graph that joins them.

::

    input partitions ──scan──► digest, cached result or error per row   (on the workers)
            │                         │ rows still to tag
            │                         ▼
            │              drop_duplicates(digest)  — one row per image, cluster-wide
            │                         │ tag (paced through the scheduler, stored on arrival)
            │                         ▼
            │              merge back on digest, range-partition by input partition
            ▼                         ▼
    finish: the pandas path's assemble, same columns, dtypes, index and row order

Every step is a DataFrame operation, so the graph is lazy, Dask plans it, and a
lost worker's tasks are recomputed: a tag task computed again finds its results
in the cache it stored them in. Shuffles use the task method because the
``value`` column may hold bytes or PIL images that Arrow cannot carry.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from typing import Any

import pandas as pd

from .._exceptions import ConfigurationError, ImageTagsError
from .._types import TagResult
from ..engine.assemble import assemble
from ..engine.run import Progress, Run, run_in_thread
from ..engine.scan import Job, Scan, scan, source_name
from ..engine.settings import RunSettings, settle
from ..images import is_missing
from ..infra.cache import result_key
from ..infra.ratelimit import Pacer

#: Columns of the scan frame (one row per input row).
SCAN_COLUMNS = ("part", "row", "digest", "value", "source", "cached", "exc", "error")
#: Columns of the tagged frame (one row per image tagged).
TAGGED_COLUMNS = ("digest", "result", "hit", "t_exc", "opart", "orow")

SHUFFLE = "tasks"


class Options:
    """The run's options as they travel to the workers. The key is kept out of
    every repr and out of Dask's task names (tokens)."""

    def __init__(self, col: str, lang: str, settle_kwargs: dict[str, Any], *, workers: int = 1,
                 results_target: str | None = None, client_cache: tuple[str, str] | None = None) -> None:
        self.col = col
        self.lang = lang
        self.settle_kwargs = settle_kwargs
        self.workers = workers
        self.results_target = results_target  # where the client's cache collects results
        self.client_cache = client_cache  # (host, directory) of the client's cache
        self.budget_run: str | None = None  # the run's credit account on the scheduler

    def settle(self, **override: Any) -> RunSettings:
        return settle(lang=self.lang, progress=False, **{**self.settle_kwargs, **override})

    def __repr__(self) -> str:
        shown = {k: ("***" if k == "api_key" and v else v) for k, v in self.settle_kwargs.items()}
        return f"Options(col={self.col!r}, lang={self.lang!r}, {shown})"

    def __dask_tokenize__(self) -> str:
        public = {k: v for k, v in self.settle_kwargs.items() if k != "api_key"}
        key = self.settle_kwargs.get("api_key") or ""
        text = json.dumps([self.col, self.lang, public, self.workers, self.results_target, self.budget_run],
                          default=repr, sort_keys=True)
        # A one-way digest of the key: two keys give two graphs, and no task name shows one.
        return hashlib.sha256(f"{text}|{hashlib.sha256(key.encode()).hexdigest()}".encode()).hexdigest()


# --------------------------------------------------------------------------- frames
def _obj(values: list[Any]) -> pd.Series:
    return pd.Series(values, dtype=object)


def scan_meta() -> pd.DataFrame:
    return pd.DataFrame({"part": pd.Series([], dtype="int64"), "row": pd.Series([], dtype="int64"),
                         **{c: _obj([]) for c in ("digest", "value", "source", "cached", "exc", "error")}})


def tagged_meta() -> pd.DataFrame:
    return pd.DataFrame({"digest": _obj([]), "result": _obj([]), "hit": pd.Series([], dtype=bool),
                         "t_exc": _obj([]), "opart": pd.Series([], dtype="int64"),
                         "orow": pd.Series([], dtype="int64")})


def _error(code: Any, message: str) -> ImageTagsError:
    err = ImageTagsError(message)
    err.code = None if code is None or pd.isna(code) else int(code)
    return err


def scan_partition(pdf: pd.DataFrame, opts: Options, partition_info: dict | None = None) -> pd.DataFrame:
    """Digests, cache hits and unreadable rows of one partition (the engine's scan phase)."""
    part = int(partition_info["number"]) if partition_info else 0
    settings = opts.settle()
    try:
        found = scan(pdf[opts.col].tolist(), list(pdf.index), opts.col, settings)
    finally:
        settings.cache.close()
    if settings.on_error == "raise" and found.errors:
        raise found.errors[min(found.errors)]
    n = found.n
    first = {job.rows[0]: job for job in found.jobs}
    values: list[Any] = [None] * n
    sources: list[str | None] = [None] * n
    cached: list[str | None] = [None] * n
    excs: list[ImageTagsError | None] = [None] * n
    errors: list[str | None] = [None] * n
    for pos in range(n):
        digest = found.digests[pos]
        if pos in found.errors:
            excs[pos] = found.errors[pos]
            errors[pos] = str(found.errors[pos])
        elif digest in found.results:
            cached[pos] = json.dumps(found.results[digest].to_json(), ensure_ascii=False)
        elif pos in first:
            values[pos], sources[pos] = first[pos].value, first[pos].source
    return pd.DataFrame({"part": pd.Series([part] * n, dtype="int64"),
                         "row": pd.Series(range(n), dtype="int64"),
                         "digest": _obj(list(found.digests)), "value": _obj(values), "source": _obj(sources),
                         "cached": _obj(cached), "exc": _obj(excs), "error": _obj(errors)})


def tag_partition(jobs: pd.DataFrame, opts: Options, make_state: Callable[[], Any] | None = None,
                  make_budget: Callable[[float | None], Any] | None = None) -> pd.DataFrame:
    """Tag one share of the cluster's unique, uncached images (the engine's run phase).

    Each result is stored in this worker's cache the moment it arrives, and this
    host's cache is asked again first, so a task computed again after a worker
    died pays for nothing it had finished.
    """
    settings = opts.settle()
    _one_thread_per_task(settings.backend)
    try:
        return _tag(jobs, opts, settings, make_state, make_budget)
    finally:
        settings.cache.close()


def _tag(jobs: pd.DataFrame, opts: Options, settings: RunSettings, make_state: Callable[[], Any] | None,
         make_budget: Callable[[float | None], Any] | None) -> pd.DataFrame:
    be, lang = settings.backend, settings.lang
    identity = be.cache_identity()
    digests = jobs["digest"].tolist()
    hits = settings.cache.get_results([result_key(identity, lang, d) for d in digests])
    todo: list[Job] = []
    outcome: dict[str, TagResult | ImageTagsError] = {}
    for i, (digest, value, source) in enumerate(zip(digests, jobs["value"], jobs["source"])):
        hit = hits.get(result_key(identity, lang, digest))
        if hit is not None:
            outcome[digest] = hit
        else:
            todo.append(Job(digest=digest, value=value, source=source, rows=[i]))
    run = Run(settings, todo, Progress(len(todo), False, be.name))
    if run.pacer is not None and todo and make_state is not None:
        state = make_state()
        getattr(state, "warm", lambda: None)()  # clocks measured before the first slot (the backend warms in run)
        run.pacer = Pacer(run.pacer.rate, be.limiter_id() or identity, state=state)
    if make_budget is not None and be.costs_credits and todo:
        # Every partition spends from one budget, and a 2002 anywhere stops every sender.
        run.shared_budget = make_budget(settings.max_credits)
    if todo:
        run_in_thread(run.run)
    if run.fatal is not None:
        raise run.fatal
    outcome.update(run.outcome)
    fresh = {d: r for d, r in run.outcome.items() if isinstance(r, TagResult)}
    if fresh and opts.results_target is not None and not _shares_client_cache(opts, settings):
        _send_to_client(opts.results_target, identity, lang, fresh)
    unsent = [job for job in todo if job.digest not in outcome]
    if unsent:  # the run stopped (credits ran out): the pandas path's words for what was not sent
        n = len(unsent)
        frame = assemble(pd.DataFrame(index=range(n)),
                         Scan(n=n, digests=[j.digest for j in unsent], errors={}, results={}, jobs=[],
                              sources=[j.source for j in unsent]), run, settings)
        for job, code, msg in zip(unsent, frame["error_code"], frame["error"]):
            outcome[job.digest] = _error(code, msg)
    results: list[str | None] = []
    excs: list[ImageTagsError | None] = []
    for digest in digests:
        out = outcome[digest]
        results.append(json.dumps(out.to_json(), ensure_ascii=False) if isinstance(out, TagResult) else None)
        excs.append(out if isinstance(out, ImageTagsError) else None)
    return pd.DataFrame({"digest": _obj(digests), "result": _obj(results),
                         "hit": pd.Series([result_key(identity, lang, d) in hits for d in digests], dtype=bool),
                         "t_exc": _obj(excs),
                         "opart": jobs["part"].astype("int64").reset_index(drop=True),
                         "orow": jobs["row"].astype("int64").reset_index(drop=True)})


def _one_thread_per_task(be: Any) -> None:
    """The offline tagger on a worker runs one ONNX thread per worker thread: Dask
    already runs one task per thread, and more would only fight over the cores."""
    from ..backends.local import LocalBackend

    if isinstance(be, LocalBackend):
        be.threads = 1


def finish_partition(pdf: pd.DataFrame, scanned: pd.DataFrame, back: pd.DataFrame, opts: Options
                     ) -> pd.DataFrame:
    """One input partition with the added columns, built by the pandas path's assemble."""
    settings = opts.settle(cache_dir=False)
    n = len(pdf)
    scanned = scanned.sort_values("row")
    digests = [d if isinstance(d, str) else None for d in scanned["digest"]]
    errors: dict[int, ImageTagsError] = {}
    results: dict[str, TagResult] = {}
    for pos, (exc, cached) in enumerate(zip(scanned["exc"], scanned["cached"])):
        if isinstance(exc, ImageTagsError):
            errors[pos] = exc
        elif isinstance(cached, str):
            results[digests[pos]] = TagResult.from_json(json.loads(cached))  # type: ignore[index]
    run = Run(settings, [], Progress(0, False, settings.backend.name))
    late_hits: set[str] = set()
    owners: dict[str, tuple[int, int]] = {}
    for digest, res, hit, exc, opart, orow in zip(back["digest"], back["result"], back["hit"], back["t_exc"],
                                                  back["opart"], back["orow"]):
        if digest in run.outcome:
            continue
        if isinstance(res, str):
            run.outcome[digest] = TagResult.from_json(json.loads(res))
        elif isinstance(exc, ImageTagsError):
            run.outcome[digest] = exc
        else:
            continue
        if hit is True:
            late_hits.add(digest)
        owners[digest] = (int(opart), int(orow))
    # A scan computed again after a worker died sees as cached what its first computation
    # sent to be tagged, so the tagged frame may lack a row this partition waits for; its
    # result is then in the cache it was stored in.
    lost = {d for pos, d in enumerate(digests)
            if d is not None and pos not in errors and d not in results and d not in run.outcome}
    if lost:
        results.update(_from_cache(opts, lost))
    if len(digests) != n:
        raise ConfigurationError(f"internal: partition has {n} rows but its scan {len(digests)}")
    sources = [None if is_missing(v) else source_name(v, label, pos)
               for pos, (v, label) in enumerate(zip(pdf[opts.col].tolist(), pdf.index))]
    out = assemble(pdf, Scan(n=n, digests=digests, errors=errors, results=results, jobs=[], sources=sources),
                   run, settings)
    part = int(scanned["part"].iloc[0]) if n else 0
    # Credits are charged to one row in the whole frame: the one whose copy was sent.
    # A result another run stored between scan and tag counts as cached, like a scan hit.
    credits = out["credits_used"].to_numpy(copy=True)
    cached = out["cached"].to_numpy(copy=True)
    for pos, digest in enumerate(digests):
        if digest is None or digest in results:
            continue
        if digest in late_hits:
            credits[pos], cached[pos] = 0.0, True
        elif owners.get(digest) != (part, pos):
            credits[pos] = 0.0
    out["credits_used"] = pd.Series(credits, index=out.index, dtype=float)
    out["cached"] = pd.Series(cached, index=out.index, dtype=bool)
    return out


def _from_cache(opts: Options, digests: set[str]) -> dict[str, TagResult]:
    settings = opts.settle()
    try:
        identity, lang = settings.backend.cache_identity(), settings.lang
        hits = settings.cache.get_results([result_key(identity, lang, d) for d in digests])
        return {d: hits[result_key(identity, lang, d)] for d in digests if result_key(identity, lang, d) in hits}
    finally:
        settings.cache.close()


def _shares_client_cache(opts: Options, settings: RunSettings) -> bool:
    """True when this worker writes into the very directory the client reads (same host)."""
    import socket

    if opts.client_cache is None or settings.cache.directory is None:
        return False
    host, directory = opts.client_cache
    return host == socket.gethostname() and os.path.realpath(settings.cache.directory) == directory


def _send_to_client(target: str, identity: str, lang: str, fresh: dict[str, TagResult]) -> None:
    from .results import send

    send(target, [(result_key(identity, lang, d), r.to_json()) for d, r in fresh.items()])
