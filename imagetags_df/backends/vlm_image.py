"""Images as vision-language models want them: downscaled to a long side, sent as JPEG.

Vision models bill and think by pixels: a 12-megapixel photo costs several times
the tokens of the same picture at 1024 px and tags no better. We shrink before
sending and count what that saved, in bytes and in estimated image tokens.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field

from PIL import Image, ImageOps

from .._exceptions import CorruptImageError
from .._types import PreparedImage

DEFAULT_MAX_SIDE = 1024
JPEG_QUALITY = 85


def estimate_image_tokens(width: int, height: int) -> int:
    """Input tokens of one image by OpenAI's documented tile formula (GPT-4o, ``detail: high``).

    Fit within 2048x2048, scale the short side down to 768, count 512-px tiles:
    85 + 170 per tile. Other models count differently; this is a yardstick for
    comparing sizes, not a bill.

    >>> estimate_image_tokens(4000, 3000), estimate_image_tokens(1024, 768), estimate_image_tokens(512, 512)
    (765, 765, 255)
    """
    if width <= 0 or height <= 0:
        return 0
    w, h = float(width), float(height)
    if max(w, h) > 2048:
        s = 2048 / max(w, h)
        w, h = w * s, h * s
    if min(w, h) > 768:
        s = 768 / min(w, h)
        w, h = w * s, h * s
    tiles = math.ceil(w / 512) * math.ceil(h / 512)
    return 85 + 170 * tiles


@dataclass
class ShrinkStats:
    """What downscaling saved over a run (the benchmark and the log print these)."""

    images: int = 0
    bytes_before: int = 0
    bytes_after: int = 0
    tokens_before: int = 0
    tokens_after: int = 0
    _seen: set[str] = field(default_factory=set, repr=False)

    def add(self, image: PreparedImage, data: bytes, width: int, height: int) -> None:
        if image.sha256 in self._seen:  # the re-ask sends the same image again: count it once
            return
        self._seen.add(image.sha256)
        self.images += 1
        self.bytes_before += len(image.data)
        self.bytes_after += len(data)
        self.tokens_before += estimate_image_tokens(image.width, image.height)
        self.tokens_after += estimate_image_tokens(width, height)


def shrink(image: PreparedImage, max_side: int | None) -> tuple[bytes, str, int, int]:
    """``(data, mime, width, height)`` to send: the image itself when it is a JPEG no
    longer than ``max_side``, else a JPEG downscaled to it (transparency on white)."""
    w, h = image.width, image.height
    if max_side is None or (image.mime == "image/jpeg" and max(w, h) <= max_side):
        return image.data, image.mime, w, h
    try:
        img = image.open()
        if img.format == "JPEG" and max_side:
            img.draft("RGB", (max_side, max_side))  # DCT-domain downscale: decodes far fewer pixels
        img.load()
    except (OSError, ValueError, SyntaxError) as exc:
        raise CorruptImageError(f"{image.source}: could not be decoded ({exc})", source=image.source) from exc
    img = ImageOps.exif_transpose(img) or img
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        img = Image.new("RGB", rgba.size, (255, 255, 255))
        img.paste(rgba, mask=rgba.getchannel("A"))
    else:
        img = img.convert("RGB")
    if max(img.size) > max_side:
        scale = max_side / max(img.size)
        img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))),
                         Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    data = buf.getvalue()
    if len(data) >= len(image.data) and image.mime == "image/jpeg" and max(w, h) <= max_side:
        return image.data, image.mime, w, h
    return data, "image/jpeg", img.width, img.height
