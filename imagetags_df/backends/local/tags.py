"""From raw model outputs to a short list of tags we are confident in (language-free).

Precision comes first: a wrong tag costs a user's trust more than a missing one. So:

* classifier probabilities are pooled over every class that shares a term before any
  threshold ("tiger cat" .38 + "Egyptian Mau" .37 + "tabby" .17 make "cat" .92, while no
  single cat breed is certain enough to be named);
* a term needs a calibrated minimum (higher for the specific class names, which the model
  confuses more often than the broad ones) and a real top contributor, so a thousand tiny
  probabilities never add up to "animal";
* detector classes have per-class thresholds calibrated on the sample photos (NanoDet-m
  calls round bright shapes "toilet", "sink" and "vase" with scores up to .6);
* tags carry content only: colours, light, black-and-white and orientation are kept
  apart (``Analysis.colors``, ``orientation``...) and become their own columns;
* when a fine class is uncertain, the tagger backs off to the broader class the evidence
  supports ("animal" rather than a confident wrong species) or says nothing;
* a broader term that one class carries alone is no safer than that class's own name;
* scenes (landscape, sea, water, mountain, sky) come from pooled ImageNet scene classes and
  from the picture's top rows; screenshots and illustrations from the classes that hold them
  and, for drawings in flat colour, from the pixels;
* what ImageNet has no class for is evidenced by the classes seen only with it (a flower
  by the bees and butterflies on it, a building by its roofs, water by its shores and
  wading birds), and such context never outranks the things it is the context of.

The thresholds in :class:`Rules` are chosen by cross-validation on 369 real pictures
(``bench/calibration``, fit and measured by ``bench/tag_quality.py``, which also prints
the figures on the folds each fit never saw); the rest were calibrated by hand on the
first 168 of them and checked on the sample photos in ``data/samples``. Tags are listed
specific term first ("cheetah, big cat, mammal, animal").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from .colors import BRIGHT_ABOVE, DARK_BELOW, PixelStats
from .context import CONTEXT_BROADER, CONTEXT_MIN, context_terms, outdoor_mass, plausible
from .hierarchy import broader_of, classifier_terms, family, is_animal_term, specific_first, term_classes
from .models import Detection
from .vocab import ClassInfo, Vocabulary

MAX_TAGS = 15

# Classifier ------------------------------------------------------------------
#: A class contributes to pooled scores only from this probability on (noise floor).
CLS_FLOOR = 0.02
#: Pooled probability a term needs when it is some class's own (specific) name. Breeds and
#: variants are where the model hesitates (tabby .38 / Egyptian Mau .37 / tiger cat .17);
#: on crops of the samples, wrong specific names reached .51-.60 (jellyfish on the retina,
#: maze on bricks, moped on the motorcycle) while right ones sit at .9+ (espresso, tripod).
#: On the calibration photos, wrong specific names still reached .55-.58 (joystick on a
#: toy brick, parachute on a kite, train car on a bus): .60 dropped them and no right one.
CLS_SPECIFIC_MIN = 0.60
#: Pooled probability a broader term needs (mirrored astronaut: bobsleigh + football
#: helmet + ... made "sports equipment" .47). Calibrated: .50 named more subjects than .55
#: ("bird" from brambling + robin + chickadee) with no more wrong tags; .45 added nine.
CLS_BROADER_MIN = 0.50
#: ...and the best single class behind it must reach this, so scattered guesses never add
#: up to a category.
CLS_TOP_CONTRIBUTOR_MIN = 0.15
#: ...and one narrower group must explain this share of it (see _pool).
CLS_COHERENT_SHARE = 0.7
#: A broader term that one class carries nearly alone is no safer than that class's own
#: name: it needs the specific minimum. On the calibration photos, single classes just
#: under it made "electronics" of a toy brick (joystick .57) and a scanned page
#: (oscilloscope .52), "train" of a bus (train car .55) and "sports equipment" of a kite
#: (parachute .58); broader terms pooled from several classes ("bird" from three birds)
#: keep the lower minimum.
CLS_SINGLE_CLASS_SHARE = 0.9
#: Terms with their own calibrated minimum (pooled probability). Scene classes agree with
#: one another (sandbar .40 + beach .19 + lakeshore .10 on a lake at dusk), so their pools
#: are evidence from lower sums on: on the calibration photos every "landscape" pool from
#: .26 on was right, "sea" was wrong once below .40 (a gravel desert, .34), "water" below
#: .36 (the same desert) and "mountain" below .40 (fog over a hill, .26). ImageNet's
#: "web site" class is screen captures (.30-.92 on four of the eight screenshots, never
#: above .005 on anything else) and its "comic book" class drawings (.15-.54 on three
#: cartoons and a mural, never above .003 on a photo).
CLS_TERM_MIN: dict[str, float] = {"landscape": 0.30, "sea": 0.40, "water": 0.36, "mountain": 0.40,
                                  "screenshot": 0.20, "illustration": 0.15}
#: Drawings, cartoons and flat-colour art: the share of flat pixels (colors.flat_share). On
#: the calibration photos it was .52-.76 on six of the eight drawings and screen captures
#: drawn in flat colour, at most .42 on any photograph (a grey, motion-blurred clock; .35 on
#: a dog before a blown-out window), and photos of drawings, paintings and JPEG art sit
#: with the photographs (.02-.17): only the flat ones can be told.
DRAWN_FLAT_SHARE = 0.55
#: Scene terms pool classes that belong together without being one narrower group.
SCENE_TERMS = frozenset({"landscape", "sea", "water", "mountain"})
#: Tags that name what a picture is of but read badly as its subject ("a water").
MASS_TERMS = frozenset({"water"})
#: Context (context.py) names the subject only when nothing better is accepted: a classifier
#: sure of the butterfly names it, not the flower its visit evidences.
CONTEXT_SUBJECT_WEIGHT = 0.6
#: "pet" only when the classifier itself is this sure of a domestic species: detector
#: "cat" boxes went to a quokka (.67) and a bison read as "dog" (.52).
PET_MIN = 0.60
#: Terms a screen capture makes meaningless (a screenshot is not a photo of a laptop).
SCREEN_DEVICES = frozenset({"television", "laptop", "computer", "keyboard", "computer mouse", "remote control",
                            "mobile phone", "electronics", "indoor", "outdoor"})

# Detector --------------------------------------------------------------------
DET_DEFAULT_MIN = 0.50
#: Calibrated per COCO class (index: minimum score). NanoDet-m reads cups, rockets and the
#: cat's face as "toilet" (.3-.6) and bright round things as "sink"/"vase"; people it finds
#: reliably (.75-.82 on the samples, nothing above .3 on photos without people).
#: On the calibration photos it also called drawings "cake" (.42-.60) and "teddy bear"
#: (.58), a sky-chart screenshot "umbrella" (.55) and a drawn wizard's stool "chair" (.54).
DET_MIN: dict[int, float] = {0: 0.45, 61: 0.90, 71: 0.70, 75: 0.65, 58: 0.60, 60: 0.60,
                             55: 0.70, 77: 0.70, 25: 0.60, 56: 0.60}
#: A classifier term that narrows an object the detector already named (the
#: detector says "motorcycle", the classifier "scooter": moped .52 + motor scooter .17 on
#: the sample sport bike) adds only the narrower claim, so it must be near certain; the
#: right refinements on the samples sit at .9+ (espresso, tripod).
CLS_REFINES_DETECTED_MIN = 0.80
#: A detection this strong still counts when the classifier agrees (pooled >= CLS_AGREE)
#: on the same term: a broad agreement ("animal" from bee + butterfly) made a marigold a
#: "bird" (.33) and a bus a "train" (.42 with "vehicle").
DET_CORROBORATED_MIN = 0.30
CLS_AGREE = 0.20
#: The classifier is sure it sees an animal from this pooled probability on.
ANIMAL_SURE = 0.50
#: A second box of a class counts towards "2 cups" from this score on.
DET_COUNT_MIN = 0.40
PERSON = 0
#: A person box covering this share of the picture makes it a portrait.
PORTRAIT_AREA = 0.25
#: A found face counts as a person this sure (the cascade gives no score; at its settings it
#: put no face on any of the calibration photos without people).
SCORE_FACE = 0.70
#: A face's box is about a quarter of the head-and-shoulders a portrait shows.
FACE_TO_PERSON_AREA = 4.0
CROWD_MIN = 6

#: A detected animal the classifier does not back (pooled for that animal below this,
#: while it sees some other animal at CLS_OTHER_ANIMAL or more) is named only as "animal".
CLS_BACKS_ANIMAL = 0.10
CLS_OTHER_ANIMAL = 0.30

#: A page of print: the classifier spreads it over the classes of paper with print on it
#: and the page has no colour. On the calibration set these classes pooled .28-.92 on five
#: of the seven colourless (mean saturation <= .07) pictures of text, scans, diagrams and
#: screen captures, and below .25 on every other picture that colourless; colourful
#: pictures reach .39 (a sky chart as "packet"), drawings more through "illustration",
#: which is not counted. The single classes are what the page looks like, not what it is
#: (a scanned diagram as "crossword puzzle" .65), so they give way to "document".
#: "maze" counts too: on a colourless picture its lines are ruled paper (.36 on handwritten
#: formulas, data/samples/text.png), and it never passed .01 on any colourless picture of
#: the calibration set; the hedge mazes it was trained on are green.
PRINT_TERMS = frozenset({"crossword puzzle", "menu", "memorial plaque", "packet", "envelope", "book cover",
                         "screenshot", "maze"})
PRINT_MIN = 0.25
PRINT_MAX_SATURATION = 0.08
#: On such a page a person box needs more than elsewhere: NanoDet-m boxed a drawn figure in
#: a scanned diagram as "person" .47.
PRINT_PERSON_MIN = 0.60

# Scores of the pixel rules, kept below confident objects so that objects lead the list.
SCORE_INDOOR = 0.50
SCORE_TEXT = 0.80
#: The top rows of the picture are open sky: blue share and smoothness (see colors.py).
SKY_BLUE_SHARE = 0.80
SKY_MAX_TEXTURE = 0.03
SCORE_SKY = 0.60
#: ...and the classifier must see something only ever outdoors (context.OUTDOOR_CLASSES):
#: the smooth blue top of a rendered abstract wallpaper looks like open sky too. On the
#: calibration photos every picture the sky rule named had .25 or more of these classes (a
#: dune under a blue sky); blue abstract wallpapers had .05-.20.
SKY_OUTDOOR_MIN = 0.15

#: With people in the picture, the classifier mostly reacts to what they wear or hold, and
#: often wrongly (the astronaut's helmet: "football helmet" .66 and "sports equipment" .82; Grace Hopper's uniform:
#: "academic gown"): such terms then need near certainty.
PERSON_GEAR_KINDS = frozenset({"clothing", "sport"})
CLS_GEAR_WITH_PEOPLE_MIN = 0.90

INDOOR_KINDS = frozenset({"furniture"})
OUTDOOR_KINDS = frozenset({"scene"})
#: COCO classes marked "not indoor" say "outdoor" only when they are street furniture and
#: the like: vehicles, animals and sports gear are photographed in garages, homes and
#: studios too (the sample motorcycle stands in a studio).
OUTDOOR_COCO_KINDS = frozenset({"structure"})


@dataclass(frozen=True)
class Rules:
    """The thresholds chosen by cross-validation on the calibration set.

    ``bench/tag_quality.py`` fits them (coordinate ascent over a small grid, a wrong tag
    costing four right ones) on four fifths of the photos and judges them on the fifth it
    never saw, five times over; the values here are what the same fit chooses on all of
    them. Constants above that are not here were not worth refitting (their grids changed
    nothing) or guard rare pictures the folds hold too few of.

    >>> replace(RULES, specific_min=0.7).specific_min
    0.7
    """

    #: Pooled probability a specific class name needs (CLS_SPECIFIC_MIN).
    specific_min: float = 0.65
    #: ...when two classes or more agree on it ("missile" .39 + "projectile" .22 on a launch
    #: are both "rocket"): agreement is better evidence than one class alone.
    agreeing_specific_min: float = 0.60
    #: ...a broader term (CLS_BROADER_MIN).
    broader_min: float = 0.60
    #: ...the scene terms pooled from scene classes (CLS_TERM_MIN).
    landscape_min: float = CLS_TERM_MIN["landscape"]
    sea_min: float = 0.35
    water_min: float = CLS_TERM_MIN["water"]
    mountain_min: float = CLS_TERM_MIN["mountain"]
    #: ...the terms evidenced by context (context.CONTEXT_MIN).
    flower_min: float = 0.20
    building_min: float = CONTEXT_MIN["building"]
    water_context_min: float = CONTEXT_MIN["water"]
    #: A term is named only when it leads its siblings under its broader term (other dog
    #: breeds under "dog", other fruit under "fruit") by this much pooled probability;
    #: otherwise the broader term alone is said.
    sibling_margin: float = 0.0
    #: A detector box under ``det_alone_min`` counts only when the classifier gives its
    #: term (or a narrower one) at least ``det_support``.
    det_support: float = 0.20
    det_alone_min: float = 1.0
    #: A box of a class the classifier has no name for (fire hydrant, donut) needs this.
    det_unnamed_min: float = 0.55
    #: A person box's minimum (DET_MIN[PERSON] is where the face finders give way to it)...
    person_min: float = 0.55
    #: ...and while the classifier is sure of an animal (pooled "animal" >= ANIMAL_SURE):
    #: NanoDet-m boxes upright animals (a gorilla, a penguin, a lion's mane) as people.
    person_beside_animal_min: float = 0.90

    def term_min(self, term: str) -> float | None:
        """The term's own minimum, if it has one."""
        own = {"landscape": self.landscape_min, "sea": self.sea_min, "water": self.water_min,
               "mountain": self.mountain_min}.get(term)
        return own if own is not None else CLS_TERM_MIN.get(term)

    def context_min(self, term: str) -> float:
        return {"flower": self.flower_min, "building": self.building_min, "water": self.water_context_min}[term]


