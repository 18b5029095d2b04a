"""How right the offline tagger's content tags are, on the calibration photos.

    python bench/calibration/build.py      # once: fetch the photos (see that script)
    python bench/tag_quality.py [--json out.json] [--show-all] [--held-out]

For every photo in ``bench/calibration/labels.json`` (labels written by a person looking at
each photo: the main subject's acceptable names and every acceptable content tag), tags it
in English with ``backend="local"`` and prints:

* main subject named: a subject term is among the tags or words of the title;
* precision of content tags: correct / (correct + wrong);
* photos with at least one wrong content tag;
* informative tags per photo: correct tags that are not colours, shapes or light;

then every photo with a wrong tag. Colours, orientation and light words are not content
tags: they are left out of the count whether or not the tagger puts them in ``tags``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from imagetags_df.backends.local import LocalBackend  # noqa: E402
from imagetags_df.images import load  # noqa: E402

CALIBRATION = ROOT / "bench" / "calibration"
LABELS = CALIBRATION / "labels.json"
PHOTOS = CALIBRATION / "photos"

#: Words about pixels, not content (the tagger used to put them in ``tags``).
NOT_CONTENT = frozenset({
    "red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white", "gray", "beige",
    "colorful", "dark", "bright", "landscape orientation", "portrait orientation", "square",
})
#: Content tags that say nothing about what is in the picture, only how it looks.
NOT_INFORMATIVE = frozenset({"black and white"})


def _words(text: str) -> str:
    return " " + re.sub(r"[^a-z0-9]+", " ", text.lower()) + " "


def judge(label: dict, tags: list[str], title: str) -> dict:
    ok = {t.lower() for t in (*label["ok"], *label["subject"])}
    content = [t for t in tags if t.lower() not in NOT_CONTENT]
    right = [t for t in content if t.lower() in ok]
    wrong = [t for t in content if t.lower() not in ok]
    named = any(s.lower() in {t.lower() for t in tags} or f" {s.lower()} " in _words(title)
                for s in label["subject"])
    informative = [t for t in right if t.lower() not in NOT_INFORMATIVE]
    return {"right": right, "wrong": wrong, "subject_named": named, "informative": len(informative)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="also write every photo's tags, title and judgement here")
    parser.add_argument("--show-all", action="store_true", help="list every photo, not only those with wrong tags")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--photos", type=Path, default=PHOTOS,
                        help="another folder of labelled photos (a set the thresholds were not calibrated on)")
    parser.add_argument("--labels", type=Path, default=LABELS, help="their labels, in labels.json's format")
    parser.add_argument("--held-out", action="store_true",
                        help="the held-out pictures (build.py --held-out), which no threshold was calibrated on")
    args = parser.parse_args()
    if args.held_out:
        args.photos, args.labels = CALIBRATION / "held_out", CALIBRATION / "held_out_labels.json"
    photos: Path = args.photos

    labels: dict[str, dict] = json.loads(args.labels.read_text())
    missing = [name for name in labels if not (photos / name).exists()]
    if missing:
        sys.exit(f"{len(missing)} labelled pictures are missing from {photos} (e.g. {missing[0]}): "
                 "run `python bench/calibration/build.py --held-out` first")
    names = sorted(labels)
    backend = LocalBackend()
    t0 = time.perf_counter()
    results = {}
    for i in range(0, len(names), args.batch):
        chunk = names[i:i + args.batch]
        images = [load(photos / n) for n in chunk]
        for name, res in zip(chunk, backend.tag_many(images, "en")):
            if isinstance(res, BaseException):
                sys.exit(f"{name}: {res}")
            results[name] = res
    elapsed = time.perf_counter() - t0

    rows = []
    for name in names:
        res = results[name]
        verdict = judge(labels[name], res.tags, res.title)
        conf = getattr(res, "confidence", None)
        rows.append({"file": name, "tags": res.tags, "title": res.title, "description": res.description,
                     "confidence": conf, **verdict})
    n = len(rows)
    right = sum(len(r["right"]) for r in rows)
    wrong = sum(len(r["wrong"]) for r in rows)
    named = sum(r["subject_named"] for r in rows)
    with_wrong = sum(bool(r["wrong"]) for r in rows)
    informative = sum(r["informative"] for r in rows)
    print(f"{n} photos in {photos}, tagged in {elapsed:.1f} s")
    print(f"main subject named (tag or title)      {100 * named / n:5.1f} %   ({named}/{n})")
    print(f"precision of content tags              {100 * right / max(1, right + wrong):5.1f} %   "
          f"({right} right, {wrong} wrong)")
    print(f"photos with at least one wrong tag     {100 * with_wrong / n:5.1f} %   ({with_wrong}/{n})")
    print(f"informative tags per photo             {informative / n:5.2f}")
    print()
    for r in rows:
        if r["wrong"] or args.show_all:
            mark = "" if r["subject_named"] else "  [subject not named]"
            print(f"{r['file']}: wrong {r['wrong']}  tags {r['tags']}  title {r['title']!r}{mark}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
