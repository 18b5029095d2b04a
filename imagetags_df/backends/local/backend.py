"""``backend="local"``: the offline tagger behind the common Backend interface.

Per batch: one worker thread per core takes a contiguous share of the images and decodes,
classifies (one batched call) and detects them; then the language-free analysis and the
per-language composition. Models and vocabulary are loaded once per process, on first
use, so constructing a backend is free.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..._constants import LANGUAGES
from ..._exceptions import ConfigurationError
from ..._types import PreparedImage, TagResult
from ...infra.cache import Cache, analysis_key, embedding_key
from ..base import Backend
from . import embeddings, imaging
from .colors import pixel_stats
from .compose import color_words, compose
from .faces import faces_digest, find_faces
from .models import Detection, Models, get_models, models_digest, settle_precision
from .tags import DET_MIN, PERSON, PERSON_GEAR_KINDS, Analysis, analyse
from .tags import with_text as analyse_again
from .vocab import Vocabulary, get_vocabulary

log = logging.getLogger(__name__)

#: Analyses remembered per backend (a few KB each).
MEMO_SIZE = 512
#: Format of the cache identity string.
IDENTITY_VERSION = "1"
#: Every other module of this package decides what an image gets: their source is part of
#: the cache identity, so any edit to a threshold or a template invalidates cached answers
#: by itself, and so does a new rule module, without a list to keep up to date. This
#: module (the flow) and the package entry are left out.
NOT_RULES = ("__init__.py", "backend.py", "embeddings.py")
_rules_digest: str | None = None


def rules_digest() -> str:
    """Short hash of the rule modules' source (part of the cache identity)."""
    global _rules_digest
    if _rules_digest is None:
        h = hashlib.sha256()
        for path in sorted(Path(__file__).resolve().parent.glob("*.py")):
            if path.name in NOT_RULES:
                continue
            h.update(path.name.encode() + b"\0" + path.read_bytes())
        _rules_digest = h.hexdigest()[:8]
    return _rules_digest


#: Worker threads per backend: one per core (each runs single-threaded onnxruntime calls).
WORKERS = max(1, min(8, os.cpu_count() or 1))


