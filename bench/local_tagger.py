"""Benchmark of the offline tagger (backend="local") on real photos.

    python bench/local_tagger.py [--n 240] [--batch 16] [--lang en] [--precisions float32,int8] [--rounds 2]

Builds N JPEGs from the photos in data/samples (each sample at several sizes up to 2000 px,
flipped and cropped: the decode cost of camera-sized files is part of what is measured),
then tags them twice in this same process:

* baseline: a plain pipeline, one image at a time, full-size decode, no thread pool;
* tagger:   LocalBackend.tag_many in batches (draft JPEG decode, batched classifier), once per
            precision of ``--precisions`` in each of ``--rounds`` rounds, alternated, so a
            machine shared with other programs slows both alike (the ratio is the figure).

Model load time and peak RSS are measured for each precision in a fresh child process that
loads that precision only and tags the same photos once.

Prints model load time, images/s of both, per-stage milliseconds per image (decode,
classify, detect, compose; summed over worker threads), process CPU time per image, the
load average (the machine may be shared), peak RSS, and the ceiling the two models' own CPU time
puts on any pipeline built on them. Target: >= 25 images/s on 2 cores, model load < 1 s.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from PIL import Image, ImageOps  # noqa: E402

from imagetags_df._types import PreparedImage  # noqa: E402

SAMPLES = ROOT / "data" / "samples"
#: Longest side of the variants: phone/camera-like sizes and web-like ones.
SIZES = (2000, 1400, 800, 500)


def build_images(n: int) -> list[PreparedImage]:
    photos = [p for p in sorted(SAMPLES.iterdir()) if p.suffix.lower() in (".jpg", ".jpeg", ".png")]
    out: list[PreparedImage] = []
    k = 0
    while len(out) < n:
        for path in photos:
            if len(out) >= n:
                break
            im = Image.open(path).convert("RGB")
            size = SIZES[k % len(SIZES)]
            variant = k // len(SIZES) % 3
            if variant == 1:
                im = ImageOps.mirror(im)
            elif variant == 2:
                w, h = im.size
                im = im.crop((w // 10, h // 10, w - w // 10, h - h // 10))
            scale = size / max(im.size)
            im = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))), Image.BICUBIC)
            buf = io.BytesIO()
            im.save(buf, format="JPEG", quality=80 + k % 15)  # every file distinct
            data = buf.getvalue()
            out.append(PreparedImage(data=data, mime="image/jpeg", sha256=hashlib.sha256(data).hexdigest(),
                                     source=f"{path.name}#{k}", width=im.width, height=im.height))
        k += 1
    # The tagger remembers analyses by content: repeated bytes would flatter it.
    assert len({i.sha256 for i in out}) == len(out), "benchmark images must all differ"
    return out


def baseline(images: list[PreparedImage], lang: str) -> tuple[float, dict[str, float]]:
    """The obvious implementation: full decode, resize, one image per model call."""
    from imagetags_df.backends.local.colors import pixel_stats
    from imagetags_df.backends.local.compose import compose
    from imagetags_df.backends.local.imaging import detector_input_for
    from imagetags_df.backends.local.models import CLASSIFIER_RESIZE, CLASSIFIER_SIZE, get_models
    from imagetags_df.backends.local.tags import analyse
    from imagetags_df.backends.local.vocab import get_vocabulary

    models, vocab = get_models(), get_vocabulary()
    stages = {"decode": 0.0, "classify": 0.0, "detect": 0.0, "compose": 0.0}
    t_start = time.perf_counter()
    cpu_start = time.process_time()
    for img in images:
        t0 = time.perf_counter()
        im = Image.open(io.BytesIO(img.data)).convert("RGB")
        w, h = im.size
        s = CLASSIFIER_RESIZE / min(w, h)
        small = im.resize((round(w * s), round(h * s)), Image.BILINEAR)
        left, top = (small.width - CLASSIFIER_SIZE) // 2, (small.height - CLASSIFIER_SIZE) // 2
        crop = np.asarray(small.crop((left, top, left + CLASSIFIER_SIZE, top + CLASSIFIER_SIZE)))
        det, extent = detector_input_for(im)
        stats_px = np.asarray(im.resize((48, 48), Image.BOX))
        det_px = np.asarray(det)
        t1 = time.perf_counter()
        probs = models.classify(crop[None])[0][0]
        t2 = time.perf_counter()
        dets = models.detect(det_px, extent)
        t3 = time.perf_counter()
        compose(analyse(probs, dets, pixel_stats(stats_px, crop), w, h, vocab), vocab, lang)
        t4 = time.perf_counter()
        stages["decode"] += t1 - t0
        stages["classify"] += t2 - t1
        stages["detect"] += t3 - t2
        stages["compose"] += t4 - t3
    stages["cpu"] = time.process_time() - cpu_start
    return time.perf_counter() - t_start, stages


def tagger(images: list[PreparedImage], lang: str, batch: int, precision: str | None = None
           ) -> tuple[float, dict[str, float]]:
    from imagetags_df.backends.local import LocalBackend

    backend = LocalBackend(precision=precision)
    t_start = time.perf_counter()
    cpu_start = time.process_time()
    for i in range(0, len(images), batch):
        for res in backend.tag_many(images[i:i + batch], lang):
            if isinstance(res, BaseException):
                raise res
    elapsed = time.perf_counter() - t_start
    t = backend.times
    return elapsed, {"decode": t.decode, "classify": t.classify, "detect": t.detect, "faces": t.faces,
                     "compose": t.analyse + t.compose,
                     "cpu": time.process_time() - cpu_start}


def through_engine(images: list[PreparedImage], lang: str) -> dict[str, float]:
    """The same photos as files, through ``df.imagetags.generate(backend="local")``: without a
    cache; with a fresh one; then in a second language with that cache, where the stored
    analyses leave only the composing to do."""
    import tempfile

    import pandas as pd

    import imagetags_df  # noqa: F401 - registers the accessor

    times: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, img in enumerate(images):
            path = Path(tmp) / f"{i:04d}.jpg"
            path.write_bytes(img.data)
            paths.append(str(path))
        df = pd.DataFrame({"path": paths})
        other = "fr" if lang != "fr" else "de"
        for name, run_lang, cache_dir in (("no cache", lang, False), (f"{lang}, fresh cache", lang, Path(tmp) / "c"),
                                          (f"then {other}, same cache", other, Path(tmp) / "c")):
            t0 = time.perf_counter()
            out = df.imagetags.generate(col="path", backend="local", lang=run_lang, cache_dir=cache_dir,
                                        progress=False)
            times[name] = time.perf_counter() - t0
            assert out["error"].isna().all()
    return times


def child(precision: str, n: int, lang: str, batch: int) -> None:
    """Load one precision's models in this fresh process, tag the photos once, print JSON."""
    import json

    from imagetags_df.backends.local.models import get_models
    from imagetags_df.backends.local.vocab import get_vocabulary

    get_vocabulary()
    t0 = time.perf_counter()
    get_models(precision)
    load = time.perf_counter() - t0
    tagger(build_images(n), lang, batch, precision)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"load": load, "rss": rss}))


