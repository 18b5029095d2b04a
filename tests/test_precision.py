"""The offline tagger's two precisions: int8 and float32 models, chosen by argument,
environment or default, through the library, the CLI and the server, each with its own cache
identity."""

from __future__ import annotations

import base64
import json
import signal
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import default_sigint

import imagetags_df  # noqa: F401 - registers the accessor
from imagetags_df import _constants as C
from imagetags_df._exceptions import ConfigurationError
from imagetags_df.backends import resolve_backend
from imagetags_df.backends.local import LocalBackend, imaging
from imagetags_df.backends.local import embeddings as local_embeddings
from imagetags_df.backends.local.models import MODEL_FILES, get_models, models_digest, settle_precision
from imagetags_df.cli import main as cli_main
from imagetags_df.images import load
from imagetags_df.infra.cache import Cache, analysis_key
from imagetags_df.server.keystore import KeyStore
from imagetags_df.server.testing import free_port, wait_until_serving

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"
#: Samples whose tags the int8 models change (tests/test_precision.py prints the difference
#: when this list is out of date); every other sample gets the same tags in both precisions.
DIFFERENT_IN_INT8: frozenset[str] = frozenset({"rocket.jpg"})


def test_precision_is_settled_from_argument_then_environment_then_default(monkeypatch):
    monkeypatch.delenv(C.ENV_PRECISION, raising=False)
    assert settle_precision() == C.DEFAULT_PRECISION
    monkeypatch.setenv(C.ENV_PRECISION, "int8")
    assert settle_precision() == "int8" and LocalBackend().precision == "int8"
    assert settle_precision("float32") == "float32" and LocalBackend(precision="float32").precision == "float32"
    monkeypatch.setenv(C.ENV_PRECISION, "fp16")
    with pytest.raises(ConfigurationError, match=r"\$IMAGETAGS_PRECISION is 'fp16'; use one of float32, int8"):
        LocalBackend()
    with pytest.raises(ConfigurationError, match=r"precision is 'int4'; use one of float32, int8"):
        LocalBackend(precision="int4")


def test_precision_only_applies_to_the_offline_tagger():
    assert resolve_backend("local", precision="int8").precision == "int8"  # type: ignore[attr-defined]
    with pytest.raises(ConfigurationError, match="precision only applies to backend=\"local\""):
        resolve_backend("imagedescriber", api_key="k" * 32, precision="int8")


def test_int8_models_are_quantized_twins_of_the_float_ones():
    for precision in C.PRECISIONS:
        for path in MODEL_FILES[precision]:
            assert path.exists(), f"{path} is missing from the package"
    # int8 weights: the convolutions take a quarter of the bytes (the classifier keeps its
    # last layer, 1280 x 1000, in float).
    for int8, f32 in zip(MODEL_FILES["int8"], MODEL_FILES["float32"]):
        assert int8.stat().st_size < 0.5 * f32.stat().st_size
    assert models_digest("int8") != models_digest("float32")
    # Same interface: the classifier's probabilities and features, the detector's six heads.
    crops = np.stack([imaging.decode((SAMPLES / name).read_bytes()).classifier_crop
                      for name in ("coffee.jpg", "chelsea_cat.jpg")])
    got = {}
    for precision in C.PRECISIONS:
        probs, features = got[precision] = get_models(precision).classify(crops)
        assert probs.shape == (2, 1000) and features.shape == (2, 1280)
        assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-3)
    # Another computation (not a copy of the float model) with the same answer.
    assert not np.array_equal(got["int8"][0], got["float32"][0])
    assert (got["int8"][0].argmax(axis=1) == got["float32"][0].argmax(axis=1)).all()
    int8, f32 = get_models("int8"), get_models("float32")
    assert [o.name for o in int8.detector.get_outputs()] == [o.name for o in f32.detector.get_outputs()]


