"""Transformed copies of a photo, and two halves that are *not* copies, for duplicate tests.

The transforms are the ones a collection picks up on its way through phones, chat apps and
editors; the halves are the hard negatives: the left 45 % and the right 45 % of one scene are
two different pictures, and neither is the whole.

>>> from PIL import Image
>>> copies = near_copies(Image.new("RGB", (200, 100), "white"))
>>> sorted(copies)[:3]
['bright', 'caption', 'crop5']
>>> [im.size for im in halves(Image.new("RGB", (200, 100))).values()]
[(90, 100), (90, 100)]
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path

import pandas as pd
from PIL import Image, ImageDraw, ImageEnhance, ImageOps

#: The transforms ``near_copies`` makes, each the same picture to a person.
NEAR_KINDS = ("half", "jpeg30", "crop5", "bright", "mirror", "png", "gray", "rot3", "caption")


def _reencode(im: Image.Image, fmt: str, **kw: object) -> Image.Image:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    buf.seek(0)
    out = Image.open(buf)
    out.load()
    return out


def near_copies(im: Image.Image) -> dict[str, Image.Image]:
    """The nine near copies of ``im`` by name (see ``NEAR_KINDS``); "png" is meant to be saved
    as PNG (its pixels equal the original's, so it is an *exact* copy in another format)."""
    im = im.convert("RGB")
    w, h = im.size
    dx, dy = round(w * 0.05), round(h * 0.05)
    band = im.copy()
    draw = ImageDraw.Draw(band)
    draw.rectangle((0, round(h * 0.88), w, h), fill="white")
    draw.text((round(w * 0.04), round(h * 0.91)), "Holiday 2024 - with love", fill="black")
    return {
        "half": im.resize((max(1, w // 2), max(1, h // 2)), Image.Resampling.LANCZOS),
        "jpeg30": _reencode(im, "JPEG", quality=30),
        "crop5": im.crop((dx, dy, w - dx, h - dy)),
        "bright": ImageEnhance.Brightness(im).enhance(1.2),
        "mirror": ImageOps.mirror(im),
        "png": im.copy(),
        "gray": ImageOps.grayscale(im),
        "rot3": im.rotate(3, resample=Image.Resampling.BICUBIC, expand=False, fillcolor=(0, 0, 0)),
        "caption": band,
    }


def halves(im: Image.Image) -> dict[str, Image.Image]:
    """The left 45 % and the right 45 % of ``im``: two different pictures of one scene."""
    im = im.convert("RGB")
    w, h = im.size
    cut = round(w * 0.45)
    return {"left45": im.crop((0, 0, cut, h)), "right45": im.crop((w - cut, 0, w, h))}


def write_copies(pictures: Iterable[tuple[str, Image.Image]], folder: Path) -> pd.DataFrame:
    """Each ``(name, picture)`` saved in ``folder`` as PNG with its nine near copies and its two
    halves: one row per file, with ``path``, ``picture`` (the name, or ``name:left45`` for a
    half, which is a picture of its own) and ``kind`` (``orig``, a near kind, or the half's)."""
    rows = []
    for stem, im in pictures:
        orig = folder / f"{stem}__orig.png"
        im.save(orig)
        rows.append((str(orig), stem, "orig"))
        for kind, copy in near_copies(im).items():
            if kind == "png":
                p = folder / f"{stem}__{kind}.png"
                copy.save(p)
            else:
                p = folder / f"{stem}__{kind}.jpg"
                copy.save(p, quality=95)
            rows.append((str(p), stem, kind))
        for kind, half in halves(im).items():
            p = folder / f"{stem}__{kind}.jpg"
            half.save(p, quality=95)
            rows.append((str(p), f"{stem}:{kind}", kind))
    return pd.DataFrame(rows, columns=["path", "picture", "kind"])