#: The shipped thresholds.
RULES = Rules()


@dataclass
class Scored:
    term: str
    score: float
    role: str  # "object" (a thing named by a model), "category", "scene", "attribute" (indoor, text)


@dataclass
class Analysis:
    """What the tagger concluded about one image, before any language is chosen."""

    tags: list[Scored]
    subject: str | None  # term of the main subject
    subject_count: int
    others: list[tuple[str, int]]  # other objects and their counts, for the description
    colors: list[str]
    light: str | None  # "dark", "bright" or None
    black_and_white: bool
    portrait: bool  # one person filling the picture
    text: str | None = None
    orientation: str = ""  # "landscape", "portrait" or "square"
    #: How sure the tagger is of the best content tag (0 when it names nothing).
    confidence: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Analysis:
        """Inverse of :meth:`to_json` (JSON turned the tuples into lists); a damaged value
        raises KeyError, TypeError or AttributeError."""
        return cls(**{**d, "tags": [Scored(**t) for t in d["tags"]], "others": [tuple(o) for o in d["others"]]})


def _pool(probs: np.ndarray, classes: list[ClassInfo | None]
          ) -> tuple[dict[str, float], dict[str, float], set[str], dict[str, float], dict[str, set[str]]]:
    """Per term: pooled probability, best single class, coherent mass, the kinds of the
    classes behind it; plus the set of specific terms.

    The coherent mass of a broad term is the largest share of it that one narrower group
    explains: "animal" .94 on the cat photo is .92 "cat"; "animal" .85 on a retina crop
    was jellyfish .51 + tick .34, two unrelated guesses, which is no evidence of an animal.
    """
    pooled: dict[str, float] = defaultdict(float)
    top: dict[str, float] = defaultdict(float)
    kinds: dict[str, set[str]] = defaultdict(set)
    groups: dict[tuple[str, str], float] = defaultdict(float)
    specific: set[str] = set()
    for i in np.nonzero(probs >= CLS_FLOOR)[0]:
        info = classes[int(i)]
        if info is None:
            continue
        p = float(probs[i])
        specific.add(info.tag)
        chain = list(dict.fromkeys((info.tag, *info.broader)))
        for term in chain:
            pooled[term] += p
            top[term] = max(top[term], p)
            kinds[term].add(info.kind)
            # The group a class belongs to under `term`: its own most specific broader term,
            # or `term` itself when that is its nearest group (all breeds are one "dog").
            group = info.broader[0] if info.broader and info.broader[0] != term and term != info.tag else term
            groups[(term, group)] += p
    coherent: dict[str, float] = defaultdict(float)
    for (term, _group), mass in groups.items():
        coherent[term] = max(coherent[term], mass)
    return pooled, top, specific, coherent, kinds


