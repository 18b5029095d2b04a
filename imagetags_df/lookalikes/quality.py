"""Pictures too dark, too bright, blurry, nearly empty, grey, or of an odd size or shape.

cleanvision's set of checks, with its formulas and default thresholds (read from
``cleanvision/issue_managers/image_property.py`` and ``image_property_issue_manager.py``), so
a collection scores here as it would there. Each check gives a score in 0..1 where *low is
bad*, and a flag when the score is under its threshold:

=================  =============================================================  =========
flag               score                                                          flag when
=================  =============================================================  =========
``dark``           99th percentile of pixel brightness                            < 0.32
``bright``         1 - 5th percentile of pixel brightness                         < 0.05
``blurry``         1 - exp(-0.01 x std of edges), at 64 px (+ a grey-level term)  < 0.29
``low_information`` min(1, 0.1 x entropy of the grey histogram, in bits)          < 0.30
``grayscale``      share of pixels whose channels differ by more than 8 / 255     < 0.01
``odd_size``       1 - distance of sqrt(area) from the frame's middle, over 3 IQR  < 0.5
``odd_aspect``     short side / long side                                         < 0.35
=================  =============================================================  =========

Brightness is cleanvision's perceived brightness, sqrt(.241 R² + .691 G² + .068 B²) / 255.
Two differences: blur leaves out the edge map's one-pixel border (PIL's edge filter invents
edges there, which kept a photo blurred with a 12 px Gaussian above the threshold), and
``grayscale`` looks at the pixels (cleanvision checks that the file's mode is
"L", which misses a grey photo saved as RGB, the usual case). ``odd_size`` compares each image
with the frame's others, so it is computed per call; the rest are cached per image.

>>> import pandas as pd
>>> out = quality(pd.DataFrame({"path": ["data/samples/coffee.jpg"]}), cache_dir=False)
>>> out.loc[0, ["dark", "bright", "blurry", "grayscale"]].tolist()
[False, False, False, False]
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
from PIL import Image, ImageFilter

from . import frame as _frame

#: Flag thresholds (cleanvision's defaults; ``grayscale`` is ours, see above).
THRESHOLDS: dict[str, float] = {
    "dark": 0.32, "bright": 0.05, "blurry": 0.29, "low_information": 0.30,
    "grayscale": 0.01, "odd_size": 0.5, "odd_aspect": 0.35,
}
FLAGS = tuple(THRESHOLDS)
#: cleanvision measures blur at this longest side.
BLUR_SIDE = 64
#: Statistics other than blur are taken at this longest side (percentiles and histograms
#: barely move with size; a 6000 px photo need not be read in full twice).
STATS_SIDE = 512
#: Channel spread (of 255) above which a pixel has colour.
COLOUR_SPREAD = 8
#: cleanvision's low-information and blur scaling.
ENTROPY_FACTOR = 0.1
BLUR_FACTOR = 0.01
BLUR_COLOR_THRESHOLD = 0.18
IQR_FACTOR = 3.0


def _flatten(im: Image.Image) -> Image.Image:
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        bg = Image.new("RGB", rgba.size, (255, 255, 255))
        bg.paste(rgba, mask=rgba.getchannel("A"))
        return bg
    return im.convert("RGB")


def measure(im: Image.Image) -> dict[str, float]:
    """The per-image statistics (cached): everything but ``odd_size``'s comparison.

    >>> m = measure(Image.new("RGB", (100, 50), (10, 10, 10)))
    >>> round(m["dark_score"], 2), m["grayscale_score"], m["odd_aspect_score"]
    (0.04, 0.0, 0.5)
    """
    w, h = im.size
    rgb = _flatten(im)
    small = rgb.copy()
    small.thumbnail((STATS_SIDE, STATS_SIDE), Image.Resampling.BILINEAR)
    arr = np.asarray(small, dtype=np.float32)
    r, g, b = arr[..., 0], arr[..., 1], arr[..., 2]
    brightness = np.sqrt(0.241 * r * r + 0.691 * g * g + 0.068 * b * b) / 255.0
    p5, p99 = np.percentile(brightness, [5, 99])
    spread = arr.max(axis=2) - arr.min(axis=2)
    gray = small.convert("L")
    entropy = float(gray.entropy())
    ratio = max(w, h) / BLUR_SIDE
    blur_src = rgb.resize((max(int(w // ratio), 1), max(int(h // ratio), 1))) if ratio > 1 else rgb
    blur_gray = blur_src.convert("L")
    # The frame's outermost pixels are left out: PIL's edge filter reads past the border, and
    # those false edges alone kept a heavily blurred photo above the threshold.
    edges = np.asarray(blur_gray.filter(ImageFilter.FIND_EDGES), dtype=np.float64)[1:-1, 1:-1]
    blur_score = 1 - np.exp(-edges.std() * BLUR_FACTOR)
    std_score = 1 - np.exp(-float(np.std(blur_gray.histogram())) * BLUR_FACTOR)
    if std_score <= BLUR_COLOR_THRESHOLD:
        std_score = 0.0
    return {
        "dark_score": float(p99),
        "bright_score": float(1 - p5),
        "blurry_score": float(min(blur_score + std_score, 1.0)),
        "low_information_score": float(min(1.0, ENTROPY_FACTOR * entropy)),
        "grayscale_score": float((spread > COLOUR_SPREAD).mean()),
        "odd_aspect_score": float(min(w / h, h / w)),
        "size": float(np.sqrt(w) * np.sqrt(h)),
    }


def _odd_size_scores(size: pd.Series) -> pd.Series:
    """cleanvision's: distance of sqrt(area) from the middle of [q1 - 3 IQR, q3 + 3 IQR]."""
    known = size.dropna()
    if known.empty:
        return pd.Series(np.nan, index=size.index)
    q1, q3 = np.percentile(known, [25, 75])
    lo, hi = q1 - IQR_FACTOR * (q3 - q1), q3 + IQR_FACTOR * (q3 - q1)
    mid, gap = (lo + hi) / 2, hi - lo
    norm = gap if gap > 0 else mid
    return 1 - np.clip(np.abs(size - mid) / norm, 0, 1)


