"""Evidence for what ImageNet has (almost) no class for, from the classes only ever seen with it.

ImageNet-1k has no "building" and no "water", and three flowers; but it has roofs, shops
and halls, shores, piers and wading birds, and the bees and butterflies that visit
flowers. Their pooled probability is evidence of the thing itself, calibrated per term on
the calibration pictures (``bench/tag_quality.py``). Such evidence is context: it adds
only what it says (CONTEXT_BROADER, not the class hierarchy, which would make water a
"structure" through "pier"), and ``tags.py`` scores it under the things it is the context
of. The same pooling tells whether the classifier sees anything that stands outdoors.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from .vocab import Vocabulary

#: Per term, the classes that evidence it. Flowers: ImageNet's few flowers and the insects
#: and birds that feed on flowers ("bee" .17 + "sulphur butterfly" .17 + "daisy" .13 on a
#: marigold; "cabbage white" + "bee" + "daisy" + "rapeseed" on a meadow of anemones). On the
#: calibration photos this pool reached .33-.84 on 9 of the 16 pictures with flowers and at
#: most .27 on every other picture (.27 a painted plant, .13 a dragonfly on a stalk): a
#: flower from .30 on.
CONTEXT_CUES: dict[str, dict[str, frozenset[str]]] = {
    "flower": {
        "flowers": frozenset({"daisy", "lady's slipper orchid", "rapeseed", "cardoon", "rose hip"}),
        "visitors": frozenset({"bee", "hummingbird", "red admiral", "ringlet butterfly", "monarch butterfly",
                               "cabbage white", "sulphur butterfly", "gossamer-winged butterfly"}),
    },
    # Buildings, their parts and the rooms inside them: ImageNet splits a house into "tile
    # roof" .07, "castle" .15, "mobile home" .11... This pool reached .45-.95 on 13 of the 28
    # pictures with buildings and on one other (.76, a garden seen through an arbour, with a
    # gazebo), at most .39 elsewhere (a stage in a school hall).
    "building": {"buildings": frozenset({
        "apiary", "bakery", "barbershop", "barn", "bell tower", "boathouse", "bookstore", "butcher shop",
        "candy store", "castle", "church", "cliff dwelling", "dome", "greenhouse", "grocery store", "library",
        "mobile home", "monastery", "mosque", "movie theater", "palace", "planetarium", "prison", "restaurant",
        "sawmill", "shoe store", "stupa", "thatched roof", "tile roof", "tobacco shop", "toy store",
        "triumphal arch", "water tower", "window screen", "window shade", "yurt", "patio", "sliding door"})},
    # Water by what stands in or beside it (shores, piers), and by what lives on it (wading
    # and swimming birds, sea mammals, divers); not by boats: a boat cut out on a white
    # page is no picture of water. A heron flies over fields and ducklings sit in grass, so
    # what lives on water is evidence only with a second sign of it (see PLAUSIBLE).
    "water": {
        "shores": frozenset({"lakeshore", "headland", "sandbar", "beach", "breakwater", "dock", "pier", "boathouse",
                             "dam", "coral reef"}),
        "waterlife": frozenset({
            "great egret", "little blue heron", "white stork", "black stork", "spoonbill", "flamingo", "bittern",
            "crane bird", "limpkin", "coot", "pelican", "goose", "black swan", "drake", "red-breasted merganser",
            "albatross", "dowitcher", "redshank", "ruddy turnstone", "dunlin", "oystercatcher", "snorkel",
            "scuba diver", "hippopotamus", "sea lion", "killer whale", "dugong", "paddle"}),
    },
}
#: Per term, every class that evidences it.
CONTEXT_EVIDENCE: dict[str, frozenset[str]] = {
    term: frozenset().union(*cues.values()) for term, cues in CONTEXT_CUES.items()}
#: Per term, the pooled probability from which it is named (tags.Rules holds the values
#: chosen by cross-validation; these are the hand-calibrated starting points).
CONTEXT_MIN: dict[str, float] = {"flower": 0.30, "building": 0.45, "water": 0.40}
#: Per term, the cue that is not evidence on its own: a heron flies over fields, ducklings
#: sit in grass and a butterfly rests on a leaf. On the calibration set, "water" from what
#: lives on it alone was wrong on all four pictures it fired on (birds cut out on white,
#: a heron in flight) while the shores were right on all eight (``bench/tag_quality.py
#: --cues``). Where this cue carries most of the pool, the term needs a second sign.
NEEDS_SECOND_SIGN: dict[str, str] = {"water": "waterlife", "flower": "visitors"}
#: A second sign: another cue of the same term with this much pooled probability...
SECOND_CUE_MIN = 0.05
#: ...or, among the picture's dominant colours (colors.PixelStats.colors), one the thing
#: itself has: open water is blue; petals are red, pink, purple, yellow or white (not the
#: green of the leaf a butterfly rests on).
PIXEL_SIGNS: dict[str, frozenset[str]] = {"water": frozenset({"blue"}),
                                         "flower": frozenset({"red", "pink", "purple", "yellow", "white"})}
#: What such evidence also says (the class hierarchy would add "structure" and
#: "landscape" to water through "boathouse" and "lakeshore").
CONTEXT_BROADER: dict[str, tuple[str, ...]] = {"flower": ("plant",)}
#: Classes only ever photographed outdoors: shores, fields, buildings seen from outside,
#: boats, wild animals, insects and the plants of fields and gardens.
OUTDOOR_CLASSES = frozenset({
    "acorn", "apiary", "barn", "beach", "bee", "bell tower", "bighorn sheep", "birdhouse", "bison",
    "black stork", "boathouse", "breakwater", "canoe", "cardoon", "castle", "catamaran", "chain-link fence",
    "church", "cliff", "cliff dwelling", "combine harvester", "coral reef", "corn", "cricket", "daisy", "dam",
    "damselfly", "dock", "dome", "dragonfly", "ear of wheat", "flagpole", "fountain", "garbage truck",
    "gazelle", "geyser", "go-kart", "golf cart", "gondola", "goose", "gossamer-winged butterfly",
    "grasshopper", "great egret", "greenhouse", "hartebeest", "hay", "headland", "horse chestnut", "ibex",
    "impala", "ladybug", "lakeshore", "lifeboat", "lighthouse", "mailbox", "maze", "megalith", "mobile home",
    "monarch butterfly", "monastery", "mosque", "mountain", "obelisk", "ox", "paddle", "palace", "parachute",
    "park bench", "parking meter", "patio", "picket fence", "pier", "planetarium", "plow", "police van",
    "rapeseed", "ringlet butterfly", "rose hip", "sandbar", "schooner", "shipwreck", "ski", "snowmobile",
    "solar collector", "speedboat", "split-rail fence", "stone wall", "street sign", "stupa",
    "sulphur butterfly", "sundial", "suspension bridge", "swing", "thatched roof", "tile roof", "totem pole",
    "tractor", "traffic light", "trimaran", "triumphal arch", "trolleybus", "valley", "viaduct", "volcano",
    "water tower", "white stork", "wild boar", "yawl", "yurt", "zebra"})


_class_index: dict[tuple[str, frozenset[str]], np.ndarray] = {}


def mass(probs: np.ndarray, tags: frozenset[str], vocab: Vocabulary) -> float:
    """The pooled probability of the ImageNet classes whose tag is one of ``tags``."""
    idx = _class_index.get((vocab.digest, tags))
    if idx is None:
        idx = _class_index[(vocab.digest, tags)] = np.array(
            [i for i, c in enumerate(vocab.imagenet) if c is not None and c.tag in tags], dtype=int)
    return float(probs[idx].sum())


def cue_masses(probs: np.ndarray, vocab: Vocabulary) -> dict[str, dict[str, float]]:
    """Per context term, the pooled probability of each of its cues."""
    return {term: {cue: mass(probs, tags, vocab) for cue, tags in cues.items()} for term, cues in CONTEXT_CUES.items()}


def plausible(term: str, masses: dict[str, float], colors: Sequence[str]) -> bool:
    """Whether the thing ``term`` names can be in the picture: its evidence does not rest on
    a cue that is no evidence alone (NEEDS_SECOND_SIGN), or that cue has a second sign."""
    weak = NEEDS_SECOND_SIGN.get(term)
    if weak is None:
        return True
    others = sum(m for cue, m in masses.items() if cue != weak)
    if masses[weak] <= others:
        return True
    return others >= SECOND_CUE_MIN or bool(PIXEL_SIGNS[term] & set(colors))


def context_terms(probs: np.ndarray, vocab: Vocabulary, mins: Mapping[str, float] = CONTEXT_MIN,
                  plausible: Callable[[str, dict[str, float]], bool] | None = None) -> dict[str, float]:
    """The CONTEXT_CUES terms whose pool reaches its minimum, with that pool; with
    ``plausible``, only those it accepts given the term and its cues' pools."""
    out: dict[str, float] = {}
    for term, masses in cue_masses(probs, vocab).items():
        pool = sum(masses.values())
        if pool >= mins[term] and (plausible is None or plausible(term, masses)):
            out[term] = pool
    return out


def outdoor_mass(probs: np.ndarray, vocab: Vocabulary) -> float:
    """The pooled probability of the classes only ever seen outdoors."""
    return mass(probs, OUTDOOR_CLASSES, vocab)


__all__ = ["CONTEXT_BROADER", "CONTEXT_CUES", "CONTEXT_EVIDENCE", "CONTEXT_MIN", "OUTDOOR_CLASSES", "context_terms", "cue_masses", "mass", "plausible",
           "outdoor_mass"]
