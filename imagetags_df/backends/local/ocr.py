"""Optional text reading with ``rapidocr_onnxruntime`` (extra ``ocr``; off by default).

Its PP-OCR models ship inside the wheel, so this stays offline. It is slow (0.3-1.2 s per
image on 2 cores), which is why it is opt-in: ``LocalBackend(ocr=True)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..._exceptions import ConfigurationError
from ..._install import pip_install

#: Recognised lines below this confidence are dropped (photos yield noise otherwise).
MIN_LINE_SCORE = 0.6
#: At least this many letters or digits in total before we say the image has text.
MIN_CHARS = 3


def load_reader() -> Any:
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError as exc:
        raise ConfigurationError(
            f"OCR needs the optional dependency rapidocr_onnxruntime: {pip_install('ocr')}") from exc
    return RapidOCR()


def read_text(reader: Any, rgb: np.ndarray) -> str | None:
    """The text found in an RGB array, lines joined by spaces, or None when there is none."""
    result, _elapsed = reader(rgb[:, :, ::-1].copy())  # RapidOCR expects OpenCV's BGR order
    if not result:
        return None
    lines = [str(text).strip() for _box, text, score in result if float(score) >= MIN_LINE_SCORE]
    text = " ".join(line for line in lines if line)
    if sum(ch.isalnum() for ch in text) < MIN_CHARS:
        return None
    return text
