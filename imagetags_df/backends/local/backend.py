"""``backend="local"``: the offline tagger behind the common Backend interface.

Per batch: decode every image (Pillow releases the GIL, so a small thread pool overlaps
decodes), run the classifier once on the stacked crops, the detector per image, then the
language-free analysis and the per-language composition. Models and vocabulary are loaded
once per process, on first use, so constructing a backend is free.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..._constants import LANGUAGES
from ..._exceptions import ConfigurationError, CorruptImageError
from ..._types import PreparedImage, TagResult
from ..base import Backend
from . import imaging
from .colors import pixel_stats
from .compose import compose
from .models import get_models, models_digest
from .tags import Analysis, analyse
from .vocab import get_vocabulary

#: Bumped when the rules in tags.py/compose.py change what an image gets.
RULES_VERSION = "1"


@dataclass
class StageTimes:
    """Seconds spent per stage, summed over calls (the benchmark prints these)."""

    decode: float = 0.0
    classify: float = 0.0
    detect: float = 0.0
    compose: float = 0.0
    ocr: float = 0.0
    images: int = 0
    extra: dict[str, float] = field(default_factory=dict)


def _check_lang(lang: str) -> str:
    if lang not in LANGUAGES:
        raise ConfigurationError(f"unsupported language {lang!r}; choose one of {', '.join(LANGUAGES)}")
    return lang


class LocalBackend(Backend):
    """Offline tags, title and description with EfficientNet-Lite0 + NanoDet-m (onnxruntime).

    >>> from imagetags_df.backends.local import LocalBackend
    >>> LocalBackend().name
    'local'
    """

    name = "local"
    rate_limit = None
    costs_credits = False
    credits_per_call = 0.0
    max_batch = 16
    # CPU-bound: onnxruntime's own threads do the parallel work; two batches at once would
    # only fight over the same cores.
    max_concurrency = 1
    decodes_images = True

    def __init__(self, ocr: bool = False) -> None:
        self.ocr = bool(ocr)
        self.times = StageTimes()
        self._reader: Any = None
        if self.ocr:
            from .ocr import load_reader  # raises ConfigurationError naming the extra when missing

            self._reader = load_reader()
        self._pool: ThreadPoolExecutor | None = None

    def cache_identity(self) -> str:
        vocab = get_vocabulary()
        return f"local:v{RULES_VERSION}:{models_digest()}:{vocab.digest}:ocr={int(self.ocr)}"

    # Synchronous API ---------------------------------------------------------------
    def tag(self, image: PreparedImage, lang: str) -> TagResult:
        result = self.tag_many([image], lang)[0]
        if isinstance(result, BaseException):
            raise result
        return result

    def tag_many(self, images: Sequence[PreparedImage], lang: str) -> list[TagResult | BaseException]:
        """Tag a batch; one result or exception per image (a bad image fails alone)."""
        _check_lang(lang)
        analyses = self.analyse_many(images)
        vocab = get_vocabulary()
        t0 = time.perf_counter()
        out: list[TagResult | BaseException] = []
        for a in analyses:
            if isinstance(a, BaseException):
                out.append(a)
                continue
            tags, scores, title, description = compose(a, vocab, lang)
            out.append(TagResult(tags=tags, title=title, description=description, tag_scores=scores,
                                 backend=self.name, credits_used=0.0, request_id=None))
        self.times.compose += time.perf_counter() - t0
        return out

    def analyse_many(self, images: Sequence[PreparedImage]) -> list[Analysis | BaseException]:
        """The language-free analysis of each image (what :meth:`tag_many` composes from)."""
        models = get_models()
        vocab = get_vocabulary()
        t0 = time.perf_counter()
        decoded: list[imaging.Decoded | BaseException] = list(self._decode_pool().map(_decode, images))
        t1 = time.perf_counter()
        ok = [i for i, d in enumerate(decoded) if not isinstance(d, BaseException)]
        probs = np.empty((0, 1000), np.float32)
        if ok:
            crops = np.stack([decoded[i].classifier_crop for i in ok])  # type: ignore[union-attr]
            probs = models.classify(crops)
        t2 = time.perf_counter()
        dets = {i: models.detect(decoded[i].detector_input) for i in ok}  # type: ignore[union-attr]
        t3 = time.perf_counter()
        texts: dict[int, str | None] = {}
        if self._reader is not None:
            from .ocr import read_text

            for i in ok:
                texts[i] = read_text(self._reader, decoded[i].detector_input)  # type: ignore[union-attr]
        t4 = time.perf_counter()
        out: list[Analysis | BaseException] = []
        row = {i: k for k, i in enumerate(ok)}
        for i, d in enumerate(decoded):
            if isinstance(d, BaseException):
                out.append(d)
                continue
            stats = pixel_stats(d.stats_pixels)
            out.append(analyse(probs[row[i]], dets[i], stats, d.width, d.height, vocab, text=texts.get(i)))
        t5 = time.perf_counter()
        tm = self.times
        tm.decode += t1 - t0
        tm.classify += t2 - t1
        tm.detect += t3 - t2
        tm.ocr += t4 - t3
        tm.compose += t5 - t4
        tm.images += len(images)
        return out

    def _decode_pool(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1),
                                            thread_name_prefix="imagetags-decode")
        return self._pool

    # Async API (the engine) -------------------------------------------------------------
    async def tag_batch(self, images: Sequence[PreparedImage], lang: str) -> list[TagResult | BaseException]:
        _check_lang(lang)
        return await asyncio.to_thread(self.tag_many, list(images), lang)

    async def aclose(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None


def _decode(image: PreparedImage) -> imaging.Decoded | BaseException:
    try:
        return imaging.decode(image.data)
    except Exception as exc:  # noqa: BLE001 - Pillow raises many types for bad data
        err = CorruptImageError(f"{image.source}: the image could not be decoded ({type(exc).__name__}: {exc})",
                                source=image.source)
        err.__cause__ = exc
        return err