@dataclass
class StageTimes:
    """Seconds spent per stage, summed over calls (the benchmark prints these)."""

    decode: float = 0.0
    classify: float = 0.0
    detect: float = 0.0
    faces: float = 0.0
    analyse: float = 0.0
    compose: float = 0.0
    ocr: float = 0.0
    images: int = 0


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
    # CPU-bound: the backend's own worker threads (one per core) do the parallel work; two
    # batches at once would only fight over the same cores.
    max_concurrency = 1
    decodes_images = True

    def __init__(self, ocr: bool = False, labels: Sequence[str] | None = None, lang: str = "en",
                 threads: int | None = None, precision: str | None = None) -> None:
        self.ocr = bool(ocr)
        #: "int8" or "float32": which twin of the two models runs (argument, else
        #: $IMAGETAGS_PRECISION, else the default). Part of every cache identity.
        self.precision = settle_precision(precision)
        #: term key -> the label as the user wrote it (None: every tag the tagger finds).
        self.labels: dict[str, str] | None = None if labels is None else _known_labels(labels, _check_lang(lang))
        #: Images analysed at once, each with one ONNX thread: one per core by default; one
        #: per task thread on Dask, whose workers already run a task per core.
        self.threads = max(1, int(threads)) if threads is not None else WORKERS
        self.times = StageTimes()
        self._reader: Any = None
        if self.ocr:
            # Raises ConfigurationError naming the extra to install when it is missing.
            from .ocr import load_reader

            self._reader = load_reader()
        self._pool: ThreadPoolExecutor | None = None
        self._helper: ThreadPoolExecutor | None = None
        self._memo: OrderedDict[bytes, Analysis] = OrderedDict()
        self._lock = threading.Lock()
        self._store: Cache | None = None

    def attach_cache(self, cache: Cache) -> None:
        self._store = cache

    def cache_identity(self) -> str:
        if self.labels is None:
            return self._analysis_identity()
        chosen = hashlib.sha256("\n".join(sorted(self.labels)).encode()).hexdigest()[:12]
        return f"{self._analysis_identity()}:labels={chosen}"

    def _analysis_identity(self) -> str:
        # The language-free analysis does not depend on the label set: runs with and
        # without labels share it.
        vocab = get_vocabulary()
        return (f"local:v{IDENTITY_VERSION}:{models_digest(self.precision)}:{faces_digest()}:{vocab.digest}"
                f":{rules_digest()}:precision={self.precision}:ocr={int(self.ocr)}")

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
            if self.labels is not None:
                tags, scores = _only_labels(tags, scores, self.labels, vocab, lang)
            out.append(TagResult(tags=tags, title=title, description=description, tag_scores=scores,
                                 backend=self.name, credits_used=0.0, request_id=None,
                                 confidence=a.confidence, colors=color_words(a, vocab, lang),
                                 orientation=a.orientation or None))
        self.times.compose += time.perf_counter() - t0
        return out

    def analyse_many(self, images: Sequence[PreparedImage]) -> list[Analysis | BaseException]:
        """The language-free analysis of each image (what :meth:`tag_many` composes from).

        Analyses are remembered for the last few hundred images (keyed by a digest of the
        bytes), so asking for the same pictures in another language costs only the
        composition: that is what the server and multi-language runs do. With a cache
        attached (every ``generate`` run), they are also kept there under the image's
        SHA-256, so another language in a later run or process costs no model time either.
        Each freshly analysed image's embedding (the classifier's pooled features, from the
        same pass) is kept there too, for :func:`imagetags_df.learn.embed`.
        """
        keys = [hashlib.blake2b(img.data, digest_size=16).digest() for img in images]
        out: list[Analysis | BaseException | None] = [self._memo.get(k) for k in keys]
        todo = [i for i, a in enumerate(out) if a is None]
        # Stored analyses are keyed like results: backend identity + SHA-256 of the original bytes.
        stored_keys: dict[int, str] = {}
        if todo and self._store is not None:
            identity = self._analysis_identity()
            stored_keys = {i: analysis_key(identity, images[i].sha256) for i in todo if images[i].sha256}
        if stored_keys:
            found = self._store.get_json(list(stored_keys.values()))  # type: ignore[union-attr]
            for i, key in stored_keys.items():
                if key in found and (a := _analysis_from_json(found[key])) is not None:
                    out[i] = a
                    self._remember(keys[i], a)
            todo = [i for i in todo if out[i] is None]
        if todo:
            fresh, features = self._analyse_uncached([images[i] for i in todo])
            kept_features: dict[str, bytes] = {}
            for i, fresh_one, vector in zip(todo, fresh, features):
                out[i] = fresh_one
                if isinstance(fresh_one, Analysis):
                    self._remember(keys[i], fresh_one)
                    if i in stored_keys:
                        self._keep(stored_keys[i], fresh_one)
                        # An embedding is of the original bytes: one made from a copy the
                        # engine had to convert (too big, or a format the API does not take)
                        # would differ from what embed() computes for the same file.
                        if vector is not None and not images[i].converted:
                            kept_features[images[i].sha256] = embeddings.to_bytes(vector)
            if kept_features:
                self._keep_embeddings(kept_features)
        return [a for a in out if a is not None]

    def _keep_embeddings(self, vectors: dict[str, bytes]) -> None:
        identity = embeddings.embedding_identity(self.precision)
        try:
            self._store.set_bytes_many(  # type: ignore[union-attr]
                {embedding_key(identity, digest): data for digest, data in vectors.items()})
        except Exception as exc:  # noqa: BLE001 - as in _keep: a convenience, never a lost tag
            log.warning("could not keep an embedding in the cache (%s); tagging goes on", type(exc).__name__)

    def _keep(self, key: str, analysis: Analysis) -> None:
        # Stored analyses only save time later: a cache that cannot take one now (full
        # disk, a lock held past diskcache's timeout) must not cost this image its tags.
        try:
            self._store.set_json(key, analysis.to_json())  # type: ignore[union-attr]
        except Exception as exc:  # noqa: BLE001
            log.warning("could not keep an analysis in the cache (%s); tagging goes on", type(exc).__name__)

    def _remember(self, key: bytes, analysis: Analysis) -> None:
        with self._lock:
            self._memo[key] = analysis
            self._memo.move_to_end(key)
            while len(self._memo) > MEMO_SIZE:
                self._memo.popitem(last=False)

    def _analyse_uncached(self, images: Sequence[PreparedImage]
                          ) -> tuple[list[Analysis | BaseException], list[np.ndarray | None]]:
        """The batch is cut into one contiguous share per worker thread; each worker decodes,
        classifies (one batched call) and detects its share. onnxruntime and Pillow release
        the GIL, so the shares run on separate cores with no hand-off between stages.

        Returns each image's analysis (or error) and its embedding (None where it failed)."""
        models = get_models(self.precision)  # load before fanning out: workers never race to build sessions
        vocab = get_vocabulary()
        n = len(images)
        workers = max(1, min(self.threads, n))
        bounds = [(k * n // workers, (k + 1) * n // workers) for k in range(workers)]
        pool = self._executor()
        # A lone image (the server, describe_image) still uses two cores: its classifier
        # call goes to a separate helper thread while the detector runs. Never to `pool`:
        # with concurrent calls every worker could be waiting on a helper task queued
        # behind them (a deadlock seen with the engine running two batches at once).
        helper = self._helper_executor() if n == 1 and self.threads >= 2 else None
        shares = list(pool.map(lambda b: _analyse_share(images[b[0]:b[1]], vocab, models, helper), bounds))
        out: list[Analysis | BaseException] = []
        features: list[np.ndarray | None] = []
        tm = self.times
        for analyses, share_features, stage in shares:
            out.extend(analyses)
            features.extend(share_features)
            tm.decode += stage["decode"]
            tm.classify += stage["classify"]
            tm.detect += stage["detect"]
            tm.faces += stage["faces"]
            tm.analyse += stage["analyse"]
        if self._reader is not None:
            out = self._add_text(images, out)
        tm.images += n
        return out, features

    def _add_text(self, images: Sequence[PreparedImage], analyses: list[Analysis | BaseException]
                  ) -> list[Analysis | BaseException]:
        """OCR runs after the models, one image at a time (the reader is not thread-safe)."""
        from .ocr import read_text

        t0 = time.perf_counter()
        vocab = get_vocabulary()
        out: list[Analysis | BaseException] = []
        for img, a in zip(images, analyses):
            if isinstance(a, BaseException):
                out.append(a)
                continue
            try:
                text = read_text(self._reader, imaging.ocr_pixels(img.data))
            except Exception:  # noqa: BLE001 - OCR is a bonus: its failure must not lose the tags
                text = None
            out.append(a if not text else analyse_again(a, text, vocab))
        self.times.ocr += time.perf_counter() - t0
        return out

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="imagetags-local")
            return self._pool

    def _helper_executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._helper is None:
                self._helper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="imagetags-local-helper")
            return self._helper

    # Async API (the engine) -------------------------------------------------------------
    async def tag_batch(self, images: Sequence[PreparedImage], lang: str) -> list[TagResult | BaseException]:
        _check_lang(lang)
        return await asyncio.to_thread(self.tag_many, list(images), lang)

    async def aclose(self) -> None:
        for pool in (self._pool, self._helper):
            if pool is not None:
                pool.shutdown(wait=False)
        self._pool = self._helper = None