def analyse(probs: np.ndarray, detections: list[Detection], stats: PixelStats, width: int, height: int,
            vocab: Vocabulary, faces: Sequence[tuple[float, float, float, float]] = (),
            rules: Rules = RULES) -> Analysis:
    """The language-free conclusions about one picture.

    ``faces`` are frontal faces (see faces.py), looked for only where the detector found
    no person: a face that fills the frame is a person NanoDet-m has no body to box.
    """
    breadth = term_classes(vocab)

    scores: dict[str, Scored] = {}

    def add(term: str, score: float, role: str) -> None:
        score = float(min(score, 0.99))
        old = scores.get(term)
        if old is None or score > old.score:
            scores[term] = Scored(term, score, role if old is None else old.role)

    pooled, top, specific, coherent, kinds = _pool(probs, vocab.imagenet)
    # 1. Detector first: whether people are in the picture changes what the classifier may say.
    indoor_votes = 0.0
    outdoor_votes = 0.0
    best: dict[int, float] = {}
    counts: dict[int, int] = defaultdict(int)
    person_area = 0.0
    for d in detections:
        best[d.cls] = max(best.get(d.cls, 0.0), d.score)
        if d.score >= DET_COUNT_MIN:
            counts[d.cls] += 1
        if d.cls == PERSON and d.score >= rules.person_min:
            x0, y0, x1, y1 = d.box
            person_area = max(person_area, (x1 - x0) * (y1 - y0))
    accepted_det: dict[str, tuple[float, int]] = {}
    animal_sure = pooled.get("animal", 0.0) >= ANIMAL_SURE
    unbacked_animal = 0.0
    for cls, score in best.items():
        info = vocab.coco[cls]
        if info is None:
            continue
        need = DET_MIN.get(cls, DET_DEFAULT_MIN)
        if cls == PERSON:
            need = max(rules.person_min, rules.person_beside_animal_min if animal_sure else 0.0)
        agrees = pooled.get(info.tag, 0.0) >= CLS_AGREE
        if score >= need or (agrees and score >= DET_CORROBORATED_MIN and cls not in DET_MIN):
            # Right or silent: a box the classifier does not back (a "cup" on wine glasses,
            # a "bottle" on a pool table) needs a stronger score; one the classifier cannot
            # name (a fire hydrant, a donut; a person, whom ImageNet knows only as a groom,
            # a diver or a ballplayer) cannot be backed, so it has a minimum of its own.
            nameable = info.tag in classifier_terms(vocab)
            if cls != PERSON and not nameable and score < rules.det_unnamed_min:
                continue
            if (cls != PERSON and score < rules.det_alone_min and pooled.get(info.tag, 0.0) < rules.det_support
                    and nameable):
                if info.kind == "animal" and pooled.get("animal", 0.0) >= CLS_OTHER_ANIMAL:
                    unbacked_animal = max(unbacked_animal, score)  # still an animal (see below)
                continue
            accepted_det[info.tag] = (score, max(1, counts.get(cls, 0)))
            if info.indoor is True:
                indoor_votes = max(indoor_votes, score)
            elif info.indoor is False and info.kind in OUTDOOR_COCO_KINDS:
                outdoor_votes = max(outdoor_votes, score)

    # 2. Classifier, pooled over shared terms.
    people_seen = "person" in accepted_det
    accepted_cls: dict[str, float] = {}
    for term, p in pooled.items():
        own = rules.term_min(term)
        need = own if own is not None else rules.specific_min if term in specific else rules.broader_min
        if own is None and term in specific and top[term] < CLS_SINGLE_CLASS_SHARE * p:
            need = rules.agreeing_specific_min
        if people_seen and kinds[term] <= PERSON_GEAR_KINDS:
            need = max(need, CLS_GEAR_WITH_PEOPLE_MIN)
        if term == "pet":
            need = max(need, PET_MIN)
        if own is None and top[term] >= CLS_SINGLE_CLASS_SHARE * p:
            need = max(need, rules.specific_min)
        coherent_enough = term in SCENE_TERMS or coherent[term] >= CLS_COHERENT_SHARE * p
        if p >= need and top[term] >= CLS_TOP_CONTRIBUTOR_MIN and coherent_enough:
            accepted_cls[term] = p
    if rules.sibling_margin > 0:
        _back_off(accepted_cls, pooled, top, specific, vocab, breadth, rules)
    from_context: set[str] = set()
    mins = {term: rules.context_min(term) for term in CONTEXT_MIN}
    colors = [name for name, _share in stats.colors]
    for term, p in context_terms(probs, vocab, mins, lambda t, m: plausible(t, m, colors)).items():
        if term not in accepted_cls:
            accepted_cls[term] = p
            from_context.add(term)
            for b in set(CONTEXT_BROADER.get(term, ())) - accepted_cls.keys():
                accepted_cls[b] = p * 0.9
                from_context.add(b)
    if unbacked_animal:
        accepted_cls["animal"] = max(accepted_cls.get("animal", 0.0), unbacked_animal * 0.9)
    for i in np.nonzero(probs >= CLS_SPECIFIC_MIN)[0]:
        info = vocab.imagenet[int(i)]
        if info is not None and info.kind in INDOOR_KINDS:
            indoor_votes = max(indoor_votes, float(probs[i]))
        if info is not None and info.kind in OUTDOOR_KINDS:
            outdoor_votes = max(outdoor_votes, float(probs[i]))

    # 3. Conflicts: a term that only narrows a detected object needs near certainty
    # ("motorcycle" stays, "scooter" on a sport bike goes).
    for term, p in list(accepted_cls.items()):
        if (term not in accepted_det and p < CLS_REFINES_DETECTED_MIN
                and broader_of(term, vocab) & accepted_det.keys()):
            del accepted_cls[term]
    # An animal the detector names is dropped when the classifier is surer of
    # a different animal ("dog" on a cat photo).
    cls_animals = {t: p for t, p in accepted_cls.items() if t in specific or breadth.get(t, 0) <= 12}
    for tag, (score, _) in list(accepted_det.items()):
        info = next((c for c in vocab.coco if c is not None and c.tag == tag), None)
        if info is None or info.kind != "animal":
            continue
        rivals = [p for t, p in cls_animals.items() if t != tag and t not in info.broader
                  and is_animal_term(t, vocab) and tag not in broader_of(t, vocab)]
        if rivals and max(rivals) > score:
            del accepted_det[tag]
            continue
        # Right or silent: a detector animal the classifier does not back while it sees
        # another animal is only "an animal" (a quokka boxed as "cat", a bison as "dog").
        other_animals = pooled.get("animal", 0.0) - pooled.get(tag, 0.0)
        if pooled.get(tag, 0.0) < CLS_BACKS_ANIMAL and other_animals >= CLS_OTHER_ANIMAL:
            del accepted_det[tag]
            accepted_cls["animal"] = max(accepted_cls.get("animal", 0.0), score * 0.9)
    if stats.flat >= DRAWN_FLAT_SHARE and "screenshot" not in accepted_cls:
        accepted_cls["illustration"] = max(accepted_cls.get("illustration", 0.0), stats.flat)
    if "screenshot" in accepted_cls:
        for term in SCREEN_DEVICES:
            accepted_det.pop(term, None)
            accepted_cls.pop(term, None)
    printed = (stats.saturation <= PRINT_MAX_SATURATION
               and sum(pooled.get(t, 0.0) for t in PRINT_TERMS) >= PRINT_MIN)
    if printed:
        print_mass = sum(pooled.get(t, 0.0) for t in PRINT_TERMS)
        for term in PRINT_TERMS - {"screenshot"}:
            accepted_cls.pop(term, None)
            # ...and so do the broader terms only they support ("puzzle", "container").
            for b in broader_of(term, vocab):
                from_print = sum(pooled.get(t, 0.0) for t in PRINT_TERMS if b in broader_of(t, vocab))
                if b in accepted_cls and pooled.get(b, 0.0) - from_print < CLS_BROADER_MIN:
                    del accepted_cls[b]
        if accepted_det.get("person", (1.0, 0))[0] < PRINT_PERSON_MIN:
            del accepted_det["person"]
        if "screenshot" not in accepted_cls:
            accepted_cls["document"] = max(accepted_cls.get("document", 0.0), 0.5 + print_mass / 2)
    if faces and "person" not in accepted_det:
        accepted_det["person"] = (SCORE_FACE, len(faces))
        person_area = max((x1 - x0) * (y1 - y0) * FACE_TO_PERSON_AREA for x0, y0, x1, y1 in faces)
        # The classifier's view of such a picture is mostly what the person wears.
        for term in [t for t, p in accepted_cls.items()
                     if kinds[t] <= PERSON_GEAR_KINDS and p < CLS_GEAR_WITH_PEOPLE_MIN]:
            del accepted_cls[term]

    # What is only context follows the things it is the context of ("butterfly", then
    # "flower"): its score stays under theirs.
    named = [p for t, p in accepted_cls.items() if t not in from_context]
    named += [score for score, _n in accepted_det.values()]
    context_cap = max(named, default=1.0) * 0.95
    for term, p in accepted_cls.items():
        if term in from_context:
            add(term, min(p, context_cap), "scene")
        else:
            add(term, p, "object" if term in specific else "category")
    for tag, (score, _n) in accepted_det.items():
        add(tag, score, "object")
        info = next(c for c in vocab.coco if c is not None and c.tag == tag)
        for b in info.broader:
            # "people" is about counts (below); "pet" needs the classifier's word (PET_MIN).
            if b not in ("people", "pet") or (b == "pet" and "pet" in accepted_cls):
                add(b, score * 0.9, "category")
    n_people = accepted_det.get("person", (0.0, 0))[1]
    if n_people >= 2:
        add("people", accepted_det["person"][0], "category")
    if n_people >= CROWD_MIN:
        add("crowd", accepted_det["person"][0] * 0.9, "category")

    # 4. Scene from pixels; colours, light and orientation stay out of the tags.
    screenshot = "screenshot" in accepted_cls
    if (not screenshot and "illustration" not in accepted_cls and stats.sky_blue >= SKY_BLUE_SHARE
            and stats.sky_texture <= SKY_MAX_TEXTURE and outdoor_mass(probs, vocab) >= SKY_OUTDOOR_MIN):
        add("sky", SCORE_SKY, "scene")
        outdoor_votes = max(outdoor_votes, SCORE_SKY)
    # In a black-and-white photo "gray" says nothing the black-and-white flag does not.
    colors = [] if stats.black_and_white else [name for name, _share in stats.colors]
    light = None
    if stats.brightness < DARK_BELOW:
        light = "dark"
    elif stats.brightness > BRIGHT_ABOVE:
        light = "bright"
    if not screenshot:
        if indoor_votes > outdoor_votes and indoor_votes > 0:
            add("indoor", SCORE_INDOOR * (0.5 + indoor_votes / 2), "attribute")
        elif outdoor_votes > 0:
            add("outdoor", SCORE_INDOOR * (0.5 + outdoor_votes / 2), "attribute")
    if printed:
        add("text", SCORE_TEXT, "attribute")
    ratio = width / max(height, 1)
    orientation = "landscape" if ratio > 1.15 else "portrait" if ratio < 0.87 else "square"

    by_score = sorted(scores.values(), key=lambda s: -s.score)
    ordered = [scores[t] for t in specific_first([s.term for s in by_score], vocab)][:MAX_TAGS]
    confidence = max((s.score for s in ordered if s.role != "attribute"), default=0.0)

    # 5. Main subject: the most salient named thing, favouring specific terms over broad ones
    # (a "cat" over an "animal"), and a person who fills the picture over everything.
    portrait = n_people == 1 and person_area >= PORTRAIT_AREA
    coco_tags = {c.tag for c in vocab.coco if c is not None}
    subject, subject_count = _pick_subject(accepted_cls, accepted_det, breadth, portrait, coco_tags, from_context)
    others: list[tuple[str, int]] = []
    subject_family = {subject, *(broader_of(subject, vocab) if subject else ())}
    for tag, (_score, n) in sorted(accepted_det.items(), key=lambda kv: -kv[1][0]):
        if tag not in subject_family and subject not in broader_of(tag, vocab):
            others.append((tag, n))
    for term, _p in sorted(accepted_cls.items(), key=lambda kv: -kv[1]):
        if (term in specific and term not in subject_family and subject not in broader_of(term, vocab)
                and all(term != o for o, _ in others)):
            others.append((term, 1))
    return Analysis(tags=ordered, subject=subject, subject_count=subject_count, others=others[:4],
                    colors=colors, light=light, black_and_white=stats.black_and_white,
                    portrait=portrait, orientation=orientation, confidence=round(confidence, 3))


