"""The two ONNX models, loaded once per process, and the decoding of their raw outputs.

* EfficientNet-Lite0 (ImageNet-1k): ``uint8`` NHWC crops (N, 224, 224, 3) in, softmax
  probabilities (N, 1000) and the pooled features before the last layer (N, 1280) out.
  The TensorFlow-style scaling is inside the graph.
* NanoDet-m (COCO-80): one ``uint8`` NHWC image (1, 320, 320, 3) in, for each of the strides
  8, 16 and 32 a grid of per-class scores (already sigmoid) and of box-side distributions
  (4 sides x 11 bins, NanoDet's "distribution focal loss" head).

Both come in two precisions (:data:`PRECISIONS`): the float32 exports, and int8 twins that
``tools/build_models.py quantize`` makes from them (onnxruntime static quantization,
calibrated on ``bench/int8_calibration``), which run about twice as fast on a CPU with int8
dot-product instructions (AVX512-VNNI, AVX-VNNI, ARM dot product). The files are package
data (``models/``); ``tools/build_models.sh`` rebuilds them. Nothing here touches the network.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..._constants import DEFAULT_PRECISION, ENV_PRECISION, PRECISIONS
from ..._exceptions import ConfigurationError

MODELS_DIR = Path(__file__).resolve().parent / "models"
CLASSIFIER_FILE = MODELS_DIR / "efficientnet_lite0.onnx"
DETECTOR_FILE = MODELS_DIR / "nanodet_m.onnx"
#: precision -> (classifier, detector) files.
MODEL_FILES = {
    "float32": (CLASSIFIER_FILE, DETECTOR_FILE),
    "int8": (MODELS_DIR / "efficientnet_lite0_int8.onnx", MODELS_DIR / "nanodet_m_int8.onnx"),
}

CLASSIFIER_SIZE = 224
#: The classifier sees the centre crop of an image whose short side is this (TF recipe).
CLASSIFIER_RESIZE = 256
DETECTOR_SIZE = 320
#: NanoDet's box head: distances to the 4 sides as distributions over 0..10 strides.
_REG_BINS = 11
_STRIDES = (8, 16, 32)
#: Candidates below this never become boxes; the tagger's calibrated thresholds are higher.
_MIN_BOX_SCORE = 0.2
_NMS_IOU = 0.5
#: Boxes of *different* classes overlapping this much are one object the model could not
#: decide on (motorcycle .56 / bicycle .46 on the same box): only the stronger one stays.
_CROSS_CLASS_IOU = 0.7


@dataclass(frozen=True)
class Detection:
    cls: int  # COCO-80 index
    score: float
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 as fractions of width/height


def settle_precision(precision: str | None = None) -> str:
    """The models' precision: the argument, else ``$IMAGETAGS_PRECISION``, else the default.

    >>> settle_precision("int8")
    'int8'
    """
    chosen = precision if precision is not None else (os.environ.get(ENV_PRECISION, "").strip() or DEFAULT_PRECISION)
    if chosen not in PRECISIONS:
        where = "precision" if precision is not None else f"${ENV_PRECISION}"
        raise ConfigurationError(f"{where} is {chosen!r}; use one of {', '.join(PRECISIONS)}")
    return chosen


class Models:
    """The two inference sessions of one precision. Build with :func:`get_models` (one per
    process and precision)."""

    def __init__(self, precision: str = DEFAULT_PRECISION) -> None:
        import onnxruntime as ort  # imported here so importing the package stays cheap

        opts = ort.SessionOptions()
        # One thread per run: the backend runs one worker thread per core, each feeding its
        # own share of a batch through these (thread-safe) sessions. Measured on 2 cores,
        # that is ~35% faster than one caller with two intra-op threads, whose per-layer
        # synchronisation costs a lot on layers this small.
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        providers = ["CPUExecutionProvider"]
        self.precision = precision
        classifier_file, detector_file = MODEL_FILES[precision]
        self.classifier = ort.InferenceSession(str(classifier_file), opts, providers=providers)
        self.detector = ort.InferenceSession(str(detector_file), opts, providers=providers)
        # Output names say which head is which: match them by shape once, not per call.
        heads: dict[int, dict[str, str]] = {}
        for out in self.detector.get_outputs():
            cells, width = int(out.shape[1]), int(out.shape[2])
            heads.setdefault(cells, {})["scores" if width == 80 else "boxes"] = out.name
        self._heads = [(stride, heads[(DETECTOR_SIZE // stride) ** 2]) for stride in _STRIDES]
        self._det_names = [o.name for o in self.detector.get_outputs()]

    def classify(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Softmax probabilities (N, 1000) and pooled features (N, 1280) for ``uint8`` crops
        (N, 224, 224, 3), from one pass: the features are what the last layer reads, the
        image's embedding."""
        probs, features = self.classifier.run(["probs", "features"], {"pixels": crops})
        return probs, features

    def detect(self, pixels: np.ndarray, extent: tuple[float, float] = (1.0, 1.0)) -> list[Detection]:
        """Boxes after non-maximum suppression, for one (320, 320, 3) image.

        ``extent`` is the share of the input the picture fills (the rest is padding); boxes
        come back as fractions of the picture, not of the input.
        """
        outs = dict(zip(self._det_names, self.detector.run(None, {"pixels": pixels[None]})))
        found = decode_detections(outs, self._heads)
        if extent == (1.0, 1.0):
            return found
        ex, ey = extent
        return [Detection(d.cls, d.score, (min(1.0, d.box[0] / ex), min(1.0, d.box[1] / ey),
                                            min(1.0, d.box[2] / ex), min(1.0, d.box[3] / ey)))
                for d in found if d.box[0] < ex and d.box[1] < ey]


