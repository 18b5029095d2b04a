"""Faces, for pictures the object detector finds no person in.

NanoDet-m finds people by their bodies; a face that fills the frame (a portrait crop, a
close-up) often has no body to find. OpenCV's Haar cascade ``haarcascade_frontalface_alt2``
(Rainer Lienhart's tree-based frontal face detector, shipped in ``models/`` with its licence
header, the Intel open-source licence) finds them. On the 162 calibration photos and the 16
samples, at the settings below, it found a face on 6 of the 15 pictures with people (every
one a face that fills the frame or a group NanoDet-m boxed no one in) and on none of the
others, for 5 ms of CPU per picture. Looser settings (the ``default`` cascade, or a
480-pixel picture) put faces on flowers, leaves and coins; faces down to 15 % of the short
side found two more pictures (both with people NanoDet-m already boxes) for 7 ms, and the
first settings tried (320 pixels, steps of 1.1, 5 neighbours) the same for 17 ms.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

import numpy as np

CASCADE_FILE = Path(__file__).resolve().parent / "models" / "haarcascade_frontalface_alt2.xml"
#: Longest side of the grayscale picture the cascade looks at.
FACE_SIDE = 240
#: A face must be at least this share of the picture's short side: the faces worth a
#: "person" tag are the ones a viewer sees, and smaller windows are where false faces are.
MIN_FACE_SHARE = 0.20
SCALE_STEP = 1.2
#: The cascade's own window (20 x 20 pixels): no smaller face can be found.
WINDOW = 20
MIN_NEIGHBORS = 3

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


def find_faces(gray: np.ndarray) -> list[tuple[float, float, float, float]]:
    """Frontal faces in a uint8 grayscale picture, as (x0, y0, x1, y1) fractions."""
    h, w = gray.shape[:2]
    if min(h, w) < WINDOW:
        return []
    side = max(WINDOW, int(min(h, w) * MIN_FACE_SHARE))
    found = _cascade().detectMultiScale(np.ascontiguousarray(gray), scaleFactor=SCALE_STEP,
                                        minNeighbors=MIN_NEIGHBORS, minSize=(side, side))
    return [(x / w, y / h, (x + fw) / w, (y + fh) / h) for x, y, fw, fh in (tuple(map(int, f)) for f in found)]


_digest: str | None = None


def cascade_digest() -> str:
    """Short hash of the cascade file (part of the backend's cache identity)."""
    global _digest
    if _digest is None:
        _digest = hashlib.sha256(CASCADE_FILE.read_bytes()).hexdigest()[:12]
    return _digest