#: With OCR, a colourless picture that is no screen capture and holds this many letters and
#: digits is a page of print. On the calibration set: 797-1,021 on three scanned diagrams
#: (one of them the classifier calls an oscilloscope), 170-174 on a scanned book page and a
#: colourless screen capture, at most 40 on every photo (bus fronts, signs, a scoreboard).
OCR_DOCUMENT_CHARS = 300


def with_text(a: Analysis, text: str, vocab: Vocabulary) -> Analysis:
    """``a`` plus text found by OCR: a "text" tag and the snippet for the description; a
    colourless page full of it is also a "document", its subject unless a model named
    something surer."""
    tags = [t for t in a.tags if t.term != "text"] + [Scored("text", SCORE_TEXT, "attribute")]
    subject, count = a.subject, a.subject_count
    terms = {t.term for t in tags}
    if (a.black_and_white and "screenshot" not in terms and "document" not in terms
            and sum(ch.isalnum() for ch in text) >= OCR_DOCUMENT_CHARS):
        tags.append(Scored("document", SCORE_TEXT, "category"))
        subject_score = next((t.score for t in tags if t.term == subject), 0.0)
        if subject is None or subject_score < SCORE_TEXT:
            subject, count = "document", 1
    tags.sort(key=lambda s: -s.score)
    return replace(a, tags=tags[:MAX_TAGS], text=text, subject=subject, subject_count=count,
                   confidence=max(a.confidence, SCORE_TEXT))


