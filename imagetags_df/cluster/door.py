"""``generate`` and ``estimate`` for Dask DataFrames: the pandas path's engine, run on a cluster.

The graph is described in :mod:`imagetags_df.cluster.frames`. What this module
adds is the cluster-wide part: one pacer per API key held in the scheduler
(:mod:`~imagetags_df.cluster.pacer`), and the client's cache filled from the
results the workers hand back (:mod:`~imagetags_df.cluster.results`).

With no ``distributed`` client (Dask's threaded or process scheduler on one
host) the pacer falls back to the cache directory, which every process on the
host shares: the same single-host pacer as the pandas path.
"""

from __future__ import annotations

import functools
import math
import os
import socket
import uuid
from typing import Any

import dask.dataframe as dd

from .. import _constants as C
from .._exceptions import ConfigurationError
from .._types import Estimate
from ..backends import Backend, settle_api_key
from ..engine import check_column
from ..infra.cache import default_cache_dir
from . import frames


def _client(client: Any) -> Any:
    if client is not None:
        return client
    try:
        from distributed import default_client

        return default_client()
    except (ImportError, ValueError):
        return None


def _check(ddf: Any, col: str) -> None:
    if not isinstance(ddf, dd.DataFrame):
        raise ConfigurationError(f"expected a dask DataFrame, got {type(ddf).__name__}")
    check_column(ddf.columns, col)


def _settle_kwargs(options: dict[str, Any]) -> dict[str, Any]:
    if isinstance(options.get("backend"), Backend):
        raise ConfigurationError("on Dask, pass the backend by name (backend='local', 'imagedescriber', ...): "
                                 "each worker builds its own")
    if isinstance(options.get("cache_dir"), os.PathLike):
        options["cache_dir"] = os.fspath(options["cache_dir"])
    return dict(options)


def _scheduler_state(workers: int) -> Any:
    from distributed import get_worker

    from .pacer import SchedulerState

    return SchedulerState(get_worker(), workers=workers)


def _scheduler_budget(run: str, limit: float | None) -> Any:
    from distributed import get_worker

    from .budget import SchedulerBudget

    return SchedulerBudget(get_worker(), run, limit)


def _options(ddf: Any, col: str, lang: str, client: Any, settle_kwargs: dict[str, Any]) -> frames.Options:
    # Settled once here, so a bad option or a missing key fails now, not in a worker's log,
    # and "auto" and the environment are read on this machine: workers need neither.
    opts = frames.Options(col, lang, settle_kwargs)
    be = opts.settle(cache_dir=False).backend
    settle_kwargs["backend"] = be.name
    if be.name == "imagedescriber":
        settle_kwargs["api_key"] = settle_api_key(settle_kwargs.get("api_key"))
        settle_kwargs["base_url"] = getattr(be, "base_url", settle_kwargs.get("base_url"))
    if client is None:
        return opts
    opts.workers = max(1, len(client.scheduler_info().get("workers", {})))
    # One credit account per generate() call, shared by its partitions (and by a second
    # compute of the same graph: the budget is the run's, however often it is computed).
    opts.budget_run = f"{client.id}|{uuid.uuid4().hex}"
    cache_dir = settle_kwargs.get("cache_dir")
    if cache_dir is not False:
        from .results import filler

        directory = os.path.realpath(os.path.expanduser(
            os.fspath(cache_dir) if cache_dir not in (None, True) else default_cache_dir()))
        opts.results_target = filler(client, directory).target
        opts.client_cache = (socket.gethostname(), directory)
    return opts


