"""Decoding an image once into everything the tagger looks at.

One decode per image feeds the classifier crop, the detector input and the pixel statistics
(colours, light, black-and-white). JPEGs are decoded at reduced size with Pillow's ``draft``
(the decoder skips the DCT work for pixels we would throw away), which is most of the speed
gain over a plain full decode.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from PIL import Image, ImageOps

from .faces import FACE_SIDE
from .models import CLASSIFIER_RESIZE, CLASSIFIER_SIZE, DETECTOR_SIZE

#: Side of the thumbnail the colour and light statistics are computed on.
STATS_SIZE = 48
#: The detector input is square. Up to this aspect ratio the picture is stretched to fill
#: it (as the Human library does: NanoDet-m scores drop when objects shrink); beyond it the
#: short side is padded first, because stretching a 3:1 panorama squeezes people until
#: the detector no longer sees them (and it reads the rest as "surfboard").
DETECTOR_MAX_STRETCH = 1.5
#: Padding colour: the mid-gray detectors are usually trained with for letterboxing.
PAD_RGB = (114, 114, 114)


@dataclass
class Decoded:
    classifier_crop: np.ndarray  # (224, 224, 3) uint8
    detector_input: np.ndarray  # (320, 320, 3) uint8, stretched (see DETECTOR_MAX_STRETCH)
    #: Share of the detector input's width and height that holds the picture (1.0 unless padded).
    detector_extent: tuple[float, float]
    stats_pixels: np.ndarray  # (48, 48, 3) uint8
    width: int  # original size (after EXIF rotation)
    height: int
    grayscale_source: bool  # the file itself has no colour channels
    #: The decoded picture (reduced by draft/reduce): kept so the face finders' input is made
    #: only for the pictures they look at, a third of them (see backend._analyse_share).
    rgb: Image.Image | None = None

    @cached_property
    def face_gray(self) -> np.ndarray | None:
        """uint8 grayscale, longest side <= FACE_SIDE (made on first use)."""
        if self.rgb is None:
            return None
        rgb = self.rgb
        w, h = rgb.size
        scale = min(1.0, FACE_SIDE / max(w, h))
        gray = rgb.convert("L")
        if scale < 1.0:
            gray = gray.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.BICUBIC,
                               reducing_gap=2.0)
        return np.asarray(gray)


def open_image(data: bytes) -> Image.Image:
    """Open and fully decode ``data`` at the smallest size the models need.

    Raises whatever Pillow raises for bad data; the backend turns that into
    :class:`~imagetags_df.CorruptImageError`.
    """
    im: Image.Image = Image.open(io.BytesIO(data))
    if im.format == "JPEG":
        # draft keeps both sides >= the requested size, so the detector never upsamples a
        # big photo and the classifier's 256 short side is always available.
        im.draft("RGB", (DETECTOR_SIZE, DETECTOR_SIZE))
    im.load()
    factor = min(im.size) // DETECTOR_SIZE
    if factor >= 2 and im.mode in _REDUCIBLE:
        # PNG and WebP cannot be decoded at a reduced size; shrinking by a whole factor
        # right away (as draft does for a JPEG) runs the conversions and resizes below
        # on the small copy, and lets the full-size pixels go at once.
        im = im.reduce(factor)
    return im


#: Modes Pillow's ``Image.reduce`` takes.
_REDUCIBLE = frozenset({"L", "LA", "RGB", "RGBA", "I", "F", "La", "RGBa", "RGBX", "CMYK"})


def to_rgb(im: Image.Image) -> tuple[Image.Image, bool]:
    """``im`` as RGB (EXIF-rotated in place; transparency flattened on white), and whether
    the source was single-channel."""
    gray = im.mode in ("1", "L", "LA", "F") or im.mode.startswith("I")
    # In place: every caller owns the freshly opened image, and the copy exif_transpose
    # makes otherwise (even when there is nothing to turn) cost 0.8 ms per photo.
    ImageOps.exif_transpose(im, in_place=True)
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        bg = Image.new("RGB", rgba.size, (255, 255, 255))
        bg.paste(rgba, mask=rgba.getchannel("A"))
        return bg, gray
    if im.mode != "RGB":
        if im.mode.startswith(("I", "F")):
            im = _to_8bit(im)
        im = im.convert("RGB")
    return im, gray


def _to_8bit(im: Image.Image) -> Image.Image:
    """16-bit and float grayscale to 8 bits by scaling, not clipping (Pillow's convert("L")
    clips, which turns most 16-bit scans white)."""
    arr = np.asarray(im, dtype=np.float32)
    top = 65535.0 if im.mode.startswith("I;16") else float(arr.max()) if arr.size else 1.0
    if top <= 255.0:
        top = 255.0
    return Image.fromarray(np.clip(arr * (255.0 / top), 0, 255).astype(np.uint8), mode="L")


def prepare(im: Image.Image) -> Decoded:
    """The three model/statistics inputs from one decoded image."""
    rgb, gray = to_rgb(im)
    w, h = rgb.size
    cls = classifier_crop_of(rgb)
    det, extent = detector_input_for(rgb)
    stats = rgb.resize((STATS_SIZE, STATS_SIZE), Image.Resampling.BOX, reducing_gap=2.0)
    return Decoded(classifier_crop=np.asarray(cls), detector_input=np.asarray(det), detector_extent=extent,
                   stats_pixels=np.asarray(stats), width=w, height=h, grayscale_source=gray, rgb=rgb)


def classifier_crop_of(rgb: Image.Image) -> Image.Image:
    """The classifier's input: the short side resized to 256 and the central 224 square,
    done as one resampling of the matching source box (same pixels, half the work)."""
    w, h = rgb.size
    crop = min(w, h) * CLASSIFIER_SIZE / CLASSIFIER_RESIZE
    left, top = (w - crop) / 2, (h - crop) / 2
    return rgb.resize((CLASSIFIER_SIZE, CLASSIFIER_SIZE), Image.Resampling.BILINEAR,
                      box=(left, top, left + crop, top + crop), reducing_gap=2.0)


def decode_classifier_crop(data: bytes) -> np.ndarray:
    """Only the classifier's (224, 224, 3) input, exactly as :func:`decode` makes it."""
    rgb, _gray = to_rgb(open_image(data))
    return np.asarray(classifier_crop_of(rgb))


