"""Look-alikes measured: near-duplicate recall and false merges on real photos with copies and
halves, similar's precision@5 by category, and the nearest-neighbour index at scale.

    python bench/photoset/build.py                 # the labelled photos (once)
    python bench/lookalikes.py --photos 100        # duplicates: 100 photos + 9 copies + 2 halves each
    python bench/lookalikes.py --similar           # precision@5 of similar over the photoset's classes
    python bench/lookalikes.py --ann 100000 --dim 1280 --libs hnswlib,faiss,usearch
    python bench/lookalikes.py --ann 1000000 --dim 64 --libs hnswlib

Each part runs in a child process so its peak memory (ru_maxrss) is its own. Timings on a
shared machine are noisy: compare figures from one run.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench" / "photoset"))

import numpy as np
import pandas as pd
from PIL import Image

from imagetags_df.testing.copies import write_copies


def peak_mb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def build_set(n: int, where: Path) -> pd.DataFrame:
    """``n`` photoset photos, each with its nine near copies and its two halves, as files."""
    from load import load

    photos = load().head(n)

    def pictures():
        for path in photos["path"]:
            im = Image.open(path)
            im.load()
            im = im.convert("RGB")
            im.thumbnail((1600, 1600))
            yield Path(path).stem, im

    return write_copies(pictures(), where)


def score(out: pd.DataFrame) -> tuple[float, int, dict[str, int], list[list[str]]]:
    """Recall (copies grouped with their original), distinct pictures merged, misses by kind."""
    orig = out[out.kind == "orig"].set_index("picture")["dup_group"]
    copies = out[~out.kind.isin(["orig", "left45", "right45"])]
    ok = [pd.notna(r.dup_group) and pd.notna(orig[r.picture]) and r.dup_group == orig[r.picture]
          for r in copies.itertuples()]
    missed: dict[str, int] = {}
    for r, good in zip(copies.itertuples(), ok):
        if not good:
            missed[r.kind] = missed.get(r.kind, 0) + 1
    merged, groups = 0, []
    for _, g in out.dropna(subset=["dup_group"]).groupby("dup_group"):
        pics = sorted(set(g.picture))
        if len(pics) > 1:
            merged += len(pics) - 1
            groups.append(pics)
    return sum(ok) / len(ok), merged, missed, groups


def run_photos(n: int, thresholds: list[float], sheet: str | None) -> None:
    from imagetags_df.lookalikes import duplicates

    with tempfile.TemporaryDirectory() as tmp:
        df = build_set(n, Path(tmp))
        cache = Path(tmp) / "cache"
        for t in thresholds:
            start = time.perf_counter()
            out = duplicates(df, cache_dir=cache, threshold=t)
            took = time.perf_counter() - start
            recall, merged, missed, groups = score(out)
            print(f"duplicates threshold={t:.2f}: {len(df)} images ({n} photos), recall {recall:.3f}, "
                  f"distinct merged {merged} {groups[:5]}, missed {missed}, {took:.1f} s "
                  f"(first threshold includes embeddings), peak {peak_mb()} MB")
        if sheet:
            contact_sheet(out, sheet)


def contact_sheet(out: pd.DataFrame, path: str, groups: int = 12, side: int = 96) -> None:
    """One row per duplicate group (largest first), to look at."""
    g = out.dropna(subset=["dup_group"]).groupby("dup_group")
    picked = sorted(g, key=lambda kv: -len(kv[1]))[:groups]
    width = max(len(v) for _, v in picked) if picked else 1
    sheet = Image.new("RGB", (width * (side + 4), len(picked) * (side + 4)), "white")
    for r, (_, rows) in enumerate(picked):
        for c, p in enumerate(rows["path"]):
            im = Image.open(p).convert("RGB")
            im.thumbnail((side, side))
            sheet.paste(im, (c * (side + 4), r * (side + 4)))
    sheet.save(path)
    print(f"contact sheet of {len(picked)} groups: {path}")


def run_similar() -> None:
    from load import load

    from imagetags_df.learn.embeddings import embedding_matrix
    from imagetags_df.lookalikes import similar
    from imagetags_df.lookalikes.frame import normalise

    df = load()
    labels = np.asarray(df["label"].tolist())
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        hits = []
        for i in range(len(df)):
            got = similar(df, i, k=5, cache_dir=tmp)
            hits.append((labels[got.index.to_numpy()] == labels[i]).mean())
        per = (time.perf_counter() - start) / len(df)
        m, _ = embedding_matrix(df, cache_dir=tmp)
    raw = m / np.linalg.norm(m, axis=1, keepdims=True)
    s = raw @ raw.T
    np.fill_diagonal(s, -9)
    raw_p5 = (labels[np.argsort(-s, axis=1)[:, :5]] == labels[:, None]).mean()
    print(f"similar precision@5 over {len(set(labels))} classes ({len(df)} photos): {np.mean(hits):.3f} "
          f"(raw features, no power normalisation: {raw_p5:.3f}); {per * 1000:.0f} ms per query "
          f"including reading the frame's cached embeddings")
    n = normalise(m)
    np.save(Path(tempfile.gettempdir()) / "lookalikes_photoset.npy", n)


def run_ann(n: int, dim: int, lib: str) -> None:
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((1000, dim)).astype(np.float32)
    x = np.empty((n, dim), np.float32)
    for s in range(0, n, 100_000):
        e = min(n, s + 100_000)
        x[s:e] = centres[rng.integers(0, 1000, e - s)] + 0.7 * rng.standard_normal((e - s, dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    start = time.perf_counter()
    if lib == "hnswlib":
        from imagetags_df.lookalikes.index import VectorIndex

        with tempfile.TemporaryDirectory() as tmp:
            idx = VectorIndex(dim, Path(tmp))
            idx.add([str(i) for i in range(n)], x)
            built = time.perf_counter() - start
            q = time.perf_counter()
            for i in range(100):
                idx.search(x[i:i + 1], 10)
            one = (time.perf_counter() - q) / 100
            q = time.perf_counter()
            idx.search(x, 17)
            allk = time.perf_counter() - q
            more = rng.standard_normal((1000, dim)).astype(np.float32)
            q = time.perf_counter()
            idx.add([f"new{i}" for i in range(1000)], more / np.linalg.norm(more, axis=1, keepdims=True))
            grow = time.perf_counter() - q
    elif lib == "faiss":
        import faiss

        idx = faiss.IndexHNSWFlat(dim, 16, faiss.METRIC_INNER_PRODUCT)
        idx.hnsw.efConstruction = 100
        idx.add(x)
        built = time.perf_counter() - start
        idx.hnsw.efSearch = 64
        q = time.perf_counter()
        for i in range(100):
            idx.search(x[i:i + 1], 10)
        one = (time.perf_counter() - q) / 100
        q = time.perf_counter()
        idx.search(x, 17)
        allk = time.perf_counter() - q
        q = time.perf_counter()
        idx.add(x[:1000])
        grow = time.perf_counter() - q
    elif lib == "usearch":
        from usearch.index import Index

        idx = Index(ndim=dim, metric="cos", dtype="f32", connectivity=16, expansion_add=100, expansion_search=64)
        idx.add(np.arange(n), x)
        built = time.perf_counter() - start
        q = time.perf_counter()
        for i in range(100):
            idx.search(x[i], 10)
        one = (time.perf_counter() - q) / 100
        q = time.perf_counter()
        idx.search(x, 17)
        allk = time.perf_counter() - q
        q = time.perf_counter()
        idx.add(np.arange(n, n + 1000), x[:1000])
        grow = time.perf_counter() - q
    else:
        raise SystemExit(f"unknown library {lib}")
    print(f"{lib}: {n:,} x {dim} vectors: build {built:.1f} s, one query {one * 1000:.2f} ms, "
          f"17 neighbours of every vector (duplicates' candidate step) {allk:.1f} s, add 1,000 more {grow:.2f} s, "
          f"peak {peak_mb()} MB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=int, help="duplicates on this many photoset photos with copies and halves")
    ap.add_argument("--thresholds", default="0.65", help="comma-separated duplicate thresholds to score")
    ap.add_argument("--sheet", help="write a contact sheet of the duplicate groups to this PNG")
    ap.add_argument("--similar", action="store_true", help="precision@5 of similar over the photoset's classes")
    ap.add_argument("--ann", type=int, help="synthetic vectors for the index comparison")
    ap.add_argument("--dim", type=int, default=1280)
    ap.add_argument("--libs", default="hnswlib")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        spec = json.loads(a.child)
        run_ann(spec["n"], spec["dim"], spec["lib"])
        return
    if a.photos:
        run_photos(a.photos, [float(t) for t in a.thresholds.split(",")], a.sheet)
    if a.similar:
        run_similar()
    if a.ann:
        for lib in a.libs.split(","):
            # A child per library: each peak memory is its own.
            subprocess.run([sys.executable, __file__, "--child", json.dumps({"n": a.ann, "dim": a.dim, "lib": lib})],
                           check=False)


if __name__ == "__main__":
    main()