def decode_detections(outs: dict[str, np.ndarray],
                      heads: list[tuple[int, dict[str, str]]]) -> list[Detection]:
    """Turn NanoDet's grid outputs into boxes (fractions of the image) with NMS per class."""
    cand_boxes: list[np.ndarray] = []
    cand_scores: list[np.ndarray] = []
    cand_cls: list[np.ndarray] = []
    for stride, names in heads:
        scores = outs[names["scores"]][0]  # (cells, 80)
        cells = scores.shape[0]
        best = scores.max(axis=1)
        keep = np.nonzero(best >= _MIN_BOX_SCORE)[0]
        if keep.size == 0:
            continue
        grid = int(round(cells ** 0.5))
        dist = outs[names["boxes"]][0][keep].reshape(-1, 4, _REG_BINS)
        # Expected distance over the softmaxed bins, in pixels of the detector input.
        dist = np.exp(dist - dist.max(axis=2, keepdims=True))
        dist /= dist.sum(axis=2, keepdims=True)
        side = (dist * np.arange(_REG_BINS, dtype=np.float32)).sum(axis=2) * stride
        cx = (keep % grid + 0.5) * stride
        cy = (keep // grid + 0.5) * stride
        boxes = np.stack([cx - side[:, 0], cy - side[:, 1], cx + side[:, 2], cy + side[:, 3]], axis=1)
        cand_boxes.append(np.clip(boxes / DETECTOR_SIZE, 0.0, 1.0))
        cand_scores.append(best[keep])
        cand_cls.append(scores[keep].argmax(axis=1))
    if not cand_boxes:
        return []
    boxes = np.concatenate(cand_boxes)
    scores = np.concatenate(cand_scores)
    classes = np.concatenate(cand_cls)
    found: list[Detection] = []
    for cls in np.unique(classes):
        idx = np.nonzero(classes == cls)[0]
        for i in _nms(boxes[idx], scores[idx]):
            j = idx[i]
            found.append(Detection(int(cls), float(scores[j]), (float(boxes[j][0]), float(boxes[j][1]), float(boxes[j][2]), float(boxes[j][3]))))
    found.sort(key=lambda d: -d.score)
    kept: list[Detection] = []
    for d in found:
        if all(k.cls == d.cls or iou(k.box, d.box) < _CROSS_CLASS_IOU for k in kept):
            kept.append(d)
    return kept


def iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _nms(boxes: np.ndarray, scores: np.ndarray) -> list[int]:
    order = list(np.argsort(-scores))
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    kept: list[int] = []
    while order:
        i = order.pop(0)
        kept.append(int(i))
        if not order:
            break
        rest = np.array(order)
        x0 = np.maximum(boxes[i, 0], boxes[rest, 0])
        y0 = np.maximum(boxes[i, 1], boxes[rest, 1])
        x1 = np.minimum(boxes[i, 2], boxes[rest, 2])
        y1 = np.minimum(boxes[i, 3], boxes[rest, 3])
        inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
        iou = inter / (areas[i] + areas[rest] - inter + 1e-9)
        order = [int(r) for r, o in zip(rest, iou) if o < _NMS_IOU]
    return kept


_lock = threading.Lock()
_models: dict[str, Models] = {}


def get_models(precision: str | None = None) -> Models:
    """The process-wide sessions of ``precision`` (settled by :func:`settle_precision`),
    created on first use (thread-safe)."""
    chosen = settle_precision(precision)
    found = _models.get(chosen)
    if found is None:
        with _lock:
            found = _models.get(chosen)
            if found is None:
                found = _models[chosen] = Models(chosen)
    return found


def models_digest(precision: str | None = None) -> str:
    """Short hash of the model files of ``precision``, for cache identities (changes when a
    model does, and differs between precisions)."""
    h = hashlib.sha256()
    for path in MODEL_FILES[settle_precision(precision)]:
        h.update(_file_sha256(path).encode())
    return h.hexdigest()[:12]


def classifier_digest(precision: str | None = None) -> str:
    """Short hash of the classifier file of ``precision`` alone (the embeddings' identity:
    the detector does not touch them)."""
    return _file_sha256(MODEL_FILES[settle_precision(precision)][0])[:12]


_digests: dict[tuple[Path, int, int], str] = {}


def _file_sha256(path: Path) -> str:
    # Keyed by path and size+mtime so an edited file is re-hashed, a rerun is not.
    st = path.stat()
    key = (path, st.st_size, st.st_mtime_ns)
    cached = _digests.get(key)
    if cached is None:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        cached = _digests[key] = h.hexdigest()
    return cached
