"""How the Dask door scales, on a LocalCluster on this machine.

    python bench/dask_scale.py [--calls 60] [--rate 120] [--images 160] [--partitions 8]

1. **One rate limit for the cluster**: 8 partitions of distinct images on 2 worker
   processes x 2 threads against a FakeImageDescriber on 127.0.0.1 that refuses (1004)
   anything over ``--rate`` per 60 s sliding window. Prints achieved/allowed rate over
   the calls (target >= 0.95) and the rejections (target 0).
2. **The offline tagger**: ``--images`` distinct JPEGs built from data/samples, tagged
   with a fresh cache by the plain pandas path in this process, then on a LocalCluster
   of 2 worker processes x 1 thread, then of 1 worker (the scaling factor). Models are
   loaded before timing in every case. Target on 2 cores: Dask >= 0.9 of pandas.

The machine may be shared: the load average is printed; quote ratios from one run.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import dask.dataframe as dd  # noqa: E402
import pandas as pd  # noqa: E402
from distributed import Client, LocalCluster  # noqa: E402
from PIL import Image, ImageOps  # noqa: E402

import imagetags_df  # noqa: E402
from imagetags_df.testing import FakeImageDescriber  # noqa: E402

SAMPLES = ROOT / "data" / "samples"
KEY = "sk-bench-0123456789"


def build_images(directory: Path, n: int, longest: int = 800) -> list[str]:
    """n distinct JPEGs (mirrored, cropped and resized variants of the sample photos)."""
    photos = [p for p in sorted(SAMPLES.iterdir()) if p.suffix.lower() in (".jpg", ".jpeg", ".png")]
    out: list[str] = []
    k = 0
    while len(out) < n:
        src = photos[k % len(photos)]
        im = Image.open(src).convert("RGB")
        variant = k // len(photos)
        if variant % 2:
            im = ImageOps.mirror(im)
        cut = (variant // 2) % 8
        w, h = im.size
        im = im.crop((cut * w // 40, cut * h // 40, w - cut * w // 40, h - cut * h // 40))
        scale = (longest - 7 * (variant % 5)) / max(im.size)
        im = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))), Image.BICUBIC)
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=88)
        path = directory / f"img_{k:04d}.jpg"
        path.write_bytes(buf.getvalue())
        out.append(str(path))
        k += 1
    return out


def frame(paths: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"path": paths})


def rate_figures(tmp: Path, calls: int, rate: int, partitions: int) -> None:
    paths = build_images(tmp / "rate", calls, longest=64)
    ddf = dd.from_pandas(frame(paths), npartitions=partitions, sort=False)
    with LocalCluster(n_workers=2, threads_per_worker=2, processes=True, dashboard_address=None) as cluster, \
            Client(cluster), FakeImageDescriber(keys={KEY}, rate_limit=rate, window=60.0) as api:
        t0 = time.perf_counter()
        out = ddf.imagetags.generate(col="path", backend="imagedescriber", api_key=KEY, base_url=api.url,
                                     cache_dir=str(tmp / "rate-cache"), rate_limit=f"{rate}/min").compute()
        wall = time.perf_counter() - t0
        ok = sorted(c.at for c in api.calls if c.outcome == "ok")
        rejected = api.count("1004")
    achieved = (len(ok) - 1) / (ok[-1] - ok[0]) * 60.0 if len(ok) > 1 else float("nan")
    print(f"rate: {len(ok)} calls over {partitions} partitions on 2 workers x 2 threads, allowed {rate}/min: "
          f"achieved {achieved:.1f}/min = {achieved / rate:.3f} of allowed; rejections (1004) {rejected}; "
          f"rows answered {int(out['error'].isna().sum())}/{len(out)}; wall {wall:.1f} s")


def _load_models() -> None:
    from imagetags_df.backends.local.models import get_models

    get_models()


def offline_figures(tmp: Path, n: int, partitions: int) -> None:
    paths = build_images(tmp / "offline", n)
    warm = frame(paths[:2])
    df = frame(paths)
    imagetags_df.generate(warm, backend="local", cache_dir=str(tmp / "warm-pd"), progress=False)
    t0 = time.perf_counter()
    ref = imagetags_df.generate(df, backend="local", cache_dir=str(tmp / "pd"), progress=False)
    pandas_s = time.perf_counter() - t0
    print(f"offline, pandas in this process: {n} images in {pandas_s:.1f} s = {n / pandas_s:.1f} images/s")
    per_s: dict[int, float] = {}
    for workers in (2, 1):
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            # Every worker loads the models before the clock starts.
            client.run(_load_models)
            ddf = dd.from_pandas(df, npartitions=partitions, sort=False)
            t0 = time.perf_counter()
            got = ddf.imagetags.generate(col="path", backend="local",
                                         cache_dir=str(tmp / f"dask{workers}")).compute()
            secs = time.perf_counter() - t0
        per_s[workers] = n / secs
        same = got["tags"].tolist() == ref["tags"].tolist()
        print(f"offline, Dask {workers} worker(s) x 1 thread, {partitions} partitions: {secs:.1f} s = "
              f"{n / secs:.1f} images/s = {pandas_s / secs:.2f} of pandas; tags equal to pandas: {same}")
    print(f"scaling 1 -> 2 workers: x{per_s[2] / per_s[1]:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=60)
    ap.add_argument("--rate", type=int, default=120, help="the fake API's limit per 60 s")
    ap.add_argument("--images", type=int, default=160)
    ap.add_argument("--partitions", type=int, default=8)
    ap.add_argument("--only", choices=("rate", "offline"))
    args = ap.parse_args()
    print(f"cores {os.cpu_count()}, load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        (tmp / "rate").mkdir()
        (tmp / "offline").mkdir()
        os.environ["IMAGETAGS_CACHE_DIR"] = str(tmp / "default-cache")
        if args.only in (None, "rate"):
            rate_figures(tmp, args.calls, args.rate, args.partitions)
        if args.only in (None, "offline"):
            offline_figures(tmp, args.images, args.partitions)
    print(f"load average after {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
