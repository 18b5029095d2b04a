"""The Dask door on a real LocalCluster (2 worker processes x 2 threads) against a
FakeImageDescriber on 127.0.0.1: one rate limit for the whole cluster, one call per
unique image, the pandas path's result, and a worker killed mid-run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import dask.dataframe as dd
import distributed
import pandas as pd
import pytest
from conftest import API_KEY, make_photo

import imagetags_df
from imagetags_df.infra.cache import Cache, result_key
from imagetags_df.testing import FakeImageDescriber

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"
COMPARED = ["tags", "tag_scores", "title", "description", "error_code", "error", "credits_used", "cached",
            "backend"]


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    # Workers get their own default cache directory, never the developer's.
    worker_cache = tmp_path_factory.mktemp("worker-default-cache")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=2, processes=True, dashboard_address=None,
                                  env={"IMAGETAGS_CACHE_DIR": str(worker_cache)}) as cluster, \
            distributed.Client(cluster) as c:
        c.worker_cache = worker_cache  # type: ignore[attr-defined]
        yield c


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> list[Path]:
    d = tmp_path_factory.mktemp("dask-images")
    return [make_photo(d / f"img_{i:02d}.jpg", size=(96, 72), seed=100 + i) for i in range(24)]


def _frame(paths: list[str]) -> pd.DataFrame:
    # A non-default index, so keeping it (and the row order) is checked too.
    return pd.DataFrame({"path": paths, "n": range(len(paths))}, index=[f"row-{i:03d}" for i in range(len(paths))])


def _api_options(api: FakeImageDescriber, cache_dir, **extra):
    # The fake has no limit unless told: pace fast so tests do not wait on the API's default.
    return dict(backend="imagedescriber", api_key=API_KEY, base_url=api.url, cache_dir=str(cache_dir),
                **{"rate_limit": "1200/min", **extra})


def _windows_ok(times: list[float], limit: int, window: float) -> bool:
    times = sorted(times)
    return all(sum(1 for t in times if start <= t < start + window) <= limit for start in times)


def test_results_equal_pandas_each_image_paid_once(client, images, tmp_path):
    # 40 rows over 8 partitions: every image shows up in several partitions, plus a missing file.
    paths = [str(images[i % 12]) for i in range(39)] + [str(tmp_path / "missing.jpg")]
    df = _frame(paths)
    ddf = dd.from_pandas(df, npartitions=8, sort=False)
    with FakeImageDescriber(keys={API_KEY}) as api:
        out = ddf.imagetags.generate(col="path", **_api_options(api, tmp_path / "cluster-cache"))
        got = out.compute()
        assert api.count("ok") == 12  # each unique image once, cluster-wide
        ref = imagetags_df.generate(ddf.compute(), col="path", progress=False,
                                    **_api_options(api, tmp_path / "pandas-cache"))
        # Everything is cached now: a second run sends nothing, on any worker.
        again = ddf.imagetags.generate(col="path", **_api_options(api, tmp_path / "cluster-cache")).compute()
        assert api.count() == 24
        est = ddf.imagetags.estimate(col="path", **_api_options(api, tmp_path / "cluster-cache"))
    assert list(got.columns) == list(ref.columns)
    assert got.dtypes.equals(ref.dtypes)
    assert got.index.equals(ref.index) and got["n"].tolist() == list(range(40))
    pd.testing.assert_frame_equal(got[COMPARED], ref[COMPARED])
    assert got["credits_used"].sum() == 12
    assert "missing.jpg" in got["error"].iloc[-1]
    assert out._meta.dtypes.equals(got.dtypes)  # the explicit meta is the truth
    assert again["cached"].iloc[:-1].all() and again["credits_used"].sum() == 0
    assert (est.rows, est.unique_images, est.cached, est.calls_needed, est.invalid) == (40, 12, 12, 0, 1)
    assert list(est.errors) == [39]


def test_max_credits_is_one_budget_for_the_whole_cluster(client, images, tmp_path):
    # 16 unique images racing in 8 partitions on 4 task threads, and a budget of 5 credits.
    ddf = dd.from_pandas(_frame([str(p) for p in images[:16]]), npartitions=8, sort=False)
    with FakeImageDescriber(keys={API_KEY}) as api:
        got = ddf.imagetags.generate(col="path", **_api_options(api, tmp_path / "c1", max_credits=5)).compute()
        assert (api.count("ok"), api.count()) == (5, 5)  # exactly the budget, cluster-wide; nothing refused
        ref = imagetags_df.generate(ddf.compute(), col="path", progress=False,
                                    **_api_options(api, tmp_path / "c2", max_credits=5))
        assert api.count("ok") == 10
        # Results are cached as they come: a run with a budget big enough pays for the rest only.
        again = ddf.imagetags.generate(col="path", **_api_options(api, tmp_path / "c1", max_credits=20)).compute()
        assert api.count() == 10 + 11
    assert list(got.columns) == list(ref.columns) and got.dtypes.equals(ref.dtypes)
    assert got.index.equals(ref.index) and got["n"].tolist() == list(range(16))
    for out in (got, ref):  # which rows were answered depends on the order; how many does not
        assert out["ok"].sum() == 5 and out["credits_used"].sum() == 5
        assert (out["ok"] ^ out["error"].notna()).all()  # every row has an answer or an error
        assert out.loc[~out["ok"], "error"].str.startswith("not sent: max_credits=5 would be exceeded").all()
        assert out["error_code"].isna().all()
    assert again["ok"].all() and again["credits_used"].sum() == 11


def test_out_of_credits_on_one_worker_stops_every_worker(client, images, tmp_path):
    ddf = dd.from_pandas(_frame([str(p) for p in images]), npartitions=8, sort=False)
    with FakeImageDescriber(keys={API_KEY}, credits=2) as api:
        got = ddf.imagetags.generate(col="path", max_concurrency=1,
                                     **_api_options(api, tmp_path / "c", rate_limit="300/min")).compute()
        refused = api.count("2002")
    # One refusal stops the cluster; a call already past its check on another worker may meet one more.
    assert api.count("ok") == 2 and 1 <= refused <= 2
    assert got["ok"].sum() == 2 and (got["ok"] ^ got["error"].notna()).all()
    assert (got.loc[~got["ok"], "error_code"] == 2002).all()
    assert got.loc[~got["ok"], "error"].str.contains("2002|credits").all()


def test_budget_unreachable_sends_nothing(client, images, tmp_path):
    def drop_handlers(dask_scheduler) -> None:
        for op in ("imagetags_budget_reserve", "imagetags_budget_settle"):
            dask_scheduler.handlers.pop(op, None)

    ddf = dd.from_pandas(_frame([str(p) for p in images[:4]]), npartitions=2, sort=False)
    with FakeImageDescriber(keys={API_KEY}) as api:
        out = ddf.imagetags.generate(col="path", **_api_options(api, tmp_path / "c", max_credits=10))
        client.run_on_scheduler(drop_handlers)
        try:
            got = out.compute()
        finally:
            client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.plugins["imagetags-budget"].install(
                dask_scheduler))
        assert api.count() == 0  # a budget that cannot be checked is not spent
    assert not got["ok"].any()
    assert got["error"].str.startswith("not sent: max_credits=10 could not be checked").all()


@pytest.mark.slow
def test_one_rate_limit_for_all_partitions(client, images, tmp_path):
    # A window long enough that a send a tenth of a second late (a loaded machine) is not
    # taken for a burst; the limit is met by spacing, so 14 calls take 13 s.
    limit, window = 10, 10.0
    ddf = dd.from_pandas(_frame([str(p) for p in images[:14]]), npartitions=8, sort=False)
    with FakeImageDescriber(keys={API_KEY}, rate_limit=limit, window=window) as api:
        got = ddf.imagetags.generate(col="path", **_api_options(api, tmp_path / "c",
                                                                rate_limit=f"{limit}/{window:g}s")).compute()
        admitted = [c.at for c in api.calls if c.outcome == "ok"]
        seen = [(round(c.at - api.calls[0].at, 3), c.outcome) for c in api.calls]
        assert api.count("1004") == 0, seen
    assert got["error"].isna().all() and len(admitted) == 14
    assert _windows_ok(admitted, limit, window)


@pytest.mark.slow
def test_a_rate_limited_answer_pauses_every_worker(client, images, tmp_path):
    ddf = dd.from_pandas(_frame([str(p) for p in images[:16]]), npartitions=8, sort=False)
    with FakeImageDescriber(keys={API_KEY}, retry_after=2.0) as api:
        api.script_next(["1004"])
        got = ddf.imagetags.generate(col="path", **_api_options(api, tmp_path / "c", rate_limit="300/min")
                                     ).compute()
        calls = api.calls
    assert got["error"].isna().all()
    refused = [c.at for c in calls if c.outcome == "1004"]
    assert len(refused) == 1
    # Calls already on the wire when the 1004 came back may land just after it; none later
    # inside the pause, whichever worker or partition they come from.
    during = [c.at for c in calls if refused[0] + 0.25 < c.at < refused[0] + 1.9]
    assert during == []


def test_client_cache_is_made_whole_from_results_flowing_back(client, images, tmp_path, monkeypatch):
    # No cache_dir: workers use their own default directory (another "host"'s), the client its own.
    client_cache = tmp_path / "client-cache"
    monkeypatch.setenv("IMAGETAGS_CACHE_DIR", str(client_cache))
    ddf = dd.from_pandas(_frame([str(p) for p in images[:10]]), npartitions=4, sort=False)
    with FakeImageDescriber(keys={API_KEY}) as api:
        out = ddf.imagetags.generate(col="path", backend="imagedescriber", api_key=API_KEY, base_url=api.url,
                                     rate_limit="1200/min")
        got = out.compute()
    from imagetags_df.cluster import collect_results
    from imagetags_df.images import sha256

    identity = imagetags_df.resolve_backend("imagedescriber", api_key=API_KEY, base_url=api.url).cache_identity()
    keys = [result_key(identity, "en", sha256(Path(p).read_bytes())) for p in got["path"]]
    assert not Cache(client.worker_cache).get_results(keys) == {}  # the workers' own cache has them
    deadline = time.time() + 10
    found: dict = {}
    while time.time() < deadline:
        collect_results(client)
        cache = Cache(client_cache)
        try:
            found = cache.get_results(keys)
        finally:
            cache.close()
        if len(found) == 10:
            break
        time.sleep(0.2)
    assert len(found) == 10
    assert sorted(r.title for r in found.values()) == sorted(got["title"])


@pytest.mark.slow
def test_worker_killed_mid_run_every_row_answered(client, images, tmp_path):
    ddf = dd.from_pandas(_frame([str(p) for p in images] * 2), npartitions=8, sort=False)
    with FakeImageDescriber(keys={API_KEY}, latency=0.25) as api:
        out = ddf.imagetags.generate(col="path", max_concurrency=2, **_api_options(api, tmp_path / "c"))
        future = client.compute(out)
        deadline = time.time() + 30
        while api.count() < 6 and time.time() < deadline:
            time.sleep(0.05)
        pids = client.run(os.getpid)
        victim = sorted(pids)[0]
        os.kill(pids[victim], signal.SIGKILL)
        got = future.result(timeout=120)
        paid = api.count("ok")
    assert len(got) == 48 and got["error"].isna().all() and got["tags"].map(len).eq(3).all()
    assert got.index.equals(ddf.compute().index)
    # Results are stored as they arrive: only calls in flight on the killed worker are paid again
    # (2 task threads x 2 calls each).
    assert 24 <= paid <= 24 + 4


def test_coordinator_unreachable_paces_alone_without_bursting(client):
    def claims() -> list[float]:
        from distributed import get_worker

        from imagetags_df.cluster.pacer import SchedulerState

        state = SchedulerState(get_worker(), workers=2, timeout=1.0, retry_after=30.0)
        return [state.claim("alone-test", time.time(), 0.1)]

    def drop_handlers(dask_scheduler) -> None:
        for op in ("imagetags_pace_claim", "imagetags_pace_raise", "imagetags_pace_get"):
            dask_scheduler.handlers.pop(op, None)

    from imagetags_df.cluster.pacer import ensure_plugin

    ensure_plugin(client)
    worker = sorted(client.scheduler_info()["workers"])[0]
    assert client.submit(claims, workers=[worker], pure=False).result()  # the scheduler answers
    client.run_on_scheduler(drop_handlers)
    try:
        def alone() -> list[float]:
            from distributed import get_worker

            from imagetags_df.cluster.pacer import SchedulerState

            state = SchedulerState(get_worker(), workers=2, timeout=1.0, retry_after=30.0)
            return [state.claim("alone-key", time.time(), 0.1) for _ in range(4)]

        slots = client.submit(alone, workers=[worker], pure=False).result()
    finally:
        client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.plugins["imagetags-pacer"].install(
            dask_scheduler))
    gaps = [b - a for a, b in zip(slots, slots[1:])]
    assert all(g >= 0.2 - 1e-6 for g in gaps), gaps  # interval x known workers, never a burst


@pytest.mark.slow
def test_offline_backend_equals_pandas(client, tmp_path):
    paths = sorted(str(p) for p in SAMPLES.glob("*.jpg"))[:6]
    df = _frame(paths + paths[:2])
    ddf = dd.from_pandas(df, npartitions=4, sort=False)
    got = ddf.imagetags.generate(col="path", backend="local", cache_dir=str(tmp_path / "c1")).compute()
    ref = imagetags_df.generate(ddf.compute(), col="path", backend="local", cache_dir=str(tmp_path / "c2"),
                                progress=False)
    assert got.dtypes.equals(ref.dtypes)
    pd.testing.assert_frame_equal(got[COMPARED + ["request_id"]], ref[COMPARED + ["request_id"]])
    assert got["tags"].map(len).gt(0).sum() >= 4  # real tags, not a pair of empty frames


def test_bad_options_fail_on_the_client(client, tmp_path):
    ddf = dd.from_pandas(_frame(["a.jpg"]), npartitions=1)
    with pytest.raises(imagetags_df.ConfigurationError, match="column 'nope' not found"):
        ddf.imagetags.generate(col="nope", backend="local")
    with pytest.raises(imagetags_df.ConfigurationError, match="lang"):
        ddf.imagetags.generate(col="path", lang="xx", backend="local")


def test_key_stays_out_of_the_graph_reprs_and_names(client, tmp_path):
    secret = "sk-test-0123456789abcdef"
    ddf = dd.from_pandas(_frame(["a.jpg"]), npartitions=1)
    out = ddf.imagetags.generate(col="path", backend="imagedescriber", api_key=secret,
                                 base_url="http://127.0.0.1:9", cache_dir=str(tmp_path / "c"))
    graph = out.__dask_graph__()
    assert secret not in repr(dict(graph)) and secret not in " ".join(map(str, graph.keys()))
    assert secret not in repr(out)


def test_accessor_registered_lazily_and_import_is_cheap_without_dask():
    code = textwrap.dedent("""
        import sys
        import imagetags_df
        assert "dask" not in sys.modules and "dask.dataframe" not in sys.modules
        import dask.dataframe as dd, pandas as pd
        assert hasattr(dd.from_pandas(pd.DataFrame({"path": ["a"]}), npartitions=1), "imagetags")
    """)
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    blocked = textwrap.dedent("""
        import sys
        sys.modules["dask"] = None  # as if dask were not installed
        import imagetags_df, pandas as pd
        assert hasattr(pd.DataFrame({"path": []}), "imagetags")
    """)
    subprocess.run([sys.executable, "-c", blocked], check=True, timeout=120)


def test_a_token_budget_is_refused_rather_than_spent_once_per_partition():
    ddf = dd.from_pandas(pd.DataFrame({"path": ["a.jpg", "b.jpg"]}), npartitions=2)
    with pytest.raises(imagetags_df.ConfigurationError, match="max_tokens_budget is not enforced across a Dask"):
        ddf.imagetags.generate(col="path", backend="ollama", model="m", base_url="http://127.0.0.1:9/v1",
                               max_tokens_budget=1000)


def test_max_credits_without_a_distributed_client_is_refused():
    # A fresh process: no distributed Client anywhere, so no scheduler to keep one budget.
    code = textwrap.dedent("""
        import dask.dataframe as dd, pandas as pd
        import imagetags_df
        ddf = dd.from_pandas(pd.DataFrame({"path": ["a.jpg"]}), npartitions=1)
        try:
            ddf.imagetags.generate(col="path", backend="imagedescriber", api_key="sk-test-0123456789",
                                   base_url="http://127.0.0.1:9", max_credits=5)
        except imagetags_df.ConfigurationError as exc:
            assert "max_credits on Dask needs a distributed Client" in str(exc), exc
        else:
            raise SystemExit("not refused")
    """)
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
