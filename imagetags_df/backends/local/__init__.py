"""The embedded offline tagger (``backend="local"``): no key, no network.

EfficientNet-Lite0 (ImageNet-1k) and NanoDet-m (COCO-80) run with onnxruntime; a curated
vocabulary turns their classes into tags in seven languages; templates compose a title and
a description. See ``backend.py`` for the flow and ``tags.py`` for the precision rules.

>>> from imagetags_df.backends.local import describe_image
>>> describe_image("data/samples/chelsea_cat.jpg").tags[:1]  # doctest: +SKIP
['cat']
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

from ..._types import PreparedImage, TagResult
from .backend import LocalBackend

__all__ = ["LocalBackend", "describe_image"]

_default: LocalBackend | None = None


def describe_image(image: Any, lang: str = "en") -> TagResult:
    """Tag one image given as a path, bytes or a PIL image (convenience for the other doors).

    >>> describe_image("data/samples/coffee.jpg", lang="fr").title  # doctest: +SKIP
    'Espresso'
    """
    global _default
    if _default is None:
        _default = LocalBackend()
    if isinstance(image, (str, Path)):
        data = Path(image).read_bytes()
        source = str(image)
    elif isinstance(image, (bytes, bytearray, memoryview)):
        data = bytes(image)
        source = "bytes"
    elif hasattr(image, "save"):  # a PIL image: hand it over losslessly
        buf = io.BytesIO()
        image.save(buf, format="PNG")
        data = buf.getvalue()
        source = "PIL image"
    else:
        raise TypeError(f"describe_image takes a path, bytes or a PIL image, not {type(image).__name__}")
    mime = "image/jpeg" if data[:3] == b"\xff\xd8\xff" else "image/png"
    prepared = PreparedImage(data=data, mime=mime, sha256=hashlib.sha256(data).hexdigest(), source=source)
    return _default.tag(prepared, lang)
