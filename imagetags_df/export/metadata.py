"""Tags, title and description written into the image file itself (XMP, and IPTC for JPEG)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from .._exceptions import ConfigurationError, ImageError, ImageNotFoundError, UnsupportedImageError
from .atomic import write_bytes_atomic


class MetadataError(ImageError):
    """The image's own metadata could not be written (format without XMP, damaged file)."""


# IPTC IIM caps these datasets (IPTC IIM 4.2): readers may drop or reject longer
# values, so we cut at a character boundary. XMP has no such limit and keeps all.
_IPTC_MAX_BYTES = {"Iptc.Application2.Keywords": 64, "Iptc.Application2.ObjectName": 64,
                   "Iptc.Application2.Caption": 2000}
#: IPTC "coded character set" escape sequence that declares UTF-8.
_IPTC_UTF8 = "\x1b%G"


def _exiv2() -> Any:
    try:
        import exiv2
    except ImportError:
        raise ConfigurationError(
            "writing metadata needs the exiv2 library: pip install 'imagetags-df[metadata]'") from None
    # libexiv2 prints warnings about odd-but-harmless metadata to stderr by default.
    exiv2.LogMsg.setLevel(exiv2.LogMsg.Level.error)
    return exiv2


def _cut_utf8(text: str, limit: int) -> str:
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", errors="ignore")


def _langalt_default(datum_value: Any) -> str:
    try:
        return str(dict(datum_value.items()).get("x-default", "")) or ""
    except (AttributeError, TypeError):
        return str(datum_value)


def write_metadata(path: str | os.PathLike[str], tags: Sequence[str], title: str | None,
                   description: str | None, *, overwrite: bool = False) -> str:
    """Write tags, title and description into the image file's own metadata; return the new SHA-256.

    XMP ``dc:subject`` (a Bag of keywords), ``dc:title`` and ``dc:description``
    (``x-default`` language) for JPEG, PNG, WebP and TIFF, and for JPEG also IPTC
    ``Keywords``, ``ObjectName`` and ``Caption/Abstract`` (declared UTF-8). New tags
    are added to the keywords already there, never replacing the photographer's
    own; an existing title or description is kept unless ``overwrite``.

    Only the metadata segments change: the compressed image data is copied as is
    (exiv2 never re-encodes), so decoded pixels are identical. The new file is
    written beside the old one and moved over it, so a crash cannot corrupt it.
    Raises :class:`MetadataError` for formats that cannot hold XMP (GIF, BMP).

    The returned digest is the new file's SHA-256: the file's bytes changed, so
    the cache would not know it; :func:`remember_results` tells it.

    >>> write_metadata("cat.jpg", ["cat", "sofa"], "A cat", "A tabby cat asleep on a sofa")  # doctest: +SKIP
    """
    exiv2 = _exiv2()
    target = Path(path).expanduser()
    name = str(target)
    try:
        data = target.read_bytes()
    except FileNotFoundError:
        raise ImageNotFoundError(f"{name}: file not found; check the path", source=name) from None
    except OSError as exc:
        raise ImageNotFoundError(f"{name}: could not be read ({exc.strerror or exc})", source=name) from None
    try:
        image = exiv2.ImageFactory.open(data)
        image.readMetadata()
        mime = image.mimeType()
        xmp = image.xmpData()

        subject_key = "Xmp.dc.subject"
        old: list[str] = []
        if subject_key in xmp:
            datum = xmp[subject_key]
            old = [datum.toString(i) for i in range(datum.count())]
        merged = old + [t for t in dict.fromkeys(str(t) for t in tags) if t and t not in old]
        bag = exiv2.XmpArrayValue(merged, exiv2.TypeId.xmpBag)
        xmp[subject_key] = bag
        texts = {"Xmp.dc.title": title or "", "Xmp.dc.description": description or ""}
        for key, text in texts.items():
            if not text:
                continue
            if key in xmp and _langalt_default(xmp[key].value()) and not overwrite:
                continue
            xmp[key] = exiv2.LangAltValue({"x-default": text})

        if mime == "image/jpeg":
            iptc = image.iptcData()
            kw_key = exiv2.IptcKey("Iptc.Application2.Keywords")
            have = {d.toString() for d in iptc if d.key() == "Iptc.Application2.Keywords"}
            iptc["Iptc.Envelope.CharacterSet"] = _IPTC_UTF8
            for tag in merged:
                kw = _cut_utf8(tag, _IPTC_MAX_BYTES["Iptc.Application2.Keywords"])
                if kw and kw not in have:
                    have.add(kw)
                    iptc.add(kw_key, exiv2.StringValue(kw))
            for key, text in (("Iptc.Application2.ObjectName", title or ""),
                              ("Iptc.Application2.Caption", description or "")):
                if not text:
                    continue
                if key in iptc and iptc[key].toString() and not overwrite:
                    continue
                iptc[key] = _cut_utf8(text, _IPTC_MAX_BYTES[key])

        image.writeMetadata()
        io = image.io()
        out = bytes(io.mmap())
        io.munmap()
    except exiv2.Exiv2Error as exc:
        msg = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
        if "not supported" in msg.lower():
            raise MetadataError(
                f"{name}: this format cannot hold XMP/IPTC metadata ({msg}); "
                "convert it to JPEG, PNG, WebP or TIFF, or use --sidecars", source=name) from None
        raise MetadataError(f"{name}: metadata could not be written ({msg})", source=name) from None
    write_bytes_atomic(target, out)
    return hashlib.sha256(out).hexdigest()


