"""Turning a request body into a checked image and language, cheapest checks first.

Everything here is plain Python (no web framework) and raises the API's own
errors (:func:`api_error_for`), so the app only has to turn them into responses.
The order is chosen so that a bad request costs as little as possible: JSON shape
and ``lang`` before any base64; the size from the base64 length before decoding
it; the format from the first bytes before Pillow; the pixel count from the
header before decoding pixels (Pillow's decompression-bomb guard).

Which code for which failure (our reading of API.md's table):

=========================================================  ====
body not JSON, not an object, ``image`` missing or not a   1005
string, ``lang`` not one of the seven, not base64, a data
URI that is not ``;base64,``, ``prompt`` missing
bytes that are not JPEG/PNG/WebP; image over 4 MiB; over   2004
the pixel limit ("image format details" in the seed cover
both the formats and the size); JPEG/PNG/WebP magic but
undecodable, truncated or ending early (bad for certain:
2005 would tell the client to send the same bytes again)
=========================================================  ====

>>> import base64
>>> png = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==")
>>> checked = parse_request(b'{"image": "' + base64.b64encode(png) + b'", "lang": "fr"}')
>>> checked.lang, checked.image.mime
('fr', 'image/png')
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import math
from dataclasses import dataclass

from PIL import Image

from .. import _constants as C
from .. import images as _images
from .._exceptions import APIError, ImageError, ImageTooLargeError, api_error_for
from .._types import PreparedImage

#: A prompt for ``generate_content`` longer than this is refused (1005): it is a
#: question about an image, not a document.
MAX_PROMPT_CHARS = 4000

_URLSAFE = str.maketrans("-_", "+/")

#: Memory one image may take to decode, by default (``imagetags serve --decode-memory``).
DECODE_BUDGET_BYTES = 512 * 2**20

#: Peak bytes per pixel to decode an image fully, for formats Pillow cannot decode at a
#: reduced size (measured with Pillow 13, validation and the offline tagger: the
#: decoder's buffer, Pillow's copy, a mode conversion). A baseline JPEG is decoded at
#: 1/8 scale (``draft``) by both, so its pixel count hardly matters; a progressive one
#: keeps a full-size buffer of coefficients whatever the scale.
DECODE_BYTES_PER_PIXEL = {"WEBP": 18, "PNG": 17, "JPEG_PROGRESSIVE": 9, "JPEG": 1}


@dataclass(frozen=True)
class CheckedRequest:
    image: PreparedImage
    lang: str
    prompt: str | None = None


def invalid(message: str) -> APIError:
    return api_error_for(C.CODE_INVALID_PARAMS, message)


def bad_format(message: str) -> APIError:
    return api_error_for(C.CODE_INVALID_IMAGE, message)


def too_large(limit: int = C.SERVER_MAX_IMAGE_BYTES) -> APIError:
    return bad_format(f"the image is too large: at most {limit:,} bytes ({limit / 2**20:g} MiB) of "
                      "JPEG, PNG or WebP data")


def check_content_type(value: str | None) -> None:
    """1005 unless the media type is ``application/json`` (parameters such as charset allowed)."""
    media = (value or "").split(";", 1)[0].strip().lower()
    if media != "application/json":
        shown = f"{value!r}" if value else "missing"
        raise invalid(f"content-type must be application/json (got {shown})")


def parse_request(raw: bytes, *, want_prompt: bool = False,
                  max_image_bytes: int = C.SERVER_MAX_IMAGE_BYTES,
                  decode_budget: int = DECODE_BUDGET_BYTES) -> CheckedRequest:
    """Check a ``generate_tags`` (or, with ``want_prompt``, ``generate_content``) body.

    Raises the API error to answer with; returns the image ready for a backend.
    """
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise invalid("the body is not valid JSON") from None
    except RecursionError:  # [[[[... nested past the parser's depth: hostile, not a server fault
        raise invalid("the body is nested too deeply to be the API's JSON") from None
    if not isinstance(body, dict):
        raise invalid('the body must be a JSON object such as {"image": "data:image/jpeg;base64,...", '
                      '"lang": "en"}')
    image = body.get("image")
    if image is None:
        raise invalid("'image' is required: a base64 data URI such as data:image/jpeg;base64,...")
    if not isinstance(image, str):
        raise invalid(f"'image' must be a string (a base64 data URI), not {type(image).__name__}")
    lang = body.get("lang")
    if lang is None:
        lang = C.DEFAULT_LANG
    if not isinstance(lang, str) or lang not in C.LANGUAGES:
        raise invalid(f"'lang' must be one of {', '.join(C.LANGUAGES)} (got {lang!r:.40})")
    prompt: str | None = None
    if want_prompt:
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise invalid("'prompt' is required: a non-empty string such as \"What is this object?\"")
        if len(prompt) > MAX_PROMPT_CHARS:
            raise invalid(f"'prompt' is longer than {MAX_PROMPT_CHARS} characters")
    data = decode_image_field(image, max_image_bytes=max_image_bytes)
    return CheckedRequest(image=check_image(data, max_image_bytes=max_image_bytes, decode_budget=decode_budget),
                          lang=lang, prompt=prompt)


def decode_image_field(image: str, *, max_image_bytes: int = C.SERVER_MAX_IMAGE_BYTES) -> bytes:
    """The bytes of a ``data:<mime>;base64,<data>`` URI or of bare base64.

    The URI's MIME label is not trusted (the seed's sample code labels every image
    ``image/jpeg``): the format is sniffed from the bytes afterwards. Line breaks,
    missing padding and the URL-safe alphabet are tolerated because common
    encoders produce them; anything else outside the alphabet is refused.
    """
    payload = image
    if image[:5].lower() == "data:":
        header, comma, payload = image.partition(",")
        if not comma:
            raise invalid("'image' is a data URI without data: expected data:image/jpeg;base64,<data>")
        if not header.lower().endswith(";base64"):
            raise invalid("'image' must be a base64 data URI: data:image/jpeg;base64,<data>")
    if any(ws in payload for ws in ("\n", "\r", " ", "\t")):  # each a fast C scan
        payload = "".join(payload.split())
    if not payload:
        raise invalid("'image' is empty")
    # Refuse an oversize image from the length alone, before decoding megabytes.
    if (len(payload) * 3) // 4 - 2 > max_image_bytes:
        raise too_large(max_image_bytes)
    if "-" in payload or "_" in payload:
        payload = payload.translate(_URLSAFE)
    payload += "=" * (-len(payload) % 4)
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise invalid("'image' is not valid base64 (expected data:image/jpeg;base64,<data> or bare "
                      "base64)") from None
    if not data:
        raise invalid("'image' is empty")
    if len(data) > max_image_bytes:
        raise too_large(max_image_bytes)
    return data


def check_decode_cost(data: bytes, fmt: str, budget: int) -> None:
    """2004 for an image whose pixels cannot be decoded within ``budget`` bytes, read from
    its header alone (a 200 KB WebP can hold 10000x10000 pixels: 1.7 GB to decode)."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
            progressive = bool(img.info.get("progressive") or img.info.get("progression"))
    except Exception:  # noqa: BLE001 - an unreadable header is check_image's to report
        return
    kind = "JPEG_PROGRESSIVE" if fmt == "JPEG" and progressive else fmt
    need = width * height * DECODE_BYTES_PER_PIXEL.get(kind, DECODE_BYTES_PER_PIXEL["PNG"])
    if need > budget:
        most = budget // DECODE_BYTES_PER_PIXEL.get(kind, DECODE_BYTES_PER_PIXEL["PNG"])
        side = int(math.sqrt(most))
        what = "progressive JPEG" if kind == "JPEG_PROGRESSIVE" else ("WebP" if fmt == "WEBP" else fmt)
        raise bad_format(
            f"the image is {width}x{height} pixels: decoding a {what} that size needs about "
            f"{need / 2**20:,.0f} MiB, over this server's {budget / 2**20:,.0f} MiB per image; send at most "
            f"{most / 1e6:.0f} megapixels (say {side}x{side}), or a baseline JPEG (tags need only ~320 px)")