def _known_labels(labels: Sequence[str], lang: str) -> dict[str, str]:
    """Map each label to the vocabulary term it names in ``lang``; refuse the ones it cannot say."""
    import difflib

    vocab = get_vocabulary()
    words = vocab.words(lang)
    known: dict[str, str] = {}
    unknown: list[str] = []
    for raw in labels:
        label = " ".join(str(raw).split())
        if not label:
            continue
        key = vocab.lookup(label, lang)
        if key is None:
            unknown.append(label)
        else:
            known.setdefault(key, label)
    if unknown:
        hints = []
        for label in unknown:
            near = difflib.get_close_matches(label.casefold(), list(words), n=3, cutoff=0.6)
            hints.append(f"{label!r} (nearest: {', '.join(near)})" if near else f"{label!r} (nothing close)")
        raise ConfigurationError(
            f"the offline tagger does not know {len(unknown)} of these labels in {lang}: {'; '.join(hints)}. "
            "Use terms it knows, or a vision model (backend=\"openai\"/\"ollama\") for any label set")
    if not known:
        raise ConfigurationError("labels is empty: give at least one label, or leave labels out")
    return known


def _only_labels(tags: list[str], scores: list[float], labels: dict[str, str], vocab: Vocabulary,
                 lang: str) -> tuple[list[str], list[float]]:
    """Keep the tags that are labels (in the labels' spelling), with their scores."""
    kept: list[str] = []
    kept_scores: list[float] = []
    for tag, score in zip(tags, scores):
        key = vocab.lookup(tag, lang)
        if key is not None and key in labels and labels[key] not in kept:
            kept.append(labels[key])
            kept_scores.append(score)
    return kept, kept_scores


