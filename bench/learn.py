"""Learning labels: quality on real labelled photos, and what embeddings and learning cost.

    python bench/photoset/build.py                # once: the labelled photos (7 classes)
    python bench/learn.py                         # quality (10 draws x 3, 5, 10 per class) + speed
    python bench/learn.py --only quality          # or: float16, tagging, embed, learn, predict
    python bench/learn.py --calibration           # also the calibration photos in 5 coarse classes
                                                  # (python bench/calibration/build.py first)

Quality: for each draw, k photos per class are the labelled examples and every other photo
is a test; the label model (``fit_label_model``, what ``learn`` runs) is set next to a plain
scikit-learn ``LogisticRegression()`` on the same raw embeddings. Printed: top-label accuracy
(the most likely label against the class a person saw), the precision of the labels the
model emits (over its thresholds), and the share of test photos that get a label.

Speed (one run, before/after alternated on a shared machine):

* ``tagging``: ``generate(backend="local")`` on fresh caches with and without storing the
  embeddings it computes (the classifier pass is the same: only the cache write differs);
* ``embed``: ``embed`` on a fresh cache against the classifier-only ceiling (decode the crop
  and run the classifier, nothing else, same threads);
* ``learn``: ``learn`` on 1,000 labelled rows whose embeddings are cached;
* ``predict``: ``predict`` on 100,000 rows whose embeddings are cached (small distinct files,
  each stored with the embedding of the photo it is a copy of).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench" / "photoset"))

from imagetags_df import images  # noqa: E402
from imagetags_df.backends.local import embeddings as local  # noqa: E402
from imagetags_df.backends.local import imaging  # noqa: E402
from imagetags_df.backends.local.backend import LocalBackend  # noqa: E402
from imagetags_df.backends.local.models import get_models  # noqa: E402
from imagetags_df.infra.cache import Cache, embedding_key  # noqa: E402
from imagetags_df.learn import embed, learn  # noqa: E402
from imagetags_df.learn.embeddings import embedding_matrix  # noqa: E402
from imagetags_df.learn.model import fit_label_model  # noqa: E402

KS = (3, 5, 10)
DRAWS = 10
#: The calibration photos' main subjects folded into coarse classes (those with >= 12 photos kept).
COARSE = {
    "illustration": "drawing", "mural": "drawing", "map": "drawing",
    "flower": "plant", "leaf": "plant", "dandelion": "plant", "grass": "plant", "tree": "plant", "fig": "plant",
    "screenshot": "screen", "text": "screen",
    "building": "city", "city": "city", "house": "city", "street": "city", "stadium": "city", "bridge": "city",
    "wall": "city", "railway": "city",
    "sky": "landscape", "lake": "landscape", "mountain": "landscape", "stream": "landscape", "forest": "landscape",
    "beach": "landscape", "canyon": "landscape", "field": "landscape", "pier": "landscape",
}


def photoset() -> pd.DataFrame:
    from load import load  # bench/photoset/load.py

    return load()


def calibration() -> pd.DataFrame:
    folder = ROOT / "bench" / "calibration"
    labels = json.loads((folder / "labels.json").read_text())
    rows = [(name, COARSE.get(v["subject"][0])) for name, v in labels.items() if v.get("subject")]
    df = pd.DataFrame([{"path": str(folder / "photos" / n), "label": c} for n, c in rows if c])
    counts = df["label"].value_counts()
    return df[df["label"].isin(counts[counts >= 12].index)].reset_index(drop=True)


def _draw(y: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    train = np.concatenate([rng.choice(np.nonzero(y == c)[0], k, replace=False) for c in sorted(set(y))])
    return train, np.setdiff1d(np.arange(len(y)), train)


def quality(x: np.ndarray, y: np.ndarray) -> dict[int, dict[str, float]]:
    from sklearn.linear_model import LogisticRegression

    out = {}
    for k in KS:
        got: dict[str, list[float]] = {"plain": [], "acc": [], "precision": [], "share": []}
        for seed in range(DRAWS):
            train, test = _draw(y, k, seed)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                plain = LogisticRegression(max_iter=3000).fit(x[train], y[train])
            got["plain"].append(float((plain.predict(x[test]) == y[test]).mean()))
            model = fit_label_model(x[train], [[c] for c in y[train]])
            probs = model.scores(x[test])
            got["acc"].append(float((np.array(model.labels)[probs.argmax(axis=1)] == y[test]).mean()))
            emitted = model._emitted(probs)
            n = sum(len(e) for e in emitted)
            right = sum(sum(label == truth for label in e) for e, truth in zip(emitted, y[test]))
            got["precision"].append(right / n if n else float("nan"))
            got["share"].append(float(np.mean([bool(e) for e in emitted])))
        out[k] = {name: float(np.nanmean(v)) for name, v in got.items()}
    return out


def print_quality(name: str, df: pd.DataFrame, x: np.ndarray) -> dict[int, dict[str, float]]:
    y = df["label"].to_numpy().astype(str)
    counts = pd.Series(y).value_counts()
    print(f"\n{name}: {len(y)} photos, {len(counts)} classes ({', '.join(f'{c} {n}' for c, n in counts.items())})")
    print(f"  {'per class':>9}  {'plain LR acc':>12}  {'model acc':>9}  {'emitted precision':>17}  {'labelled':>8}")
    res = quality(x, y)
    for k, r in res.items():
        print(f"  {k:>9}  {r['plain']:>12.3f}  {r['acc']:>9.3f}  {r['precision']:>17.3f}  {r['share']:>8.1%}")
    return res


def float32_embeddings(paths: list[str]) -> np.ndarray:
    """The embeddings as the classifier gives them (float32, never stored)."""
    from imagetags_df._types import PreparedImage

    raw = [PreparedImage(data=Path(p).read_bytes(), mime="", sha256="", source=p) for p in paths]
    got = local.embed_images(raw)
    return np.stack([np.asarray(v, dtype=np.float32) for v in got])


def bench_float16(df: pd.DataFrame, x16: np.ndarray) -> None:
    x32 = float32_embeddings(df["path"].tolist())
    y = df["label"].to_numpy().astype(str)
    print(f"\nfloat16 storage: largest difference to float32 {np.abs(x32 - x16).max():.2e} "
          f"(values up to {x32.max():.1f})")
    changed = total = 0
    for k in KS:
        for seed in range(DRAWS):
            train, test = _draw(y, k, seed)
            a = fit_label_model(x16[train], [[c] for c in y[train]])
            b = fit_label_model(x32[train], [[c] for c in y[train]])
            ea, eb = a._emitted(a.scores(x16[test])), b._emitted(b.scores(x32[test]))
            ta, tb = a.scores(x16[test]).argmax(1), b.scores(x32[test]).argmax(1)
            changed += int(sum(p != q for p, q in zip(ea, eb)) + (ta != tb).sum())
            total += 2 * len(test)
    print(f"  emitted labels or top label that differ, float16 vs float32 embeddings: {changed} of {total}")


def bench_tagging(paths: list[str], rounds: int = 3) -> None:
    times: dict[str, list[float]] = {"with": [], "without": []}
    cpu: dict[str, list[float]] = {"with": [], "without": []}
    keep = LocalBackend._keep_embeddings
    df = pd.DataFrame({"path": paths})
    get_models()
    for _ in range(rounds):
        for mode in ("without", "with"):
            LocalBackend._keep_embeddings = keep if mode == "with" else (lambda self, vectors: None)  # type: ignore[method-assign]
            with tempfile.TemporaryDirectory() as tmp:
                t0, c0 = time.perf_counter(), time.process_time()
                df.imagetags.generate(backend="local", cache_dir=tmp, progress=False)
                times[mode].append(time.perf_counter() - t0)
                cpu[mode].append(time.process_time() - c0)
    LocalBackend._keep_embeddings = keep  # type: ignore[method-assign]
    a, b = min(times["without"]), min(times["with"])
    ca, cb = min(cpu["without"]), min(cpu["with"])
    print(f"\ntagging {len(paths)} photos offline (best of {rounds}, alternated): without storing embeddings "
          f"{a:.2f} s ({ca:.2f} s CPU), with {b:.2f} s ({cb:.2f} s CPU): {b / a - 1:+.1%} wall, {cb / ca - 1:+.1%} CPU")


def bench_embed(paths: list[str], rounds: int = 2) -> None:
    import os
    from concurrent.futures import ThreadPoolExecutor

    models = get_models()
    workers = max(1, min(8, os.cpu_count() or 1))
    df = pd.DataFrame({"path": paths})

    def ceiling() -> float:
        # The least any embedding costs: read, decode the crop, run the classifier in batches of 16.
        def chunk(ps: list[str]) -> None:
            crops = [imaging.decode_classifier_crop(Path(p).read_bytes()) for p in ps]
            models.classify(np.stack(crops))

        t0 = time.perf_counter()
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(chunk, [paths[i:i + 16] for i in range(0, len(paths), 16)]))
        return time.perf_counter() - t0

    def full() -> float:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            embed(df, cache_dir=tmp, progress=False)
            return time.perf_counter() - t0

    c, e = [], []
    for _ in range(rounds):
        c.append(ceiling())
        e.append(full())
    with tempfile.TemporaryDirectory() as tmp:
        embed(df, cache_dir=tmp, progress=False)
        t0 = time.perf_counter()
        embed(df, cache_dir=tmp, progress=False)
        cached = time.perf_counter() - t0
    print(f"\nembed {len(paths)} photos (best of {rounds}, alternated): classifier-only ceiling {min(c):.2f} s "
          f"({len(paths) / min(c):.1f}/s), embed on a fresh cache {min(e):.2f} s ({len(paths) / min(e):.1f}/s): "
          f"{min(c) / min(e):.2f} of the ceiling; again from the cache {cached:.2f} s")


def _copies(df: pd.DataFrame, n: int, folder: Path, cache_dir: Path, small: bool) -> pd.DataFrame:
    """``n`` distinct files, each a copy of one photo (with a unique JPEG comment trailer, or a
    tiny stand-in when ``small``), its embedding stored as the photo's: what a cache holds after
    tagging ``n`` photos."""
    x, _ok = embedding_matrix(df, cache_dir=cache_dir)
    cache = Cache(cache_dir)
    identity = local.embedding_identity()
    stub = (ROOT / "data" / "samples" / "coffee.jpg").read_bytes() if not small else _tiny_jpeg()
    rows = []
    batch: dict[str, bytes] = {}
    originals = [stub if small else Path(p).read_bytes() for p in df["path"]]
    for i in range(n):
        src = i % len(df)
        data = originals[src] + f"copy {i}".encode()
        path = folder / f"copy_{i:06d}.jpg"
        path.write_bytes(data)
        batch[embedding_key(identity, images.sha256(data))] = local.to_bytes(x[src])
        rows.append({"path": str(path), "label": df["label"].iloc[src]})
        if len(batch) >= 5000:
            cache.set_bytes_many(batch)
            batch = {}
    cache.set_bytes_many(batch)
    cache.close()
    return pd.DataFrame(rows)


def _tiny_jpeg() -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (120, 80, 40)).save(buf, "JPEG")
    return buf.getvalue()


def bench_learn(df: pd.DataFrame, n: int = 1000) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache"
        rows = _copies(df, n, Path(tmp), cache, small=False)
        embed(rows, cache_dir=cache, progress=False)  # the hash memo, as after a tagging run
        import sklearn.linear_model  # noqa: F401  (imported once per process, not per learn)

        t0, c0 = time.perf_counter(), time.process_time()
        model = learn(rows, cache_dir=cache, progress=False)
        took, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"\nlearn on {n:,} labelled rows with cached embeddings ({len(model.labels)} labels): {took:.2f} s "
          f"({cpu:.2f} s CPU)")


def bench_predict(df: pd.DataFrame, n: int = 100_000) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache"
        model = learn(df.groupby("label").head(5), cache_dir=cache, progress=False)
        rows = _copies(df, n, Path(tmp), cache, small=True)
        t0 = time.perf_counter()
        model.predict(rows, cache_dir=cache)
        first = time.perf_counter() - t0
        t0, c0 = time.perf_counter(), time.process_time()
        out = model.predict(rows, cache_dir=cache)
        again, cpu = time.perf_counter() - t0, time.process_time() - c0
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\npredict on {n:,} rows with cached embeddings: {again:.1f} s, {cpu:.1f} s CPU ({first:.1f} s the first "
          "time, "
          f"which hashes every file); {out['learned'].map(bool).mean():.0%} got a label")
    import os

    print(f"  (load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", choices=["quality", "float16", "tagging", "embed", "learn", "predict"])
    ap.add_argument("--calibration", action="store_true", help="also measure on the calibration photos")
    ap.add_argument("--cache-dir", default=str(Path(tempfile.gettempdir()) / "imagetags-bench-learn"),
                    help="where the photos' embeddings are kept between runs")
    args = ap.parse_args()

    def want(section: str) -> bool:
        return args.only in (None, section)

    import os

    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (timings are wall clock and CPU)")
    df = photoset()
    x, ok = embedding_matrix(df, cache_dir=args.cache_dir)
    assert ok.all(), "some photos could not be embedded"
    if want("quality"):
        print_quality("photoset (bench/photoset)", df, x)
        if args.calibration:
            cal = calibration()
            xc, okc = embedding_matrix(cal, cache_dir=args.cache_dir)
            print_quality("calibration photos, coarse classes", cal[okc].reset_index(drop=True), xc[okc])
    if want("float16"):
        bench_float16(df, x)
    sample = df.groupby("label").head(8)["path"].tolist()
    if want("tagging"):
        bench_tagging(sample)
    if want("embed"):
        bench_embed(sample)
    if want("learn"):
        bench_learn(df)
    if want("predict"):
        bench_predict(df)


if __name__ == "__main__":
    main()