def remember_results(rewritten: Iterable[tuple[str | os.PathLike[str], dict[str, Any]]], *,
                     lang: str, backend: str = "auto", api_key: str | None = None,
                     base_url: str | None = None, cache_dir: Any = None, **backend_options: Any) -> int:
    """Tell the cache that rewritten files still have the tags they had.

    ``rewritten`` holds ``(path, result_row)`` as ``generate`` returned them; see
    :func:`imagetags_df.engine.remember` (``backend_options``: model, labels, instructions,
    max_side, which choose a vision model's cache entry). Returns how many entries were stored.
    """
    from .. import engine
    from .._types import TagResult

    def results() -> Iterator[tuple[str | os.PathLike[str], TagResult]]:
        for path, rec in rewritten:
            scores = rec.get("tag_scores")
            yield path, TagResult(
                tags=[str(t) for t in rec.get("tags") or []], title=rec.get("title") or "",
                description=rec.get("description") or "", request_id=rec.get("request_id"),
                tag_scores=None if scores is None else [float(x) for x in scores],
                backend=rec.get("backend") or "")

    return engine.remember(results(), lang, backend=backend, api_key=api_key, base_url=base_url,
                           cache_dir=cache_dir, **backend_options)


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The tags, title and description in an image's XMP (and IPTC keywords), as written by :func:`write_metadata`.

    >>> read_metadata("cat.jpg")["tags"]  # doctest: +SKIP
    ['cat', 'sofa']
    """
    exiv2 = _exiv2()
    name = str(path)
    try:
        image = exiv2.ImageFactory.open(Path(path).expanduser().read_bytes())
        image.readMetadata()
    except OSError as exc:
        raise ImageNotFoundError(f"{name}: could not be read ({exc.strerror or exc})", source=name) from None
    except exiv2.Exiv2Error as exc:
        raise UnsupportedImageError(f"{name}: metadata could not be read ({exc})", source=name) from None
    xmp = image.xmpData()
    out: dict[str, Any] = {"tags": [], "title": "", "description": "", "iptc_keywords": []}
    if "Xmp.dc.subject" in xmp:
        d = xmp["Xmp.dc.subject"]
        out["tags"] = [d.toString(i) for i in range(d.count())]
    for key, field_name in (("Xmp.dc.title", "title"), ("Xmp.dc.description", "description")):
        if key in xmp:
            out[field_name] = _langalt_default(xmp[key].value())
    out["iptc_keywords"] = [d.toString() for d in image.iptcData()
                            if d.key() == "Iptc.Application2.Keywords"]
    return out


