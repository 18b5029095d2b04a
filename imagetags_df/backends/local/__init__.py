"""The embedded offline tagger (``backend="local"``): no key, no network.

EfficientNet-Lite0 (ImageNet-1k) and NanoDet-m (COCO-80) run with onnxruntime, and two face
finders (MediaPipe's BlazeFace and OpenCV's frontal-face cascade) where no person was boxed;
a curated vocabulary turns their classes
into content tags in seven languages (colours and orientation go to their own fields);
templates compose a title and a description, left empty when nothing was recognised. See
``backend.py`` for the flow, ``tags.py`` for the precision rules and ``faces.py``.

>>> from imagetags_df.backends.local import describe_image
>>> "cat" in describe_image("data/samples/chelsea_cat.jpg").tags
True
"""

from __future__ import annotations

from typing import Any

from ... import images as _images
from ..._types import TagResult
from .backend import LocalBackend

__all__ = ["LocalBackend", "describe_image"]

_default: LocalBackend | None = None


def describe_image(image: Any, lang: str = "en") -> TagResult:
    """Tag one image given as a path, bytes or a PIL image (convenience for the other doors).

    >>> "café" in describe_image("data/samples/coffee.jpg", lang="fr").tags
    True
    """
    global _default
    if _default is None:
        _default = LocalBackend()
    # The same reading, sniffing and conversion as every other door; the tagger
    # decodes the image itself, so the trial decode is skipped.
    prepared = _images.load(image, validate=False)
    return _default.tag(prepared, lang)
