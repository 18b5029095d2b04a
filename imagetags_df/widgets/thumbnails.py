"""Thumbnails of any image input, shrunk with Pillow and embedded as ``data:`` URIs.

A relative path would break as soon as the notebook or its HTML export is opened from
anywhere else, so every thumbnail travels inside the page. Also the small helpers every
widget shares: finding the image column, reading cells, loading ipywidgets lazily.
"""

from __future__ import annotations

import base64
import hashlib
import io
import math
import os
from typing import Any

import pandas as pd

from .._exceptions import ConfigurationError
from .._install import pip_install

WIDGETS_INSTALL_HINT = pip_install("widgets")
#: Columns looked at, in order, when ``col=None``.
IMAGE_COLUMN_NAMES = ("path", "image", "file", "filename", "filepath", "image_path", "img")
#: Thumbnails kept in memory per gallery; paging back and forth re-uses them.
THUMB_CACHE_SIZE = 256


def load_ipywidgets():
    try:
        import ipywidgets
    except ImportError as exc:  # pragma: no cover - exercised by a subprocess test
        raise ConfigurationError(
            f"the gallery and review widgets need ipywidgets: {WIDGETS_INSTALL_HINT}") from exc
    return ipywidgets


# --- images ---------------------------------------------------------------------


def image_column(df: pd.DataFrame, col: str | None = None) -> str:
    """The column that holds the images: ``col`` if given, else a likely one."""
    if col is not None:
        if col not in df.columns:
            raise ConfigurationError(f"image column {col!r} not found; columns: {list(df.columns)[:12]}")
        return col
    for name in IMAGE_COLUMN_NAMES:
        if name in df.columns:
            return name
    for name in df.columns:
        first = df[name].dropna().head(1).tolist()
        if first and looks_like_image(first[0]):
            return str(name)
    raise ConfigurationError(
        "cannot tell which column holds the images: pass col= (the column given to generate)")


def looks_like_image(value: Any) -> bool:
    if isinstance(value, (bytes, bytearray, os.PathLike)):
        return True
    if isinstance(value, str):
        return value.lower().rsplit(".", 1)[-1] in {"jpg", "jpeg", "png", "webp", "gif", "bmp",
                                                    "tif", "tiff", "heic", "avif"}
    return type(value).__module__.startswith("PIL.")


def is_missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def image_id(value: Any) -> str:
    """A stable name for an image cell: its path, or the SHA-256 of its bytes/pixels.

    Used to key saved review edits, so they survive re-ordering, filtering or a new index.

    >>> image_id("photos/cat.jpg"), image_id(b"abc")[:15]
    ('photos/cat.jpg', 'sha256:ba7816bf')
    """
    if is_missing(value):
        return "none"
    if isinstance(value, (str, os.PathLike)):
        return os.fspath(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "sha256:" + hashlib.sha256(bytes(value)).hexdigest()
    if hasattr(value, "tobytes") and hasattr(value, "mode"):  # a PIL image
        h = hashlib.sha256(f"{value.mode}{value.size}".encode())
        h.update(value.tobytes())
        return "sha256:" + h.hexdigest()
    return repr(value)


def thumbnail(value: Any, size: int = 160, quality: int = 75) -> bytes:
    """A JPEG of at most ``size`` x ``size`` pixels from a path, an ``http(s)://`` URL, bytes or a PIL image.

    EXIF orientation is applied and transparency is flattened onto white, so what is shown
    is what a viewer would show. Raises OSError/ValueError for unreadable images.

    >>> from PIL import Image
    >>> len(thumbnail(Image.new("RGB", (800, 600)), size=64)) > 0
    True
    """
    from PIL import Image, ImageOps

    if is_missing(value):
        raise ValueError("no image in this row")
    if isinstance(value, Image.Image):
        im = value.copy()
    else:
        from ..images import fetch_url, is_url

        if is_url(value):  # an image on the web: downloaded under the same caps as for tagging
            value = fetch_url(value)
        src = io.BytesIO(bytes(value)) if isinstance(value, (bytes, bytearray, memoryview)) else os.fspath(value)
        with Image.open(src) as opened:
            # draft() lets the JPEG decoder skip most of a large photo's pixels.
            opened.draft("RGB", (size * 2, size * 2))
            opened.load()
            im = opened.copy()
    im = ImageOps.exif_transpose(im) or im
    im.thumbnail((size, size))
    if im.mode in ("RGBA", "LA", "P"):
        im = im.convert("RGBA")
        flat = Image.new("RGB", im.size, "white")
        flat.paste(im, mask=im.getchannel("A"))
        im = flat
    elif im.mode != "RGB":
        im = im.convert("RGB")
    out = io.BytesIO()
    im.save(out, "JPEG", quality=quality, optimize=True)
    return out.getvalue()


def data_uri(jpeg: bytes) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")


def label_text(value: Any) -> str:
    if isinstance(value, (str, os.PathLike)):
        return os.path.basename(os.fspath(value)) or os.fspath(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"{len(value):,} bytes"
    if hasattr(value, "size") and hasattr(value, "mode"):
        return f"PIL image {value.size[0]}x{value.size[1]}"
    return ""


def tag_score_map(tags: Any, scores: Any) -> dict[str, float]:
    """tag -> confidence, for backends that report one (shown as the chip's tooltip)."""
    from ..analysis import score_map

    return score_map(scores, tags) or {}


def cell_text(value: Any) -> str:
    return "" if is_missing(value) else str(value)


