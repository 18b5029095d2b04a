"""What an image may cost the server to decode: judged from its header, before any pixel.

Budgets here are a few MiB so that small images reach them; the default (512 MiB)
and the 10000x10000 WebP of the bug report are measured by bench/server_load.py.
"""

from __future__ import annotations

import base64
import io

import httpx
import pytest
from PIL import Image, ImageDraw

from imagetags_df import _constants as C
from imagetags_df.server import create_app
from imagetags_df.server.keystore import KeyStore
from imagetags_df.server.testing import ServerThread, StubBackend
from imagetags_df.server.validation import DECODE_BYTES_PER_PIXEL, check_decode_cost

MIB = 2**20


def encode(fmt: str, size: tuple[int, int], **options) -> bytes:
    img = Image.new("RGB", size, "white")
    ImageDraw.Draw(img).line([(0, 0), size], fill="red", width=3)
    buf = io.BytesIO()
    img.save(buf, fmt, **options)
    return buf.getvalue()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    store = KeyStore(tmp_path_factory.mktemp("decode") / "keys.sqlite3")
    key, info = store.create("big", 100)
    with ServerThread(create_app(store, backend=StubBackend(), decode_budget=16 * MIB)) as thread:
        yield thread, key, store, info


def post(server, data: bytes) -> dict:
    thread, key, _, _ = server
    return httpx.post(thread.url + C.GENERATE_TAGS_PATH, timeout=30,
                      json={"image": "data:image/jpeg;base64," + base64.b64encode(data).decode()},
                      headers={"authorization": f"Bearer {key}"}).json()


@pytest.mark.parametrize("fmt, options", [("WEBP", {}), ("PNG", {}), ("JPEG", {"progressive": True})],
                         ids=["webp", "png", "progressive-jpeg"])
def test_pixels_over_the_decode_budget_get_2004_with_what_would_fit(server, fmt, options):
    _, _, store, info = server
    before = store.get(info.id).credits
    data = encode(fmt, (2000, 2000), **options)  # 4 MP: 36 to 72 MiB to decode, over 16 MiB
    assert len(data) < 200_000  # small files: only the pixel count is over
    body = post(server, data)
    assert body["code"] == 2004, body
    assert "2000x2000 pixels" in body["message"] and "16 MiB per image" in body["message"]
    assert "megapixels" in body["message"]
    assert store.get(info.id).credits == before


@pytest.mark.parametrize("fmt, options", [("WEBP", {}), ("PNG", {}), ("JPEG", {})],
                         ids=["webp", "png", "baseline-jpeg"])
def test_pixels_within_the_budget_are_tagged(server, fmt, options):
    assert post(server, encode(fmt, (800, 600), **options))["code"] == 0


def test_a_baseline_jpeg_is_decoded_at_an_eighth_and_costs_little_per_pixel(server):
    # The same 4 MP as above, as a baseline JPEG: within 16 MiB.
    assert post(server, encode("JPEG", (2000, 2000)))["code"] == 0


def test_the_estimate_reads_the_header_only():
    header_only = encode("PNG", (6000, 6000))[:200]  # no pixel data at all
    with pytest.raises(Exception) as refused:
        check_decode_cost(header_only, "PNG", 512 * MIB)
    assert getattr(refused.value, "code", None) == 2004
    assert f"{6000 * 6000 * DECODE_BYTES_PER_PIXEL['PNG'] / MIB:,.0f} MiB" in str(refused.value)


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "JPEG"])
def test_the_offline_taggers_decode_keeps_only_what_the_models_need(fmt):
    from imagetags_df.backends.local import imaging
    from imagetags_df.backends.local.models import DETECTOR_SIZE

    im = imaging.open_image(encode(fmt, (4000, 3000)))
    assert DETECTOR_SIZE <= min(im.size) < 2 * DETECTOR_SIZE  # not 4000x3000 pixels held through the tagger
    assert im.size[0] * 3 == im.size[1] * 4 or abs(im.size[0] / im.size[1] - 4 / 3) < 0.01