def _pick_subject(accepted_cls: dict[str, float], accepted_det: dict[str, tuple[float, int]],
                  breadth: dict[str, int], portrait: bool, coco_tags: set[str],
                  from_context: set[str]) -> tuple[str | None, int]:
    if portrait:
        return "person", 1
    if "person" in accepted_det:
        # A picture with people in it is about them, whatever else the classifier names.
        count = accepted_det["person"][1]
        return ("people" if count >= 2 else "person"), count
    candidates: list[tuple[float, str, int]] = []
    for term, p in accepted_cls.items():
        # "A photo of a landscape", never "of a water": a mass noun is no subject, and the
        # landscape is the picture that the sea or the mountains are part of.
        if term in MASS_TERMS or (term in SCENE_TERMS and term != "landscape" and "landscape" in accepted_cls):
            continue
        # Broad terms lose a little per doubling of the classes they cover; the everyday
        # words of the COCO classes win ties ("motorcycle" over "scooter" for a moped).
        n = max(1, breadth.get(term, 1))
        weight = 1.0 / (1.0 + 0.08 * float(np.log2(n)))
        if term in coco_tags:
            weight *= 1.1
        if term in from_context:
            weight *= CONTEXT_SUBJECT_WEIGHT
        candidates.append((p * weight, term, 1))
    for tag, (score, count) in accepted_det.items():
        candidates.append((score, "people" if tag == "person" and count >= 2 else tag, count))
    if not candidates:
        return None, 0
    _, term, count = max(candidates)
    if term in accepted_det:  # the classifier names it, the detector counts it ("2 cats")
        count = max(count, accepted_det[term][1])
    return term, count


