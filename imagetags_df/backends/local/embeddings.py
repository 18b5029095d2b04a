"""Image embeddings from the offline classifier: identity, compact storage, computing them.

An embedding is EfficientNet-Lite0's globally average-pooled activation (1280 numbers), the
summary its last layer reads. The tagger gets it from the same classifier pass as its class
probabilities, so a ``generate(backend="local")`` run stores it for free; computing one alone
costs a decode and the classifier (no detector, no faces).

Cached embeddings are keyed on the image's SHA-256 and on :func:`embedding_identity`: the
classifier file's digest and the preprocessing version, so a new model or a changed crop
never mixes with old vectors. They are kept as float16 bytes (2,560 per image), which
changes no learned result (``bench/learn.py`` measures it).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PIL import Image

from ..._exceptions import CorruptImageError, ImageTooLargeError
from ..._types import PreparedImage
from . import imaging
from .models import classifier_digest, get_models, settle_precision

#: Numbers per embedding (EfficientNet-Lite0's last feature map has 1280 channels).
DIM = 1280
#: What turns an image into the classifier's input (the original file's bytes, never a copy
#: converted for an API; decode with JPEG draft to the detector's side, EXIF rotation,
#: transparency on white, short side 256, central 224). Bump it when any of that changes:
#: cached embeddings then stop matching.
PREPROCESSING_VERSION = "2"
#: Images per classifier call when embedding alone (batched calls amortise onnxruntime's
#: per-call overhead; more than this gains nothing on a small CPU model).
BATCH = 16


def embedding_identity(precision: str | None = None) -> str:
    """What an embedding depends on: the model (and its precision: int8 features differ a
    little from float32 ones), its layer and the preprocessing. ``precision`` is settled as
    the tagger settles it (argument, ``$IMAGETAGS_PRECISION``, default).

    >>> embedding_identity("float32").startswith("efficientnet_lite0/pool1280/")
    True
    """
    chosen = settle_precision(precision)
    return f"efficientnet_lite0/pool{DIM}/{classifier_digest(chosen)}/{chosen}/prep{PREPROCESSING_VERSION}"


def to_bytes(vector: np.ndarray) -> bytes:
    """The compact stored form: float16, little-endian.

    >>> len(to_bytes(np.zeros(DIM, dtype=np.float32)))
    2560
    """
    return np.asarray(vector, dtype="<f2").tobytes()


def from_bytes(data: bytes) -> np.ndarray | None:
    """A float32 vector from :func:`to_bytes`, or None for bytes of the wrong size (damaged)."""
    if len(data) != DIM * 2:
        return None
    return np.frombuffer(data, dtype="<f2").astype(np.float32)


def decode_error(image: PreparedImage, exc: BaseException) -> BaseException:
    """The row error for an image Pillow cannot decode (same words as the tagger's)."""
    if isinstance(exc, Image.DecompressionBombError):
        return ImageTooLargeError(f"{image.source}: {exc}", source=image.source)
    err = CorruptImageError(f"{image.source}: the image could not be decoded ({type(exc).__name__}: {exc})",
                            source=image.source)
    err.__cause__ = exc
    return err


def _embed_chunk(images: Sequence[PreparedImage], precision: str) -> list[np.ndarray | BaseException]:
    crops: list[np.ndarray] = []
    out: list[np.ndarray | BaseException | None] = []
    for img in images:
        try:
            crops.append(imaging.decode_classifier_crop(img.data))
            out.append(None)
        except Exception as exc:  # noqa: BLE001 - Pillow raises many types for bad data
            out.append(decode_error(img, exc))
    if crops:
        _probs, features = get_models(precision).classify(np.stack(crops))
        it = iter(features)
        out = [next(it) if o is None else o for o in out]
    return [o for o in out if o is not None]


def embed_images(images: Sequence[PreparedImage], threads: int | None = None,
                 precision: str | None = None) -> list[np.ndarray | BaseException]:
    """One float32 embedding (or the decoding error) per image, in order.

    Decoding and the classifier run in ``threads`` worker threads (one per core by default);
    both release the GIL, and each classifier session call is single-threaded.
    """
    if not images:
        return []
    chosen = settle_precision(precision)
    get_models(chosen)  # load once before fanning out
    workers = max(1, threads or min(8, os.cpu_count() or 1))
    chunks = [images[i:i + BATCH] for i in range(0, len(images), BATCH)]
    if workers == 1 or len(chunks) == 1:
        results = [_embed_chunk(c, chosen) for c in chunks]
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="imagetags-embed") as pool:
            results = list(pool.map(lambda c: _embed_chunk(c, chosen), chunks))
    return [r for chunk in results for r in chunk]
