"""Embeddings: the classifier's pooled features, from the tagger's own pass and alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from imagetags_df import images
from imagetags_df.backends.local import embeddings
from imagetags_df.backends.local.models import get_models
from imagetags_df.infra.cache import Cache, embedding_key

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"
PHOTOS = [SAMPLES / n for n in ("chelsea_cat.jpg", "coffee.jpg", "rocket.jpg", "coins.png")]


def test_the_classifier_gives_features_from_the_same_pass() -> None:
    crops = np.stack([_crop(p) for p in PHOTOS[:3]])
    probs, features = get_models().classify(crops)
    assert probs.shape == (3, 1000) and features.shape == (3, embeddings.DIM)
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-4)
    # ReLU6 before the pooling: averages of values in [0, 6], and different per picture.
    assert features.min() >= 0.0 and features.max() <= 6.0
    assert np.abs(features[0] - features[1]).max() > 0.5


def _crop(path: Path) -> np.ndarray:
    from imagetags_df.backends.local import imaging

    return imaging.decode_classifier_crop(path.read_bytes())


def test_tagging_offline_stores_each_embedding(tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    out = pd.DataFrame({"path": [str(p) for p in PHOTOS]}).imagetags.generate(
        backend="local", cache_dir=cache_dir, progress=False)
    assert out["error"].isna().all()
    cache = Cache(cache_dir)
    identity = embeddings.embedding_identity()
    keys = {p: embedding_key(identity, images.sha256(p.read_bytes())) for p in PHOTOS}
    stored = cache.get_bytes(list(keys.values()))
    cache.close()
    assert set(stored) == set(keys.values())
    alone = embeddings.embed_images([images.prepare(p.read_bytes(), source=str(p), validate=False)
                                     for p in PHOTOS])
    for p, vector in zip(PHOTOS, alone):
        kept = embeddings.from_bytes(stored[keys[p]])
        assert isinstance(vector, np.ndarray) and kept is not None
        # float16 storage: the same vector within half-precision rounding.
        assert np.abs(kept - vector).max() <= 6.0 * 2 ** -10


def test_float16_round_trip_and_damaged_bytes() -> None:
    v = np.linspace(0, 6, embeddings.DIM, dtype=np.float32)
    back = embeddings.from_bytes(embeddings.to_bytes(v))
    assert back is not None and back.dtype == np.float32 and np.abs(back - v).max() < 4e-3
    assert embeddings.from_bytes(b"\0" * 10) is None


def test_a_converted_image_keeps_no_embedding_from_tagging(tmp_path: Path) -> None:
    """The engine hands the tagger a converted copy of a BMP: its embedding would not be the
    original's, so tagging keeps none and embed() computes it from the file itself."""
    from PIL import Image

    from imagetags_df.learn import embed

    bmp = tmp_path / "coffee.bmp"
    Image.open(SAMPLES / "coffee.jpg").save(bmp)
    cache_dir = tmp_path / "cache"
    df = pd.DataFrame({"path": [str(bmp)]})
    assert df.imagetags.generate(backend="local", cache_dir=cache_dir, progress=False)["error"].isna().all()
    key = embedding_key(embeddings.embedding_identity(), images.sha256(bmp.read_bytes()))
    cache = Cache(cache_dir)
    assert cache.get_bytes([key]) == {}
    cache.close()
    out = embed(df, cache_dir=cache_dir, progress=False)
    crop = np.stack([_crop(bmp)])
    want = get_models().classify(crop)[1][0]
    assert np.abs(out.loc[0, "embedding"] - want).max() <= 6.0 * 2 ** -10
