"""What the offline tagger's speed costs in tag quality: cheaper variants of its two models.

    pip install onnx          # development only: builds the variants in memory
    python bench/tagger_tradeoffs.py [--n 240] [--only NAME ...]

A target of 25 images/s on 2 cores is out of reach: the shipped models (EfficientNet-Lite0 at 224 px,
NanoDet-m at 320 px with its three heads) need more CPU than that allows on a slow core, and
the tagger's own work (decode, compose) is a small part of each image's time. This script
shows where the time goes and what each known way of cutting it does to the tags:

* ``ms/img`` of each model alone (one thread, warmed), and the models-only ceiling
  ``cores x 1000 / (classify + detect)``: no pipeline can beat it with those models;
* images/s of the real tagger (``LocalBackend.tag_many``) with the variant swapped in;
* the English tags of every benchmark photo against the shipped models: lists identical,
  tags lost and tags gained (with the commonest ones), so a faster variant that drops
  correct tags or adds wrong ones shows it.

Variants: the detector at 288 and 256 px; without its stride-8 head (small objects); the
classifier at 192 px; both models quantised to int8 (static, per-channel QDQ, calibrated on
the sample photos). Every variant is built from the shipped ONNX files into a temporary
directory; nothing is downloaded and nothing in the package changes.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import numpy as np
from local_tagger import build_images

from imagetags_df.backends.local import imaging, models

SHIPPED_CLS, SHIPPED_DET = models.CLASSIFIER_FILE, models.DETECTOR_FILE


@dataclass
class Variant:
    classifier: Path = SHIPPED_CLS
    detector: Path = SHIPPED_DET
    cls_size: int = models.CLASSIFIER_SIZE
    det_size: int = models.DETECTOR_SIZE
    strides: tuple[int, ...] = models._STRIDES  # the detector heads the variant keeps


def resized(src: Path, side: int, out: Path, drop_finest: bool = False) -> Path:
    """``src`` with its input declared side x side, optionally without its finest head (the
    one with the most grid cells: stride 8) and the layers that only feed it. Both graphs are fully
    convolutional: their reshapes use -1 and their resizes use scales."""
    import onnx

    from tools.build_models import forget_shapes

    m = onnx.load(str(src))
    dims = m.graph.input[0].type.tensor_type.shape.dim
    dims[1].dim_value = dims[2].dim_value = side
    forget_shapes(m.graph)
    if drop_finest:
        import onnxruntime as ort

        cells = {o.name: o.shape[1] for o in ort.InferenceSession(str(src)).get_outputs()}
        keep = [o for o in m.graph.output if cells[o.name] != max(cells.values())]
        del m.graph.output[:]
        m.graph.output.extend(keep)
        needed = {o.name for o in keep}
        nodes = []
        for node in reversed(m.graph.node):
            if any(o in needed for o in node.output):
                nodes.append(node)
                needed.update(node.input)
        del m.graph.node[:]
        m.graph.node.extend(reversed(nodes))
        inits = [i for i in m.graph.initializer if i.name in needed]
        del m.graph.initializer[:]
        m.graph.initializer.extend(inits)
    onnx.save(m, str(out))
    return out


def quantized(src: Path, out: Path, inputs: list[np.ndarray]) -> Path:
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._it = iter(inputs)

        def get_next(self) -> dict[str, np.ndarray] | None:
            x = next(self._it, None)
            return None if x is None else {"pixels": x[None]}

    prepared = out.with_suffix(".pre.onnx")
    quant_pre_process(str(src), str(prepared), skip_symbolic_shape=True)
    quantize_static(str(prepared), str(out), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    return out


def variants(tmp: Path) -> list[tuple[str, Callable[[], Variant]]]:
    """Each variant's name and how to build it (built only when it runs)."""

    def sample_inputs() -> list[imaging.Decoded]:
        use(Variant())  # calibrate on the inputs the shipped models see
        samples = [p for p in sorted((ROOT / "data" / "samples").iterdir()) if p.suffix in (".jpg", ".png")]
        return [imaging.decode(p.read_bytes()) for p in samples]

    def int8() -> Variant:
        decoded = sample_inputs()
        return Variant(classifier=quantized(SHIPPED_CLS, tmp / "c8.onnx", [d.classifier_crop for d in decoded]),
                       detector=quantized(SHIPPED_DET, tmp / "d8.onnx", [d.detector_input for d in decoded]))

    return [
        ("shipped (cls 224, det 320)", Variant),
        ("det 288", lambda: Variant(detector=resized(SHIPPED_DET, 288, tmp / "d288.onnx"), det_size=288)),
        ("det 256", lambda: Variant(detector=resized(SHIPPED_DET, 256, tmp / "d256.onnx"), det_size=256)),
        ("det 320, no stride-8 head",
         lambda: Variant(detector=resized(SHIPPED_DET, 320, tmp / "d320s.onnx", drop_finest=True),
                         strides=(16, 32))),
        ("det 288, no stride-8 head",
         lambda: Variant(detector=resized(SHIPPED_DET, 288, tmp / "d288s.onnx", drop_finest=True), det_size=288,
                         strides=(16, 32))),
        ("cls 192", lambda: Variant(classifier=resized(SHIPPED_CLS, 192, tmp / "c192.onnx"), cls_size=192)),
        ("int8 (both models)", int8),
    ]