def check_image(data: bytes, *, max_image_bytes: int = C.SERVER_MAX_IMAGE_BYTES,
                decode_budget: int = DECODE_BUDGET_BYTES) -> PreparedImage:
    """Sniff the format from the bytes, check the decoding cost from the header, then
    let Pillow decode (at 1/8 scale for a JPEG).

    Images are passed on untouched (no conversion): they are already in an API
    format and within the size limit, or refused.
    """
    fmt = _images.sniff_format(data)
    if fmt not in C.API_FORMATS:
        what = f"a {fmt} image" if fmt else "not an image this server recognises"
        raise bad_format(f"the image is {what}: use JPEG, PNG or WebP")
    check_decode_cost(data, fmt, decode_budget)
    try:
        return _images.prepare(data, source="the image", validate=True, max_bytes=max_image_bytes)
    except ImageTooLargeError as exc:
        raise bad_format(str(exc)) from None
    except ImageError as exc:
        # The magic bytes said JPEG/PNG/WebP, so whatever Pillow could not read is
        # damaged data (truncated, or corrupted on the way). 2004, not 2005: these
        # bytes are bad for certain, and 2005 would have the client send them again.
        raise bad_format(f"the image data is damaged or incomplete: {exc}") from None


__all__ = [
    "DECODE_BUDGET_BYTES",
    "DECODE_BYTES_PER_PIXEL",
    "MAX_PROMPT_CHARS",
    "check_decode_cost",
    "CheckedRequest",
    "check_content_type",
    "check_image",
    "decode_image_field",
    "parse_request",
]