def in_child(precision: str, args: argparse.Namespace) -> dict[str, float]:
    import json
    import subprocess

    done = subprocess.run([sys.executable, __file__, "--child", precision, "--n", str(args.n), "--lang", args.lang,
                           "--batch", str(args.batch)], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=240)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lang", default="en")
    ap.add_argument("--skip-baseline", action="store_true")
    ap.add_argument("--engine", action="store_true", help="also time df.imagetags.generate on the files")
    ap.add_argument("--precisions", default="float32,int8", help="comma-separated, run alternately")
    ap.add_argument("--rounds", type=int, default=2, help="alternations of the precisions")
    ap.add_argument("--no-fresh", action="store_true", help="skip the fresh-process load time and peak RSS")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.n, args.lang, args.batch)
        return
    precisions = [p.strip() for p in args.precisions.split(",") if p.strip()]

    t0 = time.perf_counter()
    from imagetags_df.backends.local.models import get_models
    from imagetags_df.backends.local.vocab import get_vocabulary

    t_import = time.perf_counter() - t0
    t0 = time.perf_counter()
    get_vocabulary()
    t_vocab = time.perf_counter() - t0
    loads = []
    for p in precisions:
        t0 = time.perf_counter()
        get_models(p)
        loads.append(f"models ({p}) {time.perf_counter() - t0:.2f} s")
    print(f"load: import {t_import:.2f} s, {', '.join(loads)}, vocabulary {t_vocab:.2f} s")

    images = build_images(args.n)
    mb = sum(len(i.data) for i in images) / 1e6
    print(f"{len(images)} JPEGs from {SAMPLES.relative_to(ROOT)} ({mb:.0f} MB, longest side {SIZES})")

    # Warm-up so no run pays for first-call allocations.
    for p in precisions:
        tagger(images[:4], args.lang, args.batch, p)

    rows = []
    if not args.skip_baseline:
        rows.append(("baseline (full decode, 1 at a time)", *baseline(images, args.lang)))
    by_precision: dict[str, list[tuple[float, dict[str, float]]]] = {p: [] for p in precisions}
    for _ in range(max(1, args.rounds)):
        for p in precisions:
            by_precision[p].append(tagger(images, args.lang, args.batch, p))
    for p, runs in by_precision.items():
        for k, (elapsed, st) in enumerate(runs):
            rows.append((f"tagger {p} (batch {args.batch}, round {k + 1})", elapsed, st))
    # Stage times of the tagger are summed over its worker threads (thread-time, not wall
    # time); "cpu" is the process CPU time per image, the figure least disturbed by other
    # programs on a shared machine.
    print(f"load average before the runs: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    for name, elapsed, st in rows:
        per = {k: 1000 * v / len(images) for k, v in st.items()}
        print(f"{name:44s} {len(images) / elapsed:6.1f} images/s   per image: "
              + "  ".join(f"{k} {v:5.1f} ms" for k, v in per.items()))
    # The two models' own CPU time bounds any pipeline built on them: with every core busy
    # and decoding and composing free, images/s could not exceed cores x 1000 / model ms.
    summary: dict[str, tuple[float, float, float]] = {}
    for p, runs in by_precision.items():
        rate = sum(len(images) / e for e, _ in runs) / len(runs)
        cpu = sum(st["cpu"] for _, st in runs) / len(runs) * 1000 / len(images)
        model_ms = sum(st["classify"] + st["detect"] for _, st in runs) / len(runs) * 1000 / len(images)
        ceiling = (os.cpu_count() or 1) * 1000 / model_ms
        summary[p] = (rate, cpu, ceiling)
        print(f"{p}: {rate:.1f} images/s (mean of {len(runs)}), CPU {cpu:.1f} ms per image; models alone "
              f"{model_ms:.1f} ms per image -> at most {ceiling:.1f} images/s on {os.cpu_count()} cores; "
              f"the tagger reaches {rate / ceiling:.0%} of that")
    if "float32" in summary and len(summary) > 1:
        base_rate, base_cpu, _ = summary["float32"]
        for p, (rate, cpu, _) in summary.items():
            if p != "float32":
                print(f"{p} / float32: {rate / base_rate:.2f}x images/s, {base_cpu / cpu:.2f}x less CPU per image")
    if not args.skip_baseline:
        print(f"speed-up over the baseline: {rows[0][1] / by_precision[precisions[0]][0][0]:.2f}x")
    if args.engine:
        for name, elapsed in through_engine(images, args.lang).items():
            label = f"df.imagetags.generate ({name})"
            print(f"{label:44s} {len(images) / elapsed:6.1f} images/s   ({elapsed:.2f} s)")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process (every precision loaded): {rss:.0f} MB")
    for p in precisions if not args.no_fresh else []:
        got = in_child(p, args)
        print(f"{p} alone in a fresh process: model load {got['load']:.2f} s, peak RSS {got['rss']:.0f} MB")


if __name__ == "__main__":
    main()