def test_same_tags_in_both_precisions_on_the_samples():
    paths = sorted(p for p in SAMPLES.iterdir() if p.suffix.lower() in (".jpg", ".png"))
    images = [load(p) for p in paths]
    f32 = LocalBackend(precision="float32").tag_many(images, "en")
    int8 = LocalBackend(precision="int8").tag_many(images, "en")
    differ = {}
    for path, a, b in zip(paths, f32, int8):
        assert not isinstance(a, BaseException) and not isinstance(b, BaseException)
        if a.tags != b.tags:
            differ[path.name] = (a.tags, b.tags)
    assert set(differ) == DIFFERENT_IN_INT8, differ


def test_embeddings_come_from_the_chosen_precision(tmp_path):
    image = load(SAMPLES / "chelsea_cat.jpg")
    f32, = local_embeddings.embed_images([image], precision="float32")
    int8, = local_embeddings.embed_images([image], precision="int8")
    assert isinstance(f32, np.ndarray) and isinstance(int8, np.ndarray)
    assert not np.array_equal(f32, int8)
    # Close, but not the same vectors: they must never share a cache entry.
    assert float(np.dot(f32, int8) / np.linalg.norm(f32) / np.linalg.norm(int8)) > 0.95
    assert local_embeddings.embedding_identity("int8") != local_embeddings.embedding_identity("float32")


def test_the_accessor_caches_each_precision_under_its_own_identity(tmp_path):
    df = pd.DataFrame({"path": [str(SAMPLES / "coffee.jpg")]})
    out = df.imagetags.generate(backend="local", precision="int8", cache_dir=tmp_path, progress=False)
    assert out.loc[0, "error"] is None and "coffee" in out.loc[0, "tags"]
    digest = load(SAMPLES / "coffee.jpg").sha256
    int8_key = analysis_key(LocalBackend(precision="int8")._analysis_identity(), digest)
    f32_key = analysis_key(LocalBackend(precision="float32")._analysis_identity(), digest)
    cache = Cache(tmp_path)
    try:
        found = cache.get_json([int8_key, f32_key])
    finally:
        cache.close()
    assert int8_key in found and f32_key not in found
    assert LocalBackend(precision="int8").cache_identity() != LocalBackend(precision="float32").cache_identity()


def test_cli_tag_takes_precision(tmp_path):
    out = tmp_path / "out.jsonl"
    runner = CliRunner()
    done = runner.invoke(cli_main, ["tag", str(SAMPLES / "chelsea_cat.jpg"), "--backend", "local",
                                    "--precision", "int8", "--cache-dir", str(tmp_path / "c"),
                                    "--no-progress", "--out", str(out)])
    assert done.exit_code == 0, done.output
    row = json.loads(out.read_text().splitlines()[0])
    assert "cat" in row["tags"]
    digest = load(SAMPLES / "chelsea_cat.jpg").sha256
    key = analysis_key(LocalBackend(precision="int8")._analysis_identity(), digest)
    cache = Cache(tmp_path / "c")
    try:
        assert key in cache.get_json([key])
    finally:
        cache.close()
    bad = runner.invoke(cli_main, ["tag", str(SAMPLES / "chelsea_cat.jpg"), "--backend", "local",
                                   "--precision", "int4"])
    assert bad.exit_code == 2 and "'int4' is not one of 'float32', 'int8'" in bad.output


def test_serve_takes_precision(tmp_path):
    from test_server_cli import imagetags_command

    db = tmp_path / "keys.sqlite3"
    key, _ = KeyStore(db).create("int8", 5)
    port = free_port()
    server = subprocess.Popen([*imagetags_command(), "serve", "--port", str(port), "--db", str(db),
                               "--backend", "local", "--precision", "int8"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=default_sigint)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_serving(server, url)
        import httpx

        image = base64.b64encode((SAMPLES / "coffee.jpg").read_bytes()).decode()
        r = httpx.post(url + C.GENERATE_TAGS_PATH, json={"image": image, "lang": "en"},
                       headers={"authorization": f"Bearer {key}"}, timeout=60)
        body = r.json()
        assert body["code"] == 0 and "coffee" in body["data"]["tags"]["tags"], body
    finally:
        server.send_signal(signal.SIGINT)
        try:
            _, err = server.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            _, err = server.communicate()
    assert "(backend local int8," in err, err
