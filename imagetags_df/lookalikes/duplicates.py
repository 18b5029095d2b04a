"""Which rows show the same picture: exact copies (same pixels) and near copies (same picture
after a resize, recompression, small crop, brightness change, mirror, grey copy, slight
rotation or a caption band).

How, and why in this order:

1. **Exact**: a SHA-256 of the decoded pixels (and size), so a PNG of a JPEG's pixels is an
   exact copy although the files differ. Cached per image.
2. **Candidates**: each remaining picture's nearest neighbours by embedding (cosine of the
   offline classifier's features, exact for small frames, through the cache's HNSW index for
   large ones; see :mod:`.index`). Cheap, but it cannot tell a copy from a crop of half the
   scene: the left 45 % of a photo sits as close to the whole as a recompressed copy does.
3. **Verification of every pair** (:mod:`.match`): ORB keypoints, ratio test, a RANSAC
   homography, then how much of each picture the other covers (``threshold``) and whether the
   aligned pixels agree. Halves cover 45 % of the whole and do not match each other.
4. **Grouping without chaining**: verified pairs join groups strongest first, and two groups
   join only if *every* cross pair verifies, so A ~ B and B ~ C never put A with C unless
   A ~ C too (two halves never meet through their whole photo).

``threshold`` (default :data:`DEFAULT_THRESHOLD`) is the share of each picture the other must
cover: 0.81 for a 5 % crop each side, 0.64 for 10 %, 0.45 for a half. Calibrated on the
calibration photos, their nine kinds of copies and their halves (docs/lookalikes.md).

>>> import pandas as pd
>>> df = pd.DataFrame({"path": ["data/samples/coffee.jpg", "data/samples/coffee.jpg", "data/samples/chelsea_cat.jpg"]})
>>> out = duplicates(df, cache_dir=False)
>>> out["dup_group"].tolist(), out["dup_kind"].tolist(), out["dup_keep"].tolist()
([0, 0, <NA>], ['exact', 'exact', None], [True, False, True])
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

from .. import analysis
from .._exceptions import ConfigurationError
from . import frame as _frame
from . import match as _match
from .index import neighbours

#: Share of each picture the other must cover (see the module's documentation).
DEFAULT_THRESHOLD = 0.65
#: Neighbours by embedding examined per picture, and the cosine below which none is a
#: candidate. The worst copy of the calibration set (a grey copy) sits at 0.46 from its
#: original and every copy is within its original's 9 nearest.
CANDIDATES = 16
CANDIDATE_MIN = 0.40
#: Aligned pixels must agree at least this much (block-median correlation): every copy of
#: the calibration set agrees >= 0.79; a mirror copy is an exact flip and agrees >= 0.97,
#: so a mirrored match is held higher (the halves of a symmetric scene mirror onto each
#: other at 0.75).
AGREE_MIN = 0.70
AGREE_MIN_MIRROR = 0.90
#: A match needs this many keypoints agreeing on one homography.
MIN_INLIERS = 20
#: Pictures whose features are kept in memory while pairs are verified.
FEATURE_MEMORY = 2048

COLUMNS = ("dup_group", "dup_kind", "dup_keep", "tags_disagree")


def _pixel_info(im: Image.Image) -> dict[str, Any]:
    mode = "RGBA" if im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info else "RGB"
    px = im.convert(mode)
    h = hashlib.sha256(f"{mode}{px.size}".encode())
    h.update(px.tobytes())
    return {"pixels": h.hexdigest(), "w": px.width, "h": px.height}


def accepts(o: _match.Overlap, threshold: float) -> bool:
    """Whether a verified overlap is a copy at ``threshold``."""
    if o.how == "phash":
        return True
    need = AGREE_MIN_MIRROR if o.how == "mirror" else AGREE_MIN
    return o.inliers >= MIN_INLIERS and o.share >= threshold and o.agreement >= need


def duplicates(df: pd.DataFrame, col: str = "path", *, threshold: float = DEFAULT_THRESHOLD,
               cache_dir: str | os.PathLike[str] | bool | None = None, tags_col: str | None = "tags",
               candidates: int = CANDIDATES) -> pd.DataFrame:
    """The frame plus ``dup_group`` (Int64, NA for a unique picture), ``dup_kind`` ("exact": the
    same pixels as another row of its group, in any file format; "near": the same picture
    changed), ``dup_keep`` (one True per group: the largest resolution, then the earliest row;
    True for unique rows) and ``tags_disagree`` (the group's rows carry different tags).

    ``threshold`` is the share of each picture the other must cover (lower it to accept larger
    crops). ``cache_dir`` is ``generate``'s: embeddings, pixel hashes and the index are reused.
    Unreadable rows are left out (NA) and named in a warning column ``dup_error``.

    >>> import pandas as pd
    >>> out = duplicates(pd.DataFrame({"path": ["data/samples/coffee.jpg"]}), cache_dir=False)
    >>> bool(out.loc[0, "dup_keep"])
    True
    """
    if not 0.0 < threshold <= 1.0:
        raise ConfigurationError(f"threshold must be in (0, 1], not {threshold!r}")
    settings = _frame.settings_for(cache_dir)
    try:
        rows = _frame.rows_of(df, col, settings)
        info = _frame.per_image(rows, "pixels", _pixel_info)
        vectors, valid = _frame.embeddings(rows)
        groups = _group(rows, info, vectors, valid, threshold, candidates)
    finally:
        _frame.close(settings)
    return _assemble(df, rows, info, groups, tags_col)


def _group(rows: _frame.Rows, info: dict[int, Any], vectors: np.ndarray, valid: np.ndarray,
           threshold: float, candidates: int) -> list[list[int]]:
    """Groups of row positions (each of >= 2 rows)."""
    # One representative per distinct pixel content; exact copies follow their representative.
    by_pixels: dict[str, list[int]] = {}
    for pos in sorted(info):
        by_pixels.setdefault(info[pos]["pixels"], []).append(pos)
    reps = [members[0] for members in by_pixels.values() if valid[members[0]]]
    members_of = {members[0]: members for members in by_pixels.values()}

    verified: dict[tuple[int, int], bool] = {}

    @lru_cache(maxsize=FEATURE_MEMORY)
    def feats(pos: int) -> _match.Features:
        return _match.features(_frame.open_image(rows, pos))

    def same(a: int, b: int) -> bool:
        key = (a, b) if a < b else (b, a)
        if key not in verified:
            try:
                verified[key] = accepts(_match.overlap(feats(key[0]), feats(key[1])), threshold)
            except Exception:  # an image that decoded once but not now: no claim either way
                verified[key] = False
        return verified[key]

    edges: list[tuple[float, int, int]] = []
    if len(reps) > 1:
        rv = vectors[reps]
        keys = [rows.digests[p] or "" for p in reps]
        ids, sims = neighbours(rv, keys, min(candidates + 1, len(reps)),
                               rows.settings.cache.directory)
        seen: set[tuple[int, int]] = set()
        for i, (row_ids, row_sims) in enumerate(zip(ids, sims)):
            for j, s in zip(row_ids, row_sims):
                if j < 0 or j == i or s < CANDIDATE_MIN:
                    continue
                a, b = (reps[i], reps[int(j)]) if i < j else (reps[int(j)], reps[i])
                if (a, b) not in seen:
                    seen.add((a, b))
                    edges.append((float(s), a, b))
    edges.sort(key=lambda e: -e[0])

    group_of: dict[int, int] = {r: r for r in reps}
    members: dict[int, list[int]] = {r: [r] for r in reps}
    for _, a, b in edges:
        ga, gb = group_of[a], group_of[b]
        if ga == gb or not same(a, b):
            continue
        # Join two groups only when every cross pair is the same picture: no chaining.
        if all(same(x, y) for x in members[ga] for y in members[gb] if (x, y) != (a, b)):
            members[ga].extend(members.pop(gb))
            for x in members[ga]:
                group_of[x] = ga
    out: list[list[int]] = []
    for reps_in in members.values():
        rows_in = sorted(p for r in reps_in for p in members_of[r])
        if len(rows_in) > 1:
            out.append(rows_in)
    # Exact copies whose embedding failed still form their exact group.
    for first, rows_in in members_of.items():
        if first not in group_of and len(rows_in) > 1:
            out.append(rows_in)
    out.sort(key=lambda g: g[0])
    return out


def _tag_set(value: Iterable[str] | None) -> frozenset[str]:
    return frozenset(t.strip().lower() for t in value or [] if t and t.strip())


def _assemble(df: pd.DataFrame, rows: _frame.Rows, info: dict[int, Any], groups: list[list[int]],
              tags_col: str | None) -> pd.DataFrame:
    n = len(df)
    group = pd.array([pd.NA] * n, dtype="Int64")
    kind: list[str | None] = [None] * n
    keep = [True] * n
    disagree = [False] * n
    tags = analysis.tag_lists(df, tags_col) if tags_col and tags_col in df.columns else None
    for g, rows_in in enumerate(groups):
        pixels = [info[p]["pixels"] for p in rows_in]
        best = max(rows_in, key=lambda p: (info[p]["w"] * info[p]["h"], -p))
        differ = tags is not None and len({_tag_set(tags[p]) for p in rows_in}) > 1
        for p in rows_in:
            group[p] = g
            kind[p] = "exact" if pixels.count(info[p]["pixels"]) > 1 else "near"
            keep[p] = p == best
            disagree[p] = differ
    out = df.copy()
    out["dup_group"] = pd.Series(group, index=df.index)
    out["dup_kind"] = pd.Series(kind, index=df.index, dtype=object)
    out["dup_keep"] = pd.Series(keep, index=df.index, dtype=bool)
    out["tags_disagree"] = pd.Series(disagree, index=df.index, dtype=bool)
    if rows.errors:
        out["dup_error"] = pd.Series([str(rows.errors[p]) if p in rows.errors else None for p in range(n)],
                                     index=df.index, dtype=object)
    return out
