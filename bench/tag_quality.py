"""How right the offline tagger's content tags are: in sample, cross-validated and held out.

    python bench/calibration/build.py --held-out   # once: fetch the photos (see that script)
    python bench/tag_quality.py [--folds 5] [--json out.json] [--show-all]
    python bench/tag_quality.py --held-out         # the 60 pictures no threshold was fit on
    python bench/tag_quality.py --cues             # each context cue's precision on its own

For every photo in ``bench/calibration/labels.json`` (labels written by a person looking at
each photo: the main subject's acceptable names and every acceptable content tag), the
models run once (their outputs are kept in ``.signals/``, keyed by the photo's and the
models' hashes); the rules then run as often as the fit needs. It prints, for the shipped
thresholds (in sample: fit on these very photos) and, with ``--folds``, for thresholds
fit by :func:`fit` on the other folds and judged on the fold they never saw (held-out
folds, every photo judged once):

* main subject named: a subject term is among the tags or words of the title;
* precision of content tags: correct / (correct + wrong);
* photos with at least one wrong content tag;
* informative tags per photo: correct tags that are not colours, shapes or light;

then the thresholds the fit chooses on the whole set (which are what ``tags.RULES``
should hold) and every photo with a wrong tag. Colours, orientation and light words are
not content tags: they are left out of the count whether or not the tagger puts them in
``tags``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import re
import sys
import time
import zlib
from dataclasses import asdict, fields, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from imagetags_df.backends.local import LocalBackend  # noqa: E402
from imagetags_df.backends.local import backend as backend_module  # noqa: E402
from imagetags_df.backends.local.compose import compose  # noqa: E402
from imagetags_df.backends.local.context import (  # noqa: E402
    CONTEXT_CUES,
    NEEDS_SECOND_SIGN,
    PIXEL_SIGNS,
    SECOND_CUE_MIN,
    cue_masses,
    plausible,
)
from imagetags_df.backends.local.faces import faces_digest  # noqa: E402
from imagetags_df.backends.local.models import models_digest  # noqa: E402
from imagetags_df.backends.local.tags import RULES, Rules, analyse  # noqa: E402
from imagetags_df.backends.local.vocab import Vocabulary, get_vocabulary  # noqa: E402
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

#: What the fit may choose for each threshold (``Rules`` field -> candidates). The grids
#: hold the hand-calibrated value and a few on either side.
GRID: dict[str, tuple[float, ...]] = {
    "specific_min": (0.45, 0.50, 0.55, 0.60, 0.65, 0.70, 0.75),
    "agreeing_specific_min": (0.45, 0.50, 0.55, 0.60, 0.65, 0.70, 0.75),
    "broader_min": (0.40, 0.45, 0.50, 0.55, 0.60, 0.65),
    "landscape_min": (0.20, 0.25, 0.30, 0.35, 0.40, 0.50),
    "sea_min": (0.30, 0.35, 0.40, 0.45, 0.50, 0.60),
    "water_min": (0.30, 0.36, 0.40, 0.45, 0.50, 0.60),
    "mountain_min": (0.30, 0.35, 0.40, 0.45, 0.50, 0.60, 0.70),
    "flower_min": (0.20, 0.25, 0.30, 0.35, 0.40, 0.50),
    "building_min": (0.35, 0.40, 0.45, 0.50, 0.55, 0.65),
    "water_context_min": (0.30, 0.35, 0.40, 0.45, 0.50, 0.60),
    "sibling_margin": (0.0, 0.10, 0.20, 0.30, 0.40, 0.50),
    "det_support": (0.0, 0.02, 0.05, 0.10, 0.20),
    "det_alone_min": (0.50, 0.60, 0.70, 0.80, 0.90, 1.0),
    "det_unnamed_min": (0.0, 0.50, 0.55, 0.60, 0.65, 0.70, 0.80),
    "person_min": (0.40, 0.45, 0.50, 0.55, 0.60, 0.65, 0.70),
    "person_beside_animal_min": (0.45, 0.55, 0.60, 0.65, 0.70, 0.75, 0.80, 0.90, 1.0),
}
#: Where the fit starts: the hand-calibrated thresholds and none of the rules added since
#: (no sibling margin, no classifier support for boxes, one minimum for every person box),
#: so that no value chosen on all the photos leaks into a fold's fit.
START = Rules(specific_min=0.60, agreeing_specific_min=0.60, broader_min=0.50, landscape_min=0.30, sea_min=0.40, water_min=0.36,
              mountain_min=0.40, flower_min=0.30, building_min=0.45, water_context_min=0.40, sibling_margin=0.0,
              det_support=0.0, det_alone_min=1.0, det_unnamed_min=0.0, person_min=0.45, person_beside_animal_min=0.45)
#: A wrong tag costs this many right ones in the fit's objective: precision first.
WRONG_COST = 4.0
#: Naming the main subject is worth this many right tags.
SUBJECT_GAIN = 2.0


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


def signals(photos: Path, names: list[str], batch: int = 16) -> dict[str, tuple]:
    """Per photo, what the rules are given (``analyse``'s arguments but the vocabulary),
    from the real backend; kept on disk so that re-running the rules costs no model call."""
    store = photos.parent / ".signals" / f"{photos.name}-{models_digest()}-{faces_digest()}.pkl"
    kept: dict[str, tuple[str, tuple]] = pickle.loads(store.read_bytes()) if store.exists() else {}
    digests = {n: hashlib.sha256((photos / n).read_bytes()).hexdigest() for n in names}
    todo = [n for n in names if kept.get(n, ("", ()))[0] != digests[n]]
    if todo:
        seen: list[tuple] = []
        real = backend_module.analyse

        def record(*args: Any, **kwargs: Any) -> Any:
            seen.append(args[:5] + (kwargs.get("faces", args[6] if len(args) > 6 else ()),))
            return real(*args, **kwargs)

        backend_module.analyse = record  # type: ignore[assignment]
        try:
            backend = LocalBackend(threads=1)  # one share, analysed in order
            for i in range(0, len(todo), batch):
                chunk = todo[i:i + batch]
                seen.clear()
                for name, res in zip(chunk, backend.tag_many([load(photos / n) for n in chunk], "en")):
                    if isinstance(res, BaseException):
                        sys.exit(f"{name}: {res}")
                assert len(seen) == len(chunk), "the backend analysed a different number of pictures"
                for name, args in zip(chunk, seen):
                    kept[name] = (digests[name], args)
        finally:
            backend_module.analyse = real  # type: ignore[assignment]
        store.parent.mkdir(exist_ok=True)
        store.write_bytes(pickle.dumps(kept))
    return {n: kept[n][1] for n in names}


def run_rules(sig: tuple, vocab: Vocabulary, rules: Rules) -> tuple[list[str], str]:
    probs, dets, stats, width, height, faces = sig
    tags, _scores, title, _description = compose(analyse(probs, dets, stats, width, height, vocab, faces,
                                                         rules=rules), vocab, "en")
    return tags, title


class Judge:
    """Every photo's verdict under a set of rules, remembered per rules (the fit asks often)."""

    def __init__(self, sigs: dict[str, tuple], labels: dict[str, dict], vocab: Vocabulary) -> None:
        self.sigs, self.labels, self.vocab = sigs, labels, vocab
        self._memo: dict[Rules, dict[str, dict]] = {}

    def verdicts(self, rules: Rules) -> dict[str, dict]:
        got = self._memo.get(rules)
        if got is None:
            got = {}
            for name, sig in self.sigs.items():
                tags, title = run_rules(sig, self.vocab, rules)
                got[name] = {"tags": tags, "title": title, **judge(self.labels[name], tags, title)}
            self._memo[rules] = got
        return got

    def objective(self, rules: Rules, names: list[str]) -> float:
        v = self.verdicts(rules)
        return sum(len(v[n]["right"]) - WRONG_COST * len(v[n]["wrong"]) + SUBJECT_GAIN * v[n]["subject_named"]
                   for n in names)


def fit(judge_: Judge, names: list[str], start: Rules = START, rounds: int = 3) -> Rules:
    """Thresholds for ``names``: coordinate ascent of the objective over GRID, from ``start``.
    Ties keep the value nearest the start (the hand-calibrated one)."""
    rules = start
    for _ in range(rounds):
        changed = False
        for name, grid in GRID.items():
            here = getattr(rules, name)
            best = max(grid, key=lambda v: (judge_.objective(replace(rules, **{name: v}), names), -abs(v - here)))
            if best != here:
                rules, changed = replace(rules, **{name: best}), True
        if not changed:
            break
    return rules


def folds(names: list[str], k: int) -> list[list[str]]:
    """A fixed split: each photo's fold comes from a hash of its name."""
    out: list[list[str]] = [[] for _ in range(k)]
    for n in names:
        out[zlib.crc32(n.encode()) % k].append(n)
    return out


def figures(rows: list[dict]) -> dict[str, float]:
    n = len(rows)
    right = sum(len(r["right"]) for r in rows)
    wrong = sum(len(r["wrong"]) for r in rows)
    return {"photos": n, "subject_named": sum(r["subject_named"] for r in rows) / n,
            "precision": right / max(1, right + wrong), "right": right, "wrong": wrong,
            "photos_with_wrong": sum(bool(r["wrong"]) for r in rows) / n,
            "informative": sum(r["informative"] for r in rows) / n}


def print_figures(columns: dict[str, dict[str, float]]) -> None:
    heads = list(columns)
    print(f"{'':38}" + "".join(f"{h:>18}" for h in heads))
    lines = [("main subject named (tag or title)", lambda f: f"{100 * f['subject_named']:.1f} %"),
             ("precision of content tags", lambda f: f"{100 * f['precision']:.1f} % ({f['right']}/{f['wrong']})"),
             ("photos with at least one wrong tag", lambda f: f"{100 * f['photos_with_wrong']:.1f} %"),
             ("informative tags per photo", lambda f: f"{f['informative']:.2f}")]
    for label, show in lines:
        print(f"{label:38}" + "".join(f"{show(columns[h]):>18}" for h in heads))


def cue_report(sigs: dict[str, tuple], labels: dict[str, dict], vocab: Vocabulary, rules: Rules) -> None:
    """Each context cue on its own: on how many photos it reaches its term's minimum, and
    how often the term is then right."""
    print("context cue                              fires   right   precision   (pool reached / term acceptable)")
    for term, cues in CONTEXT_CUES.items():
        need = rules.context_min(term)
        weak = NEEDS_SECOND_SIGN.get(term)
        kinds = [*cues, "all cues"] + ([f"{weak} + second cue", f"{weak} + colour", "all cues, plausible"]
                                       if weak else [])
        for kind in kinds:
            fired = right = 0
            for name, sig in sigs.items():
                masses = cue_masses(sig[0], vocab)[term]
                colors = [c for c, _share in sig[2].colors]
                others = sum(m for c, m in masses.items() if c != weak)
                fires = {"all cues": sum(masses.values()) >= need,
                         f"{weak} + second cue": masses.get(weak or "", 0.0) >= need and others >= SECOND_CUE_MIN,
                         f"{weak} + colour": masses.get(weak or "", 0.0) >= need
                         and bool(PIXEL_SIGNS.get(term, frozenset()) & set(colors)),
                         "all cues, plausible": sum(masses.values()) >= need and plausible(term, masses, colors),
                         }.get(kind, masses.get(kind, 0.0) >= need)
                if fires:
                    fired += 1
                    ok = {t.lower() for t in (*labels[name]["ok"], *labels[name]["subject"])}
                    right += term in ok
            print(f"{term + ' / ' + kind:40} {fired:5} {right:7}   {right / max(1, fired):9.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="also write every photo's tags, title and judgement here")
    parser.add_argument("--show-all", action="store_true", help="list every photo, not only those with wrong tags")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds (0: in sample only)")
    parser.add_argument("--photos", type=Path, default=PHOTOS,
                        help="another folder of labelled photos (a set the thresholds were not calibrated on)")
    parser.add_argument("--labels", type=Path, default=LABELS, help="their labels, in labels.json's format")
    parser.add_argument("--held-out", action="store_true",
                        help="the held-out pictures (build.py --held-out), which no threshold was fit on")
    parser.add_argument("--cues", action="store_true", help="print each context cue's precision on its own")
    args = parser.parse_args()
    if args.held_out:
        args.photos, args.labels, args.folds = CALIBRATION / "held_out", CALIBRATION / "held_out_labels.json", 0
    photos: Path = args.photos

    labels: dict[str, dict] = json.loads(args.labels.read_text())
    missing = [name for name in labels if not (photos / name).exists()]
    if missing:
        sys.exit(f"{len(missing)} labelled pictures are missing from {photos} (e.g. {missing[0]}): "
                 "run `python bench/calibration/build.py --held-out` first")
    names = sorted(labels)
    vocab = get_vocabulary()
    t0 = time.perf_counter()
    sigs = signals(photos, names, args.batch)
    judge_ = Judge(sigs, labels, vocab)
    shipped = judge_.verdicts(RULES)
    print(f"{len(names)} photos in {photos}, models and rules in {time.perf_counter() - t0:.1f} s")
    if args.cues:
        cue_report(sigs, labels, vocab, RULES)
        return
    columns = {"shipped rules": figures([shipped[n] for n in names])}
    held: dict[str, dict] = {}
    if args.folds > 1:
        t1 = time.perf_counter()
        parts = folds(names, args.folds)
        for k, part in enumerate(parts):
            train = [n for j, p in enumerate(parts) if j != k for n in p]
            fitted = fit(judge_, train)
            v = judge_.verdicts(fitted)
            held.update({n: v[n] for n in part})
        columns[f"held-out folds ({args.folds})"] = figures([held[n] for n in names])
        on_all = fit(judge_, names)
        columns["fit on all, in sample"] = figures([judge_.verdicts(on_all)[n] for n in names])
        print(f"cross-validation: {time.perf_counter() - t1:.1f} s")
    print()
    print_figures(columns)
    if args.folds > 1:
        print()
        differ = {f.name: (getattr(RULES, f.name), getattr(on_all, f.name)) for f in fields(Rules)
                  if getattr(RULES, f.name) != getattr(on_all, f.name)}
        print("fit on all photos (shipped -> fitted):", differ or "the shipped rules")
    print()
    rows = [{"file": n, **shipped[n], "held_out_fold": held.get(n)} for n in names]
    for r in rows:
        if r["wrong"] or args.show_all:
            mark = "" if r["subject_named"] else "  [subject not named]"
            print(f"{r['file']}: wrong {r['wrong']}  tags {r['tags']}  title {r['title']!r}{mark}")
    if args.json:
        args.json.write_text(json.dumps({"rules": asdict(RULES), "photos": rows}, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
