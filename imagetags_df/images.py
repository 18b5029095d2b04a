"""Reading any supported image input and making it acceptable to the API.

The API takes JPEG, PNG and WebP up to 4 MB. We sniff the format from the bytes
(names lie: the seed's own sample code labels PNGs as JPEG), send acceptable
images untouched, convert everything else Pillow reads (GIF, BMP, TIFF, AVIF,
and phones' HEIC/HEIF through pillow-heif), and shrink what is too big, so the service never sees a 2004 or an oversize body that we could have
avoided. Every failure is an :class:`ImageError` whose message names the file.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import stat
from pathlib import Path
from typing import Any, Union

from PIL import Image, ImageOps, UnidentifiedImageError

try:  # HEIC/HEIF (phone photos); Pillow reads AVIF itself since 11.3
    from pillow_heif import register_heif_opener
except ImportError:  # pragma: no cover - a dependency, missing only from a broken install
    HEIF_READABLE = False
else:
    register_heif_opener()
    HEIF_READABLE = True

from . import _constants as C
from ._exceptions import (
    CorruptImageError,
    ImageError,
    ImageNotFoundError,
    ImageTooLargeError,
    UnsupportedImageError,
)
from ._types import PreparedImage

#: What a row of the image column may hold.
ImageInput = Union[str, os.PathLike, bytes, bytearray, memoryview, Image.Image]  # noqa: UP007  (a runtime alias: Union works on 3.10)

# Pillow's own guard fires only at 2x its limit (and warns below that); we check
# the pixel count ourselves right after reading the header, before decoding.
Image.MAX_IMAGE_PIXELS = max(Image.MAX_IMAGE_PIXELS or 0, C.MAX_IMAGE_PIXELS)

_MAGIC: list[tuple[bytes, int, str]] = [
    (b"\xff\xd8\xff", 0, "JPEG"),
    (b"\x89PNG\r\n\x1a\n", 0, "PNG"),
    (b"GIF87a", 0, "GIF"),
    (b"GIF89a", 0, "GIF"),
    (b"BM", 0, "BMP"),
    (b"II*\x00", 0, "TIFF"),
    (b"MM\x00*", 0, "TIFF"),
]


#: ISO BMFF ``ftyp`` brands: HEIF stills (HEVC-coded or generic) and AVIF.
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"})
_AVIF_BRANDS = frozenset({b"avif", b"avis"})

#: What a file that cannot be read may be converted from, for messages.
READABLE_FORMATS = "JPEG, PNG, WebP, GIF, BMP, TIFF, HEIC/HEIF, AVIF"


def sniff_format(data: bytes) -> str | None:
    """The image format named by the first bytes (``"JPEG"``, ``"PNG"``, ``"WEBP"``, ...), or None.

    >>> sniff_format(b"\\x89PNG\\r\\n\\x1a\\n....")
    'PNG'
    >>> sniff_format(b"\\x00\\x00\\x00\\x18ftypheic\\x00\\x00\\x00\\x00")
    'HEIF'
    """
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if len(data) >= 12 and data[4:8] == b"ftyp":
        brand = data[8:12]
        if brand in _AVIF_BRANDS:
            return "AVIF"
        if brand in _HEIF_BRANDS:
            return "HEIF"
    for magic, offset, fmt in _MAGIC:
        if data[offset:offset + len(magic)] == magic:
            return fmt
    return None


def mime_for(fmt: str) -> str | None:
    """MIME type the API accepts for a Pillow format name, or None."""
    return C.API_FORMATS.get(fmt)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def is_missing(value: Any) -> bool:
    """True for None/NaN/NA/NaT cells, which become per-row errors, not crashes.

    >>> is_missing(None), is_missing(float("nan")), is_missing("cat.jpg")
    (True, True, False)
    """
    if value is None:
        return True
    if isinstance(value, float):  # numpy's float64 included
        return math.isnan(value)
    # pandas' NA and NaT, recognised by type so this module needs no pandas.
    return type(value).__name__ in ("NAType", "NaTType")


def describe(value: Any) -> str:
    """A short human name for an input, for messages."""
    if isinstance(value, (str, os.PathLike)):
        return os.fspath(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<{len(value)} bytes>"
    if isinstance(value, Image.Image):
        return f"<PIL image {value.width}x{value.height} {value.mode}>"
    return f"<{type(value).__name__}>"


def _file_kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _check_file(st: os.stat_result, name: str, max_file_bytes: int) -> None:
    if stat.S_ISDIR(st.st_mode):
        raise UnsupportedImageError(f"{name}: is a directory, not an image file", source=name)
    if not stat.S_ISREG(st.st_mode):
        raise UnsupportedImageError(
            f"{name}: is {_file_kind(st.st_mode)}, not an image file; only regular files are read",
            source=name)
    if st.st_size > max_file_bytes:
        raise ImageTooLargeError(
            f"{name}: the file is {st.st_size:,} bytes, over the {max_file_bytes:,}-byte limit for an "
            "image file; check that it is an image, or pass max_file_bytes= to raise the limit",
            source=name)


def read_file(path: str | os.PathLike, *, source: str | None = None,
              max_file_bytes: int = C.MAX_FILE_BYTES) -> bytes:
    """The bytes of an image file, refusing what is not a regular file or is too big.

    The file is stat'ed before it is opened, so a FIFO (which would block the
    open), a device such as ``/dev/zero`` (which never ends) or a huge sparse file
    costs nothing; each is a per-row :class:`ImageError` naming the file.

    >>> read_file("/dev/zero")
    Traceback (most recent call last):
    ...
    imagetags_df._exceptions.UnsupportedImageError: /dev/zero: is a character device, not an image file; only regular files are read
    """
    name = source or os.fspath(path)
    p = Path(path).expanduser()
    try:
        _check_file(os.stat(p), name, max_file_bytes)
        # O_NONBLOCK: should the path become a FIFO between stat and open, the
        # open returns at once instead of waiting for a writer; fstat then refuses it.
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        with open(fd, "rb", closefd=True) as fh:
            _check_file(os.fstat(fd), name, max_file_bytes)
            # A file can grow between fstat and read (or report size 0, as /proc
            # files do): never read more than the limit plus one byte.
            data = fh.read(max_file_bytes + 1)
    except FileNotFoundError as exc:
        raise ImageNotFoundError(f"{name}: file not found; check the path", source=name) from exc
    except IsADirectoryError as exc:
        raise UnsupportedImageError(f"{name}: is a directory, not an image file", source=name) from exc
    except PermissionError as exc:
        raise ImageNotFoundError(f"{name}: permission denied when reading the file", source=name) from exc
    except OSError as exc:
        raise ImageNotFoundError(f"{name}: could not be read ({exc.strerror or exc})", source=name) from exc
    if len(data) > max_file_bytes:
        raise ImageTooLargeError(
            f"{name}: the file is over the {max_file_bytes:,}-byte limit for an image file; check that "
            "it is an image, or pass max_file_bytes= to raise the limit", source=name)
    return data


def is_url(value: Any) -> bool:
    """True for a cell that names an image on the web (``http://`` or ``https://``).

    >>> is_url("https://example.com/a.jpg"), is_url("photos/a.jpg"), is_url(b"https://")
    (True, False, False)
    """
    return isinstance(value, str) and value[:8].lower().startswith(("http://", "https://"))


def fetch_url(url: str, *, source: str | None = None, max_bytes: int = C.MAX_FILE_BYTES,
              timeout: float = C.URL_FETCH_TIMEOUT) -> bytes:
    """The bytes at an ``http(s)://`` URL, under the same cap as a file's.

    Redirects are followed; an announced or actual size over ``max_bytes`` stops the
    download; ``timeout`` bounds the whole transfer, not each read, so a server that
    trickles cannot hold a row forever. Every failure is an :class:`ImageError`
    naming the URL (the row's error; the other rows go on).
    """
    import time

    import httpx

    name = source or url
    ends = time.monotonic() + timeout
    try:
        with httpx.Client(timeout=timeout, follow_redirects=True,
                          headers={"User-Agent": "imagetags-df", "Accept": "image/*,*/*;q=0.5"}) as client:
            with client.stream("GET", url) as response:
                if response.status_code >= 400:
                    raise ImageNotFoundError(
                        f"{name}: the server answered HTTP {response.status_code} "
                        f"{response.reason_phrase}; check the URL".rstrip(), source=name)
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise ImageTooLargeError(
                        f"{name}: the server announces {int(declared):,} bytes, over the {max_bytes:,}-byte "
                        "limit for an image; pass max_file_bytes= to raise it", source=name)
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise ImageTooLargeError(
                            f"{name}: more than {max_bytes:,} bytes, the limit for an image; stopped "
                            "downloading (pass max_file_bytes= to raise it)", source=name)
                    if time.monotonic() > ends:
                        raise httpx.ReadTimeout("the whole transfer took too long")
                    chunks.append(chunk)
    except httpx.TimeoutException:
        raise ImageNotFoundError(f"{name}: not downloaded within {timeout:g} s", source=name) from None
    except httpx.InvalidURL as exc:
        raise ImageNotFoundError(f"{name}: not a URL that can be fetched ({exc})", source=name) from None
    except httpx.HTTPError as exc:
        raise ImageNotFoundError(f"{name}: could not be downloaded ({type(exc).__name__}: {exc})",
                                 source=name) from None
    return b"".join(chunks)


def read_bytes(value: ImageInput, *, source: str | None = None,
               max_file_bytes: int = C.MAX_FILE_BYTES) -> bytes:
    """The raw bytes of a path, a URL, a bytes object or a PIL image (encoded as PNG).

    Paths go through :func:`read_file`: only regular files up to ``max_file_bytes``;
    ``http(s)://`` strings through :func:`fetch_url`, under the same cap.
    """
    name = source or describe(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
    elif isinstance(value, Image.Image):
        buf = io.BytesIO()
        try:
            img = value if value.mode in ("RGB", "RGBA", "L", "LA", "P", "1", "I;16") else value.convert("RGBA")
            img.save(buf, format="PNG")
        except (OSError, ValueError) as exc:
            raise CorruptImageError(f"{name}: the PIL image could not be encoded ({exc})", source=name) from exc
        data = buf.getvalue()
    elif is_url(value):
        assert isinstance(value, str)
        data = fetch_url(value, source=name, max_bytes=max_file_bytes)
    elif isinstance(value, (str, os.PathLike)):
        data = read_file(value, source=name, max_file_bytes=max_file_bytes)
    else:
        raise UnsupportedImageError(
            f"{name}: expected a file path, bytes or a PIL image, got {type(value).__name__}", source=name)
    if not data:
        raise CorruptImageError(f"{name}: the file is empty", source=name)
    return data


def _open(data: bytes, name: str) -> Image.Image:
    try:
        img = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(f"{name}: refused as a decompression bomb ({exc})", source=name) from exc
    except UnidentifiedImageError as exc:
        if sniff_format(data) == "HEIF" and not HEIF_READABLE:
            raise UnsupportedImageError(
                f"{name}: a HEIC/HEIF image, which needs pillow-heif: pip install pillow-heif",
                source=name) from exc
        raise UnsupportedImageError(
            f"{name}: not an image format we can read ({READABLE_FORMATS} and the other formats "
            "Pillow opens are read and converted)", source=name) from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise CorruptImageError(f"{name}: corrupt image header ({exc})", source=name) from exc
    pixels = img.width * img.height
    if pixels > C.MAX_IMAGE_PIXELS:
        raise ImageTooLargeError(
            f"{name}: {img.width}x{img.height} is {pixels:,} pixels, over the {C.MAX_IMAGE_PIXELS:,} "
            "pixel limit that guards against decompression bombs; downscale it first", source=name)
    return img


#: Bytes without 0x00 or 0xFF (no marker, no stuffing) put before a JPEG's end marker
#: by :func:`_jpeg_ends_early`.
_JPEG_PROBE = bytes((i * 97 + 13) % 254 + 1 for i in range(4096))


def _jpeg_scale(img: Image.Image) -> int:
    # A progressive JPEG's last scans refine the fine detail that a 1/8-scale decode
    # never looks at; at 1/4 they count.
    return 4 if img.info.get("progressive") or img.info.get("progression") else 8


def _decode(img: Image.Image, name: str, *, cheap: bool = False, data: bytes | None = None) -> None:
    """Force a full decode so truncated or corrupt data is caught here, not by the API.

    With ``data`` (the JPEG's bytes), a JPEG whose scan ends early but carries its end
    marker is refused too: it decodes without an error, the missing part grey.
    """
    try:
        scale = _jpeg_scale(img) if cheap and img.format == "JPEG" else 1
        if scale > 1:
            # A reduced DCT decode still reads every entropy-coded byte, so
            # truncation is caught, at a fraction of the cost of a full decode.
            img.draft("RGB", (max(1, img.width // scale), max(1, img.height // scale)))
        img.load()
        if data is not None and img.format == "JPEG" and _jpeg_ends_early(img, data, scale):
            raise CorruptImageError(f"{name}: the JPEG data ends before the image does (the rest would "
                                    "be grey); send the whole file", source=name)
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(f"{name}: refused as a decompression bomb ({exc})", source=name) from exc
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise CorruptImageError(f"{name}: truncated or corrupt image data ({exc})", source=name) from exc


def _jpeg_ends_early(img: Image.Image, data: bytes, scale: int) -> bool:
    """Whether the scan data of decoded ``img`` stopped at its end marker before the last block.

    libjpeg only warns then. Decoded again with extra bytes before the end marker,
    a complete scan ignores them (the same pixels) while one that ended early decodes
    them as image data (other pixels).
    """
    if not data.endswith(b"\xff\xd9"):
        return False  # no end marker: a short file already failed to load
    probe = Image.open(io.BytesIO(data[:-2] + _JPEG_PROBE + b"\xff\xd9"))
    if scale > 1:
        probe.draft("RGB", (max(1, probe.width // scale), max(1, probe.height // scale)))
    try:
        probe.load()
    except (OSError, ValueError, SyntaxError, EOFError):
        return True
    return probe.size != img.size or probe.tobytes() != img.tobytes()


def _has_alpha(img: Image.Image) -> bool:
    return img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info)


def _encode(img: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    if fmt == "JPEG":
        img.save(buf, format="JPEG", quality=90, optimize=True)
    elif fmt == "PNG":
        img.save(buf, format="PNG", optimize=False)
    else:
        img.save(buf, format="WEBP", quality=90)
    return buf.getvalue()


#: A palette picture is sent as PNG while that is at most this many times its JPEG's size.
PALETTE_PNG_MAX_RATIO = 1.5


def _convert(img: Image.Image, name: str, max_bytes: int) -> tuple[bytes, str, int, int]:
    """Re-encode to an API format, shrinking until it fits in ``max_bytes``."""
    _decode(img, name)
    try:
        img.seek(0)  # first frame of animated GIF/WebP/TIFF
    except (EOFError, AttributeError):
        pass
    img = ImageOps.exif_transpose(img) or img
    if _has_alpha(img):
        img, fmts = img.convert("RGBA"), ["PNG", "WEBP"]
    else:
        palette = img if img.mode == "P" else None
        img, fmts = img.convert("RGB"), ["JPEG"]
        if palette is not None:
            # A palette picture drawn in flat colour (most GIFs: cartoons, diagrams) stays
            # lossless as a palette PNG, which is then about as small as a JPEG of it; JPEG
            # would smear the flat fills by which the offline tagger tells a drawing from a
            # photograph. A dithered photo in a GIF packs far worse as PNG: it goes as JPEG.
            png, jpeg = _encode(palette, "PNG"), _encode(img, "JPEG")
            if len(png) <= PALETTE_PNG_MAX_RATIO * len(jpeg) and len(png) <= max_bytes:
                return png, "PNG", img.width, img.height
            if len(jpeg) <= max_bytes:
                return jpeg, "JPEG", img.width, img.height
    for _ in range(12):
        for fmt in fmts:
            data = _encode(img, fmt)
            if len(data) <= max_bytes:
                return data, fmt, img.width, img.height
        # Area scales roughly with bytes; aim 10% under to converge in one or two steps.
        scale = min(0.9, math.sqrt(max_bytes / len(data)) * 0.9)
        new = (max(1, int(img.width * scale)), max(1, int(img.height * scale)))
        img = img.resize(new, Image.Resampling.LANCZOS)
    raise ImageTooLargeError(f"{name}: could not be shrunk under {max_bytes:,} bytes", source=name)


def prepare(data: bytes, *, source: str, digest: str | None = None, validate: bool = True,
            max_bytes: int = C.MAX_IMAGE_BYTES) -> PreparedImage:
    """Turn raw bytes into a :class:`PreparedImage` the API will accept.

    ``validate=False`` skips the trial decode of images that are already in an
    API format and small enough; use it only for backends that decode the image
    themselves and report corruption.
    """
    if not data:
        raise CorruptImageError(f"{source}: the file is empty", source=source)
    digest = digest or sha256(data)
    fmt = sniff_format(data)
    img = _open(data, source)
    if fmt is not None and img.format != fmt:
        fmt = img.format
    mime = mime_for(fmt or "")
    if mime and len(data) <= max_bytes:
        width, height = img.size  # before draft() shrinks it
        if validate:
            _decode(img, source, cheap=True, data=data)
        return PreparedImage(data=data, mime=mime, sha256=digest, source=source,
                             width=width, height=height, converted=False)
    out, out_fmt, w, h = _convert(img, source, max_bytes)
    return PreparedImage(data=out, mime=C.API_FORMATS[out_fmt], sha256=digest, source=source,
                         width=w, height=h, converted=True)


def check(value: ImageInput, *, source: str | None = None, max_file_bytes: int = C.MAX_FILE_BYTES) -> None:
    """Raise the :class:`ImageError` a run would meet on ``value``; keep nothing.

    Reads and decodes the image as :func:`prepare` would (JPEG at 1/8 scale, which
    still reads every compressed byte), so truncated and corrupt files are found
    before a run rather than during it.
    """
    name = source or describe(value)
    img = _open(read_bytes(value, source=name, max_file_bytes=max_file_bytes), name)
    _decode(img, name, cheap=True)


def load(value: ImageInput, *, source: str | None = None, validate: bool = True,
         max_bytes: int = C.MAX_IMAGE_BYTES, max_file_bytes: int = C.MAX_FILE_BYTES) -> PreparedImage:
    """Read and prepare one image from a path, bytes or a PIL image.

    >>> load("data/samples/chelsea_cat.jpg").mime
    'image/jpeg'
    """
    name = source or describe(value)
    data = read_bytes(value, source=name, max_file_bytes=max_file_bytes)
    return prepare(data, source=name, validate=validate, max_bytes=max_bytes)


__all__ = ["ImageInput", "ImageError", "check", "sniff_format", "mime_for", "sha256", "read_bytes", "read_file",
           "is_url", "fetch_url",
           "prepare", "load", "describe", "is_missing"]
