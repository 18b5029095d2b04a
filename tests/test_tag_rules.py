"""The offline tagger's rules for photos the calibration never saw: context only where it is
plausible, the broader term where siblings are close, boxes the classifier backs, and the
specific term first. Each test fails without the rule it names."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from imagetags_df.backends.local import LocalBackend, colors
from imagetags_df.backends.local.compose import compose
from imagetags_df.backends.local.context import cue_masses, plausible
from imagetags_df.backends.local.models import Detection
from imagetags_df.backends.local.tags import RULES, analyse
from imagetags_df.backends.local.vocab import Vocabulary, get_vocabulary
from imagetags_df.images import load

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"

GREEN = colors.PixelStats(colors=[("green", 0.7), ("gray", 0.2)], brightness=0.5, saturation=0.4,
                          black_and_white=False, colorful=False)
BLUE = replace(GREEN, colors=[("blue", 0.5), ("green", 0.3)])


def _probs(v: Vocabulary, **by_tag: float) -> np.ndarray:
    probs = np.zeros(1000, np.float32)
    for tag, p in by_tag.items():
        probs[next(i for i, c in enumerate(v.imagenet) if c and c.tag == tag.replace("_", " "))] = p
    return probs


def _coco(v: Vocabulary, tag: str) -> int:
    return next(i for i, c in enumerate(v.coco) if c and c.tag == tag)


def _terms(probs: np.ndarray, stats: colors.PixelStats = GREEN, dets: list[Detection] | None = None,
           **rules: float) -> list[str]:
    v = get_vocabulary()
    return [t.term for t in analyse(probs, dets or [], stats, 640, 480, v, rules=replace(RULES, **rules)).tags]


def test_wading_birds_are_water_only_with_a_second_sign_of_it() -> None:
    """A heron in flight against green, ducklings in grass: what lives on water is no water
    by itself (it was wrong on all four calibration pictures where it alone fired)."""
    v = get_vocabulary()
    heron = _probs(v, little_blue_heron=0.45, great_egret=0.2)
    assert "water" not in _terms(heron)
    # Open water's blue in the picture, or a shore the classifier sees too, is the second sign.
    assert "water" in _terms(heron, BLUE)
    assert "water" in _terms(_probs(v, little_blue_heron=0.45, great_egret=0.2, lakeshore=0.08))
    # Shores are evidence on their own (right on all eight pictures they fired on).
    assert "water" in _terms(_probs(v, pier=0.45))
    masses = cue_masses(heron, v)["water"]
    assert masses["waterlife"] > 0.6 and not plausible("water", masses, ["green"])


def test_a_butterfly_on_a_leaf_is_no_flower() -> None:
    v = get_vocabulary()
    butterfly = _probs(v, monarch_butterfly=0.6, cabbage_white=0.1)
    assert "flower" not in _terms(butterfly)
    petals = replace(GREEN, colors=[("pink", 0.4), ("green", 0.4)])
    assert "flower" in _terms(butterfly, petals)
    assert "flower" in _terms(_probs(v, monarch_butterfly=0.3, daisy=0.2))  # a flower class seen too


def test_a_close_sibling_backs_off_to_the_broader_term() -> None:
    """A German shepherd read as "malinois" .45 with "german shepherd" .35 close behind."""
    v = get_vocabulary()
    probs = _probs(v, malinois=0.70, german_shepherd=0.25)
    assert "malinois" in _terms(probs, sibling_margin=0.0)
    backed_off = _terms(probs, sibling_margin=0.5)
    assert "malinois" not in backed_off and "dog" in backed_off
    # A clear lead keeps the specific name.
    assert "malinois" in _terms(_probs(v, malinois=0.85, german_shepherd=0.05), sibling_margin=0.5)


def test_classes_the_model_cannot_tell_apart_are_named_by_their_kind() -> None:
    """ImageNet's only squirrel and only penguin classes fire on every squirrel and penguin;
    its "balloon" holds hot-air balloons, which are no toy."""
    v = get_vocabulary()
    assert _terms(_probs(v, squirrel=0.9))[:1] == ["squirrel"]
    assert not [c for c in v.imagenet if c and c.tag in ("fox squirrel", "king penguin")]
    penguin = _terms(_probs(v, penguin=0.9))
    assert penguin[0] == "penguin" and "bird" in penguin
    for lang in ("fr", "de", "es", "zh", "ja", "ko"):
        assert v.has("penguin", lang)
    assert "toy" not in _terms(_probs(v, balloon=0.9))


def test_a_box_the_classifier_does_not_back_needs_a_stronger_score() -> None:
    """Wine glasses boxed as "cup" .60, a pool table's pockets as "bottle" .55."""
    v = get_vocabulary()
    glasses = _probs(v, red_wine=0.7)
    cup = [Detection(_coco(v, "cup"), 0.60, (0.2, 0.2, 0.6, 0.8))]
    assert "cup" in _terms(glasses, dets=cup, det_support=0.0)
    assert "cup" not in _terms(glasses, dets=cup, det_support=0.2, det_alone_min=1.0)
    assert "cup" in _terms(glasses, dets=cup, det_support=0.2, det_alone_min=0.55)  # strong enough alone
    assert "cup" in _terms(_probs(v, coffee_mug=0.3), dets=cup, det_support=0.2, det_alone_min=1.0)
    # A class ImageNet cannot name at all is not asked for its support.
    hydrant = [Detection(_coco(v, "fire hydrant"), 0.7, (0.3, 0.2, 0.6, 0.9))]
    assert "fire hydrant" in _terms(_probs(v), dets=hydrant, det_support=0.2, det_alone_min=1.0)
    # ...but it has a minimum of its own: a turkey's fan boxed as "donut" .50.
    donut = [Detection(_coco(v, "donut"), 0.50, (0.3, 0.2, 0.6, 0.6))]
    turkey = _probs(v, prairie_chicken=0.51)
    assert "donut" in _terms(turkey, dets=donut, det_unnamed_min=0.0)
    assert "donut" not in _terms(turkey, dets=donut, det_unnamed_min=0.55)


