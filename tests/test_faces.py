"""The offline tagger's face finders (backends/local/faces.py) on real photos."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from conftest import prepared
from PIL import Image

from imagetags_df._constants import LANGUAGES
from imagetags_df.backends.local import LocalBackend, faces, imaging
from imagetags_df.backends.local.models import get_models
from imagetags_df.backends.local.tags import DET_MIN, PERSON
from imagetags_df.backends.local.vocab import get_vocabulary

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"


def _jpeg(path: Path, box: tuple[int, int, int, int] | None = None) -> bytes:
    im = Image.open(path).convert("RGB")
    if box is not None:
        im = im.crop(box)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=92)
    return buf.getvalue()


def _gray(data: bytes) -> np.ndarray:
    gray = imaging.decode(data).face_gray
    assert gray is not None
    return gray


def test_blazeface_boxes_the_astronauts_face() -> None:
    """The decoding (anchor order, centre offsets, sizes) puts the box on the face: the
    astronaut's face spans about x .35-.54, y .15-.35 of the photo (measured by eye)."""
    found = faces.blazeface().find(np.repeat(_gray(_jpeg(SAMPLES / "astronaut.jpg"))[:, :, None], 3, axis=2))
    assert len(found) == 1
    score, (x0, y0, x1, y1) = found[0]
    assert score >= faces.BLAZEFACE_MIN_SCORE
    assert 0.33 < (x0 + x1) / 2 < 0.56 and 0.13 < (y0 + y1) / 2 < 0.37
    assert 0.12 < x1 - x0 < 0.3


#: The cameraman's head and shoulders: his face in profile behind the camera fills the frame.
CAMERAMAN_CLOSE_UP = (98, 71, 282, 255)


def test_a_face_only_blazeface_finds_makes_a_person() -> None:
    """A close-up of the cameraman: NanoDet-m boxes no one, the Haar cascade finds no face
    (he is in profile), BlazeFace does, so every language says "person"."""
    data = _jpeg(SAMPLES / "cameraman.jpg", CAMERAMAN_CLOSE_UP)
    decoded = imaging.decode(data)
    assert decoded.face_gray is not None
    boxed = get_models().detect(decoded.detector_input, decoded.detector_extent)
    assert not [d for d in boxed if d.cls == PERSON and d.score >= DET_MIN[PERSON]]
    assert faces.haar_faces(decoded.face_gray) == []
    found = faces.find_faces(decoded.face_gray)
    assert len(found) == 1
    x0, y0, x1, y1 = found[0]
    assert x1 - x0 > 0.25  # a face that fills the frame
    img = prepared(data, "cameraman.jpg")
    vocab = get_vocabulary()
    backend = LocalBackend()
    for lang in LANGUAGES:
        assert vocab.word("person", lang) in backend.tag(img, lang).tags, lang


@pytest.mark.parametrize("name", ["coffee.jpg", "chelsea_cat.jpg", "flower.jpg", "coins.png", "clock_motion.jpg",
                                  "motorcycle.jpg", "rocket.jpg", "hubble_deep_field.jpg", "china_temple.jpg",
                                  "brick.jpg", "grass.jpg", "retina.jpg", "text.png"])
def test_no_face_on_photos_without_people(name: str) -> None:
    """No face on the samples without people, whole or as a close-up of their centre (a cat's
    face, coins with heads on them, a blurred round clock: where false faces would be)."""
    path = SAMPLES / name
    w, h = Image.open(path).size
    side = int(0.4 * min(w, h))
    centre = ((w - side) // 2, (h - side) // 2, (w + side) // 2, (h + side) // 2)
    for data in (path.read_bytes(), _jpeg(path, centre)):
        assert faces.find_faces(_gray(data)) == []


def test_one_face_found_by_both_finders_counts_once() -> None:
    """Grace Hopper's portrait: both finders see her face; it is one face, not two."""
    gray = _gray(_jpeg(SAMPLES / "grace_hopper.jpg"))
    assert len(faces.haar_faces(gray)) == 1 and len(faces.blazeface_faces(gray)) == 1
    assert len(faces.find_faces(gray)) == 1


def test_tiny_pictures_have_no_faces() -> None:
    assert faces.find_faces(np.zeros((8, 8), np.uint8)) == []
    assert faces.find_faces(np.zeros((0, 5), np.uint8)) == []