def use(v: Variant) -> None:
    """Point the tagger at a variant. The sizes are module constants read at call time, so
    this is enough for a benchmark; the package itself never changes them."""
    models.CLASSIFIER_FILE, models.DETECTOR_FILE = v.classifier, v.detector
    models.DETECTOR_SIZE = imaging.DETECTOR_SIZE = v.det_size
    models._STRIDES = v.strides
    imaging.CLASSIFIER_SIZE = v.cls_size
    imaging.CLASSIFIER_RESIZE = round(v.cls_size * 256 / 224)
    models._models = None  # the next get_models() opens the variant's sessions


def model_ms(v: Variant, runs: int = 30) -> tuple[float, float]:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    out = []
    for path, shape in ((v.classifier, (16, v.cls_size, v.cls_size, 3)), (v.detector, (1, v.det_size, v.det_size, 3))):
        sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        x = np.random.default_rng(0).integers(0, 255, shape, dtype=np.uint8)
        for _ in range(3):
            sess.run(None, {"pixels": x})
        times = []
        for _ in range(runs if shape[0] == 1 else max(3, runs // 8)):
            t0 = time.perf_counter()
            sess.run(None, {"pixels": x})
            times.append((time.perf_counter() - t0) / shape[0])
        out.append(1000 * float(np.median(times)))
    return out[0], out[1]


def tag_all(images, batch: int = 16) -> tuple[float, dict[str, list[str]]]:
    from imagetags_df.backends.local import LocalBackend

    backend = LocalBackend()  # a fresh one: the backend remembers analyses by content
    backend.tag_many(images[:2], "en")  # sessions opened outside the timing
    backend = LocalBackend()
    tags: dict[str, list[str]] = {}
    t0 = time.perf_counter()
    for i in range(0, len(images), batch):
        for img, res in zip(images[i:i + batch], backend.tag_many(images[i:i + batch], "en")):
            if isinstance(res, BaseException):
                raise res
            tags[img.source] = res.tags
    return len(images) / (time.perf_counter() - t0), tags


def diff(ref: dict[str, list[str]], got: dict[str, list[str]]) -> str:
    lost, gained = collections.Counter(), collections.Counter()
    same = 0
    for key, a in ref.items():
        b = got[key]
        same += a == b
        lost.update(set(a) - set(b))
        gained.update(set(b) - set(a))
    def top(c):
        return ", ".join(f"{t} {n}" for t, n in c.most_common(4)) or "-"
    return (f"identical {same}/{len(ref)}; lost {sum(lost.values())} ({top(lost)}); "
            f"gained {sum(gained.values())} ({top(gained)})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=240)
    ap.add_argument("--only", nargs="*", help="variant names to run (prefix match); shipped always runs")
    args = ap.parse_args()
    try:
        import onnx  # noqa: F401
    except ImportError:
        sys.exit("this benchmark builds model variants with the onnx package: pip install onnx")

    import onnxruntime as ort

    ort.set_default_logger_severity(3)  # the quantiser's sessions warn about every unused constant
    warnings.filterwarnings("ignore", category=RuntimeWarning)  # and numpy, about empty ranges
    cores = os.cpu_count() or 1
    images = build_images(args.n)
    print(f"{len(images)} JPEGs from data/samples; {cores} cores; load average {os.getloadavg()[0]:.2f}")
    print(f"{'variant':28s} {'classify':>9s} {'detect':>8s} {'models-only':>12s} {'tagger':>9s}   tags vs shipped (en)")
    print(f"{'':28s} {'ms/img':>9s} {'ms/img':>8s} {'ceiling/s':>12s} {'images/s':>9s}")
    with tempfile.TemporaryDirectory() as tmp:
        ref: dict[str, list[str]] | None = None
        for name, build in variants(Path(tmp)):
            if ref is not None and args.only and not any(name.startswith(o) for o in args.only):
                continue
            v = build()
            use(v)
            cls_ms, det_ms = model_ms(v)
            rate, tags = tag_all(images)
            if ref is None:
                ref, verdict = tags, "(reference)"
            else:
                verdict = diff(ref, tags)
            print(f"{name:28s} {cls_ms:9.1f} {det_ms:8.1f} {cores * 1000 / (cls_ms + det_ms):12.1f} "
                  f"{rate:9.1f}   {verdict}", flush=True)
    use(Variant())


if __name__ == "__main__":
    main()