def _back_off(accepted: dict[str, float], pooled: dict[str, float], top: dict[str, float], specific: set[str],
              vocab: Vocabulary, breadth: dict[str, int], rules: Rules) -> None:
    """Narrowest first, a class name that does not lead its siblings by
    ``rules.sibling_margin`` gives way to its broader term ("malinois" .45 against "german
    shepherd" .35 is a "dog"), which is named when its own pool is enough: siblings under
    one term are one kind of evidence, not scattered guesses, so no coherence is asked of
    it. Groups are left alone: "mammal" and "farm animal" overlap, they do not compete."""
    parents, children = family(vocab)
    work = sorted(accepted, key=lambda t: breadth.get(t, 1))
    while work:
        term = work.pop(0)
        parent = parents.get(term)
        if term not in accepted or parent is None or term not in specific or term in SCENE_TERMS:
            continue
        rival = max((pooled.get(s, 0.0) for s in children[parent] if s != term), default=0.0)
        if pooled.get(term, 0.0) - rival >= rules.sibling_margin:
            continue
        del accepted[term]
        if (parent not in accepted and pooled.get(parent, 0.0) >= rules.broader_min
                and top.get(parent, 0.0) >= CLS_TOP_CONTRIBUTOR_MIN):
            accepted[parent] = pooled[parent]
            work.append(parent)
            work.sort(key=lambda t: breadth.get(t, 1))


__all__ = ["Analysis", "RULES", "Rules", "Scored", "analyse", "with_text", "MAX_TAGS", "BRIGHT_ABOVE", "DARK_BELOW"]