def quality(df: pd.DataFrame, col: str = "path", *,
            cache_dir: str | os.PathLike[str] | bool | None = None) -> pd.DataFrame:
    """The frame plus, for each check, a flag column and a ``<flag>_score`` column (0..1, low is
    bad): ``dark``, ``bright``, ``blurry``, ``low_information``, ``grayscale``, ``odd_size``,
    ``odd_aspect``. Thresholds in :data:`THRESHOLDS`; unreadable rows get NA and a
    ``quality_error`` naming the file.

    >>> import pandas as pd
    >>> out = quality(pd.DataFrame({"path": ["data/samples/coffee.jpg", "data/samples/chelsea_cat.jpg"]}),
    ...               cache_dir=False)
    >>> out["odd_aspect"].tolist()
    [False, False]
    """
    settings = _frame.settings_for(cache_dir)
    try:
        rows = _frame.rows_of(df, col, settings)
        stats = _frame.per_image(rows, "quality", measure)
    finally:
        _frame.close(settings)
    n = len(df)
    table = pd.DataFrame([stats.get(p, {}) for p in range(n)], index=df.index,
                         columns=[f"{f}_score" for f in FLAGS if f != "odd_size"] + ["size"], dtype=float)
    table["odd_size_score"] = _odd_size_scores(table["size"])
    out = df.copy()
    # odd_size is strict (any deviation) when every image has one size, as in cleanvision.
    sizes = table["size"].dropna()
    odd_size_cut = 1.0 if len(sizes) and np.percentile(sizes, 75) == np.percentile(sizes, 25) else THRESHOLDS["odd_size"]
    for flag in FLAGS:
        score = table[f"{flag}_score"]
        cut = odd_size_cut if flag == "odd_size" else THRESHOLDS[flag]
        out[flag] = pd.array([pd.NA if pd.isna(s) else bool(s < cut) for s in score], dtype="boolean")
        out[f"{flag}_score"] = score
    if rows.errors:
        out["quality_error"] = pd.Series([str(rows.errors[p]) if p in rows.errors else None for p in range(n)],
                                         index=df.index, dtype=object)
    return out
