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

import numpy as np

from .vocab import Vocabulary

#: Per term, the classes that evidence it. Flowers: ImageNet's few flowers and the insects
#: and birds that feed on flowers ("bee" .17 + "sulphur butterfly" .17 + "daisy" .13 on a
#: marigold; "cabbage white" + "bee" + "daisy" + "rapeseed" on a meadow of anemones). On the
#: calibration photos this pool reached .33-.84 on 9 of the 16 pictures with flowers and at
#: most .27 on every other picture (.27 a painted plant, .13 a dragonfly on a stalk): a
#: flower from .30 on.
CONTEXT_EVIDENCE: dict[str, frozenset[str]] = {
    "flower": frozenset({"daisy", "lady's slipper orchid", "rapeseed", "cardoon", "rose hip", "bee",
                         "hummingbird", "red admiral", "ringlet butterfly", "monarch butterfly",
                         "cabbage white", "sulphur butterfly", "gossamer-winged butterfly"}),
    # Buildings, their parts and the rooms inside them: ImageNet splits a house into "tile
    # roof" .07, "castle" .15, "mobile home" .11... This pool reached .45-.95 on 13 of the 28
    # pictures with buildings and on one other (.76, a garden seen through an arbour, with a
    # gazebo), at most .39 elsewhere (a stage in a school hall).
    "building": frozenset({
        "apiary", "bakery", "barbershop", "barn", "bell tower", "boathouse", "bookstore", "butcher shop",
        "candy store", "castle", "church", "cliff dwelling", "dome", "greenhouse", "grocery store", "library",
        "mobile home", "monastery", "mosque", "movie theater", "palace", "planetarium", "prison", "restaurant",
        "sawmill", "shoe store", "stupa", "thatched roof", "tile roof", "tobacco shop", "toy store",
        "triumphal arch", "water tower", "window screen", "window shade", "yurt", "patio", "sliding door"}),
    # Water by what stands in or beside it (shores, piers, wading and swimming birds), not by
    # boats: a boat cut out on a white page is no picture of water. From .40 on every pool was
    # water (9 pictures); a gravel desert reached .38.
    "water": frozenset({
        "lakeshore", "headland", "sandbar", "beach", "breakwater", "dock", "pier", "boathouse", "dam",
        "great egret", "little blue heron", "white stork", "black stork", "spoonbill", "flamingo", "bittern",
        "crane bird", "limpkin", "coot", "pelican", "goose", "black swan", "drake", "red-breasted merganser",
        "albatross", "dowitcher", "redshank", "ruddy turnstone", "dunlin", "oystercatcher", "snorkel",
        "scuba diver", "coral reef", "hippopotamus", "sea lion", "killer whale", "dugong", "paddle"}),
}
#: Per term, the pooled probability from which it is named (calibrated as said above).
CONTEXT_MIN: dict[str, float] = {"flower": 0.30, "building": 0.45, "water": 0.40}
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


def context_terms(probs: np.ndarray, vocab: Vocabulary) -> dict[str, float]:
    """The CONTEXT_EVIDENCE terms whose pool reaches its minimum, with that pool."""
    pools = {term: mass(probs, tags, vocab) for term, tags in CONTEXT_EVIDENCE.items()}
    return {term: p for term, p in pools.items() if p >= CONTEXT_MIN[term]}


def outdoor_mass(probs: np.ndarray, vocab: Vocabulary) -> float:
    """The pooled probability of the classes only ever seen outdoors."""
    return mass(probs, OUTDOOR_CLASSES, vocab)


__all__ = ["CONTEXT_BROADER", "CONTEXT_EVIDENCE", "CONTEXT_MIN", "OUTDOOR_CLASSES", "context_terms", "mass",
           "outdoor_mass"]