def test_a_person_box_beside_a_sure_animal_needs_near_certainty() -> None:
    """NanoDet-m boxes upright animals as people (.6-.8 on a gorilla, a tiger, an ostrich)."""
    v = get_vocabulary()
    person = [Detection(0, 0.75, (0.1, 0.1, 0.9, 0.9))]
    gorilla = _probs(v, gorilla=0.9)
    assert "person" in _terms(gorilla, dets=person, person_beside_animal_min=0.55)
    assert "person" not in _terms(gorilla, dets=person, person_beside_animal_min=0.9)
    # Without an animal in view the same box is a person.
    assert "person" in _terms(_probs(v), dets=person, person_beside_animal_min=0.9)


def test_two_agreeing_classes_need_less_than_one_alone() -> None:
    """The launch photo: "missile" .39 + "projectile" .22, both "rocket"."""
    v = get_vocabulary()
    idx = [i for i, c in enumerate(v.imagenet) if c and c.tag == "rocket"]
    assert len(idx) == 1  # the projectile class; "missile" reaches "rocket" through its broader term
    missile = next(i for i, c in enumerate(v.imagenet) if c and "rocket" in c.broader)
    agreeing = np.zeros(1000, np.float32)
    agreeing[missile], agreeing[idx[0]] = 0.39, 0.23
    assert "rocket" in _terms(agreeing, specific_min=0.65, agreeing_specific_min=0.60)
    assert "rocket" not in _terms(agreeing, specific_min=0.65, agreeing_specific_min=0.65)
    alone = np.zeros(1000, np.float32)
    alone[idx[0]] = 0.62
    assert "rocket" not in _terms(alone, specific_min=0.65, agreeing_specific_min=0.60)


def test_tags_list_the_specific_term_first() -> None:
    v = get_vocabulary()
    a = analyse(_probs(v, cheetah=0.85, leopard=0.05), [], GREEN, 640, 480, v)
    terms = [t.term for t in a.tags]
    assert terms == ["cheetah", "big cat", "mammal", "animal"]
    tags, scores, _title, _desc = compose(a, v, "fr")
    assert tags[0] == v.word("cheetah", "fr") and len(scores) == len(tags)
    # Scores stay with their tags, not with the position.
    assert dict(zip(terms, [t.score for t in a.tags]))["animal"] >= dict(zip(terms, [t.score for t in a.tags]))["cheetah"]


def test_the_text_sample_is_a_document_without_ocr() -> None:
    """Handwritten formulas on ruled paper: the classifier calls the lines a maze (.36) on a
    colourless picture; pooled with the print classes that is a page of text."""
    res = LocalBackend().tag(load(SAMPLES / "text.png"), "en")
    assert {"document", "text"} <= set(res.tags)
    brick = LocalBackend().tag(load(SAMPLES / "brick.jpg"), "en")  # colourless, maze .16: not text
    assert not {"document", "text"} & set(brick.tags)