def detector_input_for(rgb: Image.Image) -> tuple[Image.Image, tuple[float, float]]:
    w, h = rgb.size
    if max(w, h) <= DETECTOR_MAX_STRETCH * min(w, h):
        return rgb.resize((DETECTOR_SIZE, DETECTOR_SIZE), Image.Resampling.BILINEAR, reducing_gap=2.0), (1.0, 1.0)
    # Pad the short side (bottom or right) just enough to bring the ratio to the limit.
    if w > h:
        cw, ch = DETECTOR_SIZE, round(DETECTOR_SIZE * DETECTOR_MAX_STRETCH * h / w)
    else:
        cw, ch = round(DETECTOR_SIZE * DETECTOR_MAX_STRETCH * w / h), DETECTOR_SIZE
    canvas = Image.new("RGB", (DETECTOR_SIZE, DETECTOR_SIZE), PAD_RGB)
    canvas.paste(rgb.resize((cw, ch), Image.Resampling.BILINEAR, reducing_gap=2.0), (0, 0))
    return canvas, (cw / DETECTOR_SIZE, ch / DETECTOR_SIZE)


def decode(data: bytes) -> Decoded:
    return prepare(open_image(data))


#: OCR reads small print: it gets the picture at up to this longest side, not the
#: model inputs (a 320x320 stretch makes text unreadable).
OCR_MAX_SIDE = 1600


def ocr_pixels(data: bytes) -> np.ndarray:
    """RGB pixels for text reading, at most OCR_MAX_SIDE on the longest side."""
    im = Image.open(io.BytesIO(data))
    if im.format == "JPEG":
        im.draft("RGB", (OCR_MAX_SIDE, OCR_MAX_SIDE))
    rgb, _gray = to_rgb(im)
    if max(rgb.size) > OCR_MAX_SIDE:
        rgb.thumbnail((OCR_MAX_SIDE, OCR_MAX_SIDE), Image.Resampling.BILINEAR)
    return np.asarray(rgb)
