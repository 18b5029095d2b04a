"""Optional OCR of the offline tagger (extra ``ocr``): off by default, offline, clear error when missing."""

from __future__ import annotations

import builtins
import io
import re
import socket

import pytest
from conftest import prepared
from PIL import Image, ImageDraw, ImageFont

from imagetags_df._exceptions import ConfigurationError
from imagetags_df._install import pip_install
from imagetags_df._types import PreparedImage
from imagetags_df.backends.local import LocalBackend
from imagetags_df.backends.local.vocab import get_vocabulary


def _sign() -> PreparedImage:
    im = Image.new("RGB", (640, 240), (245, 240, 230))
    draw = ImageDraw.Draw(im)
    font = ImageFont.load_default(size=48)  # Pillow >= 10.1, as pyproject requires
    draw.text((30, 40), "OPEN DAILY", fill=(20, 20, 20), font=font)
    draw.text((30, 130), "Coffee 9am", fill=(20, 20, 20), font=font)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    data = buf.getvalue()
    return prepared(data, "sign.png")


def test_ocr_is_off_by_default() -> None:
    backend = LocalBackend()
    res = backend.tag(_sign(), "en")
    assert "text" not in res.tags and "OPEN" not in res.description
    assert backend.cache_identity().endswith("ocr=0")


def test_missing_extra_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def fake_import(name: str, *args: object, **kwargs: object):
        if name.startswith("rapidocr_onnxruntime"):
            raise ImportError("No module named 'rapidocr_onnxruntime'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    # The hint is the pip command for this copy as installed: from a checkout, pip install -e ".[ocr]".
    with pytest.raises(ConfigurationError, match=re.escape(pip_install("ocr"))):
        LocalBackend(ocr=True)


def test_ocr_adds_text_tag_and_quoted_snippet(monkeypatch: pytest.MonkeyPatch) -> None:
    # CI installs ".[all,test]", which includes the ocr extra: this must run, not skip.
    backend = LocalBackend(ocr=True)  # loads its models from the wheel: no network needed

    def refuse(*_a: object, **_k: object) -> None:
        raise AssertionError("OCR tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    assert backend.cache_identity().endswith("ocr=1")
    for lang in ("en", "ja"):
        res = backend.tag(_sign(), lang)
        assert get_vocabulary().word("text", lang) in res.tags
        assert "OPEN DAILY" in res.description.upper()