def generate(ddf: dd.DataFrame, col: str = "path", lang: str = C.DEFAULT_LANG, *, client: Any = None,
             **options: Any) -> dd.DataFrame:
    """Lazy: the input's partitions with the pandas path's added columns (same dtypes).

    Options are those of :func:`imagetags_df.generate`. Each unique image is
    tagged once in the whole cluster, all calls with one key share one rate
    limit, ``max_credits`` is one budget for the whole cluster (it needs a
    distributed ``Client``), a 2002 on any worker stops sending on every one,
    and results are cached on the workers as they arrive. ``progress`` is
    the pandas path's bar and does nothing here: use
    ``distributed.progress(out.persist())`` or the dashboard.

    >>> out = ddf.imagetags.generate(col="path", rate_limit="30/min")  # doctest: +SKIP
    >>> out.to_parquet("tagged/")                                      # doctest: +SKIP
    """
    _check(ddf, col)
    options.pop("progress", None)
    if options.get("max_tokens_budget") is not None:
        # Each tag partition would hold its own token count, so a cluster could spend about
        # one budget per partition: refuse rather than overspend.
        raise ConfigurationError(
            "max_tokens_budget is not enforced across a Dask cluster yet (each partition would keep "
            "its own count). Run ddf.imagetags.estimate() first, cap the run with max_credits= where the "
            "server charges credits, or tag on one host with the pandas path")
    kwargs = _settle_kwargs(options)
    client = _client(client)
    if client is None and options.get("max_credits") is not None:
        raise ConfigurationError(
            "max_credits on Dask needs a distributed Client: the scheduler keeps the one budget every "
            "partition spends from. Start one (from distributed import Client; client = Client()), or tag "
            "on one host with the pandas path")
    if client is not None:
        from . import budget, pacer

        pacer.ensure_plugin(client)
        budget.ensure_plugin(client)
    opts = _options(ddf, col, lang, client, kwargs)
    make_state = functools.partial(_scheduler_state, opts.workers) if client is not None else None
    make_budget = functools.partial(_scheduler_budget, opts.budget_run) if opts.budget_run else None
    n = ddf.npartitions
    scanned = ddf.map_partitions(frames.scan_partition, opts, meta=frames.scan_meta(), clear_divisions=True,
                                 enforce_metadata=False)
    todo = scanned[scanned["source"].notnull()][["digest", "value", "source", "part", "row"]]
    jobs = todo.drop_duplicates(subset=["digest"], split_out=n, shuffle_method=frames.SHUFFLE)
    tagged = jobs.map_partitions(frames.tag_partition, opts, make_state, make_budget, meta=frames.tagged_meta(),
                                 clear_divisions=True, enforce_metadata=False)
    waiting = scanned[scanned["digest"].notnull() & scanned["cached"].isnull() & scanned["error"].isnull()]
    back = waiting[["part", "row", "digest"]].merge(tagged, on="digest", how="left",
                                                    shuffle_method=frames.SHUFFLE)
    back = back.set_index("part", divisions=[*range(n), n - 1], shuffle_method=frames.SHUFFLE)
    meta = frames.finish_partition(ddf._meta, frames.scan_meta(), back._meta, opts)
    return ddf.map_partitions(frames.finish_partition, scanned, back, opts, meta=meta,
                              align_dataframes=False)


def estimate(ddf: dd.DataFrame, col: str = "path", lang: str = C.DEFAULT_LANG, *, client: Any = None,
             **options: Any) -> Estimate:
    """What :func:`generate` would do, computed now on the cluster. Calls nothing; needs no key.

    Files are read and hashed on the workers, and their hashes remembered in the
    workers' caches, so the real run does not read them again to hash them.
    Unlike the pandas path, images are not trial-decoded (``check_images``) and
    no sample is timed (``time_sample``): both options are accepted and ignored.
    """
    _check(ddf, col)
    for name in ("progress", "max_credits", "check_images", "time_sample"):
        options.pop(name, None)
    kwargs = {**_settle_kwargs(options), "keyless": True}
    opts = frames.Options(col, lang, kwargs)
    settings = opts.settle(cache_dir=False)
    scanned = ddf.map_partitions(frames.scan_partition, opts, meta=frames.scan_meta(), clear_divisions=True,
                                 enforce_metadata=False)
    found = scanned[["part", "row", "digest", "cached", "error"]].compute()
    sizes = found.groupby("part").size().reindex(range(ddf.npartitions), fill_value=0)
    offsets = dict(zip(sizes.index, [0, *sizes.cumsum().tolist()[:-1]]))
    errors = {int(offsets[p] + r): msg for p, r, msg in zip(found["part"], found["row"], found["error"])
              if isinstance(msg, str)}
    ok = found[found["digest"].notnull() & found["error"].isnull()]
    unique = ok["digest"].nunique()
    cached = ok.loc[ok["cached"].notnull(), "digest"].nunique()
    calls = ok.loc[ok["cached"].isnull(), "digest"].nunique()
    be = settings.backend
    seconds = math.nan
    if settings.rate_limit is not None:
        seconds = calls * settings.rate_limit.interval * (1 + C.RATE_LIMIT_SAFETY)
    return Estimate(rows=len(found), unique_images=int(unique), cached=int(cached), invalid=len(errors),
                    calls_needed=int(calls), credits_needed=calls * be.credits_per_call if be.costs_credits else 0.0,
                    seconds_needed=seconds, backend=be.name,
                    rate_limit=str(settings.rate_limit) if settings.rate_limit else None, errors=errors)