def _analysis_from_json(value: object) -> Analysis | None:
    """A stored analysis, or None when the entry is damaged (then it is analysed again)."""
    try:
        return Analysis.from_json(value)  # type: ignore[arg-type]
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _decode(image: PreparedImage) -> imaging.Decoded | BaseException:
    try:
        return imaging.decode(image.data)
    except Exception as exc:  # noqa: BLE001 - Pillow raises many types for bad data
        return embeddings.decode_error(image, exc)


def _has_person(detections: Sequence[Detection]) -> bool:
    return any(d.cls == PERSON and d.score >= DET_MIN[PERSON] for d in detections)


#: The classifier is sure the picture shows something (not something worn) from this on.
SURE_OF_A_THING = 0.5


def _sure_of_a_thing(probs: np.ndarray, vocab: Vocabulary) -> bool:
    best = int(np.argmax(probs))
    info = vocab.imagenet[best]
    return float(probs[best]) >= SURE_OF_A_THING and info is not None and info.kind not in PERSON_GEAR_KINDS


def _analyse_share(images: Sequence[PreparedImage], vocab: Vocabulary, models: Models,
                   helper: ThreadPoolExecutor | None = None
                   ) -> tuple[list[Analysis | BaseException], list[np.ndarray | None], dict[str, float]]:
    """Decode, classify (batched), detect and analyse one worker's share of a batch; also
    each image's embedding (None where decoding failed).

    With ``helper`` (an executor with an idle thread), the classifier runs there while this
    thread runs the detector; the stage times then overlap.
    """
    t0 = time.perf_counter()
    decoded = [_decode(img) for img in images]
    t1 = time.perf_counter()
    ok = [d for d in decoded if not isinstance(d, BaseException)]
    crops = np.stack([d.classifier_crop for d in ok]) if ok else None
    pending = helper.submit(models.classify, crops) if helper is not None and crops is not None else None
    classified = models.classify(crops) if pending is None and crops is not None else None
    t2 = time.perf_counter()
    dets = [models.detect(d.detector_input, d.detector_extent) for d in ok]
    if pending is not None:
        classified = pending.result()
    probs, features = classified if classified is not None else (None, None)
    # Faces only where the detector saw no person and the classifier is sure of nothing
    # else: a close-up's face has no body for NanoDet-m to box, and the classifier then
    # guesses at clothes (lab coat .14, sombrero .43). That skips the cascade on a third
    # of the pictures without a person (its 5 ms are the price of the rest).
    t_faces = time.perf_counter()
    faces = [find_faces(d.face_gray) if d.face_gray is not None and not _has_person(ds)
             and not (probs is not None and _sure_of_a_thing(probs[k], vocab)) else []
             for k, (d, ds) in enumerate(zip(ok, dets))]
    t3 = time.perf_counter()
    out: list[Analysis | BaseException] = []
    vectors: list[np.ndarray | None] = []
    k = 0
    for d in decoded:
        if isinstance(d, BaseException):
            out.append(d)
            vectors.append(None)
            continue
        assert probs is not None and features is not None
        out.append(analyse(probs[k], dets[k], pixel_stats(d.stats_pixels, d.classifier_crop), d.width, d.height, vocab, faces[k]))
        vectors.append(features[k])
        k += 1
    t4 = time.perf_counter()
    return out, vectors, {"decode": t1 - t0, "classify": t2 - t1, "detect": t_faces - t2, "faces": t3 - t_faces,
                 "analyse": t4 - t3}
