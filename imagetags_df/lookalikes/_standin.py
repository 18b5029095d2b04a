"""TEMPORARY stand-in for imagetags_df.learn.embeddings.embedding_matrix (deleted before landing)."""
from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..backends.local.imaging import decode
from ..backends.local.models import CLASSIFIER_FILE
from ..images import read_bytes

_lock = threading.Lock()
_sess: Any = None


def _session() -> Any:
    global _sess
    with _lock:
        if _sess is None:
            import onnx
            import onnxruntime as ort
            m = onnx.load(str(CLASSIFIER_FILE))
            m.graph.output.append(onnx.helper.make_tensor_value_info("/inner/Reshape_output_0", onnx.TensorProto.FLOAT, ["n", 1280]))
            _sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    return _sess


def embedding_matrix(df: pd.DataFrame, col: str = "path", cache_dir: Any = None) -> tuple[np.ndarray, np.ndarray]:
    d = Path(cache_dir or "/tmp/lookalikes_standin_cache")
    d.mkdir(parents=True, exist_ok=True)
    out = np.zeros((len(df), 1280), np.float32)
    valid = np.zeros(len(df), bool)
    for i, v in enumerate(df[col].tolist()):
        try:
            data = read_bytes(v)
        except Exception:
            continue
        h = hashlib.sha256(data).hexdigest()
        f = d / f"{h}.npy"
        if f.exists():
            out[i] = np.load(f)
        else:
            crop = decode(data).classifier_crop
            feat = _session().run(["/inner/Reshape_output_0"], {"pixels": crop[None]})[0][0]
            np.save(f, feat)
            out[i] = feat
        valid[i] = True
    return out, valid
