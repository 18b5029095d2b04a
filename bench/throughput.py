"""Throughput against a rate-limited server: the seed's loop, a naive pool, and generate().

Starts a real HTTP server on 127.0.0.1 (imagetags_df.testing.FakeImageDescriber)
that enforces 300 requests/min as a sliding window of 50 per 10 s (the same
average as the limit, with less slack than a 60 s window) and answers each
request after 0.5–3 s. Then, in one run:

1. the seed document's own sequential loop (one ``requests.post`` after another);
2. a naive thread pool (32 threads, no limiter, no retries);
3. ``imagetags_df.generate`` with ``rate_limit="300/min"``;
4. a fully cached re-run over 10,000 rows (and 1,000 for comparison), each in a
   fresh process so its peak RSS is its own.

Prints achieved rate / allowed rate, 1004 rejections and rows lost for each.
Bounded: every phase has a fixed count and a time cap; loopback only.

    python bench/throughput.py            # about 3 minutes
    python bench/throughput.py --quick    # smaller counts, ~1 minute
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import requests
from PIL import Image

import imagetags_df
from imagetags_df.testing import FakeImageDescriber

LIMIT_PER_MIN = 300
WINDOW = 10.0
PER_WINDOW = int(LIMIT_PER_MIN * WINDOW / 60)
LATENCY = (0.5, 3.0)
KEY = "sk-bench"


def make_images(folder: Path, n: int, size=(48, 32)) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        p = folder / f"img_{i:05d}.png"  # lossless: every image stays distinct
        if not p.exists():
            img = Image.new("RGB", size, ((i * 7) % 256, (i * 13) % 256, (i * 29) % 256))
            img.putpixel((0, 0), (i % 256, (i // 256) % 256, 255))  # every image distinct: no dedupe
            img.save(p)
        paths.append(str(p))
    return paths


# --- 1. the seed document's loop, as written there (lang default "zh") ---------
def seed_generate_image_tags(url: str, api_key: str, image_path: str, lang: str = "zh"):
    with open(image_path, "rb") as image_file:
        image_base64_data = base64.b64encode(image_file.read()).decode("utf-8")
    headers = {"content-type": "application/json", "authorization": f"Bearer {api_key}"}
    payload = {"image": f"data:image/jpeg;base64,{image_base64_data}", "lang": lang}
    return requests.post(url + "/api/v1/generate_tags", headers=headers, json=payload)


def server_rate(api: FakeImageDescriber) -> float:
    """Accepted requests per minute as the server saw them (first to last arrival)."""
    ok = sorted(c.at for c in api.calls if c.outcome == "ok")
    if len(ok) < 2:
        return 0.0
    return (len(ok) - 1) / (ok[-1] - ok[0]) * 60


def report(name: str, api: FakeImageDescriber, rows: int, lost: int, wall: float) -> dict:
    ok = api.count("ok")
    rate = server_rate(api)
    wall_rate = ok / wall * 60 if wall > 0 else 0.0
    row = {"approach": name, "rows": rows, "ok": ok, "rejected_1004": api.count("1004"), "rows_lost": lost,
           "rate/min": round(rate, 1), "rate/limit": round(rate / LIMIT_PER_MIN, 3),
           "wall rate/limit": round(wall_rate / LIMIT_PER_MIN, 3), "seconds": round(wall, 1)}
    print(json.dumps(row), flush=True)
    return row


def bench_seed(paths: list[str], seconds: float) -> dict:
    with FakeImageDescriber(keys={KEY}, rate_limit=PER_WINDOW, window=WINDOW, latency=LATENCY) as api:
        t0 = time.monotonic()
        done = lost = 0
        for p in paths:
            if time.monotonic() - t0 > seconds:
                break
            r = seed_generate_image_tags(api.url, KEY, p)
            done += 1
            lost += r.status_code != 200
        return report("seed sequential loop", api, done, lost, time.monotonic() - t0)


def bench_naive(paths: list[str]) -> dict:
    with FakeImageDescriber(keys={KEY}, rate_limit=PER_WINDOW, window=WINDOW, latency=LATENCY) as api:
        t0 = time.monotonic()
        with ThreadPoolExecutor(32) as pool:
            codes = list(pool.map(lambda p: seed_generate_image_tags(api.url, KEY, p).status_code, paths))
        return report("naive thread pool (32)", api, len(paths), sum(c != 200 for c in codes),
                      time.monotonic() - t0)


def bench_generate(paths: list[str], cache: Path) -> dict:
    with FakeImageDescriber(keys={KEY}, rate_limit=PER_WINDOW, window=WINDOW, latency=LATENCY) as api:
        t0 = time.monotonic()
        out = imagetags_df.generate(pd.DataFrame({"path": paths}), backend="imagedescriber", api_key=KEY,
                                    base_url=api.url, cache_dir=cache, rate_limit=f"{LIMIT_PER_MIN}/min",
                                    progress=False)
        return report("imagetags_df.generate", api, len(paths), int(out.error.notna().sum()),
                      time.monotonic() - t0)


RERUN = """
import resource, sys, time, pandas as pd, imagetags_df
paths = open(sys.argv[1]).read().split()
df = pd.DataFrame({"path": paths})
t0 = time.perf_counter()
out = imagetags_df.generate(df, backend="imagedescriber", api_key="%s", base_url=sys.argv[3],
                            cache_dir=sys.argv[2], progress=False, max_retries=0)
dt = time.perf_counter() - t0
assert out.cached.all() and out.error.isna().all(), out[~out.cached].head()
print(f"{len(df)} {dt:.3f} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}")
""" % KEY


def bench_cached_rerun(folder: Path, cache: Path, n: int, sizes: tuple[int, ...]) -> list[dict]:
    paths = make_images(folder / "many", n)
    # Fill the cache fast through an unlimited server (this part is not measured).
    with FakeImageDescriber(keys={KEY}) as api:
        url = api.url
        imagetags_df.generate(pd.DataFrame({"path": paths}), backend="imagedescriber", api_key=KEY,
                              base_url=api.url, cache_dir=cache, rate_limit="10000000/min",
                              max_concurrency=32, progress=False)
    rows = []
    for size in sizes:
        listing = folder / f"list_{size}.txt"
        listing.write_text("\n".join(paths[:size]))
        # The server is stopped by now: a cached re-run must not need it.
        res = subprocess.run([sys.executable, "-c", RERUN, str(listing), str(cache), url], capture_output=True,
                             text=True, timeout=300)
        if res.returncode != 0:
            raise SystemExit(res.stderr)
        count, seconds, rss = res.stdout.split()
        row = {"cached re-run rows": int(count), "seconds": float(seconds),
               "rows/s": round(int(count) / float(seconds)), "peak RSS MB": int(rss)}
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smaller counts (about a minute)")
    args = ap.parse_args()
    n_gen = 100 if args.quick else 300
    n_rerun = 2000 if args.quick else 10_000
    print(f"server: {PER_WINDOW} per {WINDOW:g} s sliding window (= {LIMIT_PER_MIN}/min), "
          f"latency {LATENCY[0]}-{LATENCY[1]} s; {os.cpu_count()} cores", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = make_images(folder / "imgs", max(n_gen, 400))
        bench_seed(paths, seconds=15 if args.quick else 30)
        bench_naive(paths[:400])
        bench_generate(paths[:n_gen], folder / "cache")
        bench_cached_rerun(folder, folder / "cache-rerun", n_rerun, (n_rerun // 10, n_rerun))


if __name__ == "__main__":
    main()
