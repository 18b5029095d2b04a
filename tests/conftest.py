"""Shared fixtures: an isolated user cache, real image files, a real loopback API."""

from __future__ import annotations

import base64
import io
import json
import random
import signal
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from imagetags_df import images
from imagetags_df._types import PreparedImage
from imagetags_df.testing import FakeImageDescriber

API_KEY = "sk-test-0123456789abcdef"


def default_sigint() -> None:
    """``preexec_fn`` for a child a test will Ctrl-C: SIGINT back to its default.

    A process started with SIGINT ignored (``nohup ... &``, many job runners) passes the
    ignore on to its children, and a Python child that starts with SIGINT ignored never
    raises KeyboardInterrupt, so the test's Ctrl-C would do nothing.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path_factory, monkeypatch):
    """No test touches the real user cache or a real key from the developer's shell."""
    monkeypatch.setenv("IMAGETAGS_CACHE_DIR", str(tmp_path_factory.mktemp("usercache")))
    monkeypatch.delenv("IMAGEDESCRIBER_API_KEY", raising=False)
    monkeypatch.delenv("IMAGEDESCRIBER_BASE_URL", raising=False)


def make_photo(path: Path, size=(320, 240), seed: int = 0, fmt: str | None = None, **save) -> Path:
    """A small real image with gradients and noise, so JPEG sizes are photo-like."""
    rnd = random.Random(seed)
    w, h = size
    img = Image.new("RGB", size)
    base = (rnd.randrange(256), rnd.randrange(256), rnd.randrange(256))
    img.putdata([((base[0] + x) % 256, (base[1] + y) % 256, (base[2] + x * y // 64 + rnd.randrange(16)) % 256)
                 for y in range(h) for x in range(w)])
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, format=fmt, **save)
    return path


def prepared(data: bytes, source: str) -> PreparedImage:
    """Image bytes as the engine hands them to a backend (sniffed, hashed, not decoded)."""
    return images.prepare(data, source=source, validate=False)


def tag_paths(paths, api, cache_dir, **kw):
    """``generate`` on a frame of these paths against the fake API: a fast pace, no progress
    bar, no retries unless the test asks (``kw`` wins)."""
    opts = dict(backend="imagedescriber", api_key=API_KEY, base_url=api.url, cache_dir=cache_dir,
                rate_limit="6000/min", progress=False, max_retries=0)
    opts.update(kw)
    return pd.DataFrame({"path": [str(p) for p in paths]}).imagetags.generate(**opts)


@pytest.fixture
def photos(tmp_path) -> list[Path]:
    return [make_photo(tmp_path / f"img_{i}.jpg", seed=i) for i in range(6)]


@pytest.fixture
def api():
    with FakeImageDescriber(keys={API_KEY}) as server:
        yield server


@pytest.fixture
def cache_dir(tmp_path) -> Path:
    return tmp_path / "cache"


def jpeg_bytes(size=(64, 48), color="red") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "JPEG")
    return buf.getvalue()


def request_body(lang: str = "en") -> bytes:
    """A generate_tags request body carrying a small JPEG, as the API document shows it."""
    image = base64.b64encode(jpeg_bytes((32, 24), "teal")).decode()
    return json.dumps({"image": "data:image/jpeg;base64," + image, "lang": lang}).encode()
