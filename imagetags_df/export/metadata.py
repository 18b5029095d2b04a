"""Tags, title and description written into the image file itself (XMP, and IPTC for JPEG)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .._exceptions import ConfigurationError, ImageError, ImageNotFoundError, UnsupportedImageError
from .._install import pip_install
from .._types import TagResult
from ..analysis import score_map
from .atomic import write_bytes_atomic
from .keywords import keyword_paths


class MetadataError(ImageError):
    """The image's own metadata could not be written (format without XMP, damaged file)."""


class FileChangedError(MetadataError):
    """The file no longer holds the bytes that were tagged: its answer is not written into it."""


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
            f"writing metadata needs the exiv2 library: {pip_install('metadata')}") from None
    # libexiv2 prints warnings about odd-but-harmless metadata to stderr by default.
    exiv2.LogMsg.setLevel(exiv2.LogMsg.Level.error)
    exiv2.XmpProperties.registerNs(XMP_NAMESPACE, _XMP_PREFIX)
    return exiv2


def _cut_utf8(text: str, limit: int) -> str:
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", errors="ignore")


def _langalt(datum_value: Any) -> dict[str, str]:
    """Every language of an XMP LangAlt value (``{"x-default": ..., "de": ...}``)."""
    try:
        return {str(k): str(v) for k, v in datum_value.items()}
    except (AttributeError, TypeError):
        return {"x-default": str(datum_value)}


def _langalt_default(datum_value: Any) -> str:
    return _langalt(datum_value).get("x-default", "")


#: Our own XMP namespace: which keywords in ``dc:subject`` we added, and in which
#: language, so a later run can tell them from the photographer's own.
XMP_NAMESPACE = "http://ns.imagetags-df.org/xmp/1.0/"
_XMP_PREFIX = "imagetags"
_OURS_KEY, _OURS_LANG_KEY = f"Xmp.{_XMP_PREFIX}.keywords", f"Xmp.{_XMP_PREFIX}.lang"


@dataclass
class MetadataReport:
    """What :func:`write_metadata` did to one file."""

    #: SHA-256 of the rewritten file (its bytes changed; see :func:`remember_results`).
    sha256: str
    #: What was already there and left as it was, one short phrase each
    #: (``"title: the existing default"``, ``"keywords: those in en"``).
    kept: list[str] = field(default_factory=list)
    #: The file rewritten: the path given, or the target of the symbolic link given.
    written_to: str = ""
    #: The rewritten file's stat (size, mtime) as the new bytes landed.
    stat: os.stat_result | None = field(default=None, repr=False)


def _bag(xmp: Any, key: str) -> list[str]:
    if key not in xmp:
        return []
    datum = xmp[key]
    return [datum.toString(i) for i in range(datum.count())]


def write_metadata(path: str | os.PathLike[str], tags: Sequence[str], title: str | None,
                   description: str | None, *, overwrite: bool = False,
                   lang: str | None = None, expected_sha256: str | None = None,
                   before_replace: Callable[[str, os.stat_result], None] | None = None,
                   hierarchy: Sequence[Sequence[str]] | None = None) -> MetadataReport:
    """Write tags, title and description into the image file's own metadata.

    XMP ``dc:subject`` (a Bag of keywords), ``dc:title`` and ``dc:description``
    for JPEG, PNG, WebP and TIFF, and for JPEG also IPTC ``Keywords``,
    ``ObjectName`` and ``Caption/Abstract`` (declared UTF-8).

    Title and description are XMP language alternatives: the text goes under
    ``lang`` (``de``, ``zh``...) and, if the file has none yet, under ``x-default``,
    the one most tools show. So tagging again in a second language adds that
    language beside the first instead of replacing it. An existing default (or
    an existing text in ``lang``) is kept unless ``overwrite``.

    Keywords have no language in XMP, so they stay in one: new tags are added to
    the keywords already there, never replacing the photographer's own; which
    ones we added, and in which language, is recorded in our own namespace
    (:data:`XMP_NAMESPACE`). A run in another language leaves our keywords as they
    are, unless ``overwrite``, which replaces ours (never the photographer's) with
    the new language's. The returned report lists what was kept.

    The same keywords go into ``lr:hierarchicalSubject`` (Lightroom, ``animal|dog``)
    and ``digiKam:TagsList`` (digiKam, ``animal/dog``) as the paths in ``hierarchy``
    (see :func:`imagetags_df.export.keywords.keyword_paths`; default: each tag alone),
    beside the paths already there.

    Only the metadata segments change: the compressed image data is copied as is
    (exiv2 never re-encodes), so decoded pixels are identical. The new file is
    written beside the old one and moved over it, so a crash cannot corrupt it.
    A symbolic link stays a link: the file it points to is rewritten.

    ``expected_sha256``: the digest of the bytes the tags were made for (``generate``'s
    ``sha256`` column); a file that holds other bytes now raises :class:`FileChangedError`
    and is left alone. ``before_replace(sha256, stat)`` is called once the new bytes
    are on disk, before they replace the old ones (to record their digest first).
    Raises :class:`MetadataError`, naming the file, for formats that cannot hold XMP
    (GIF, BMP), read-only files and failed writes.

    >>> write_metadata("cat.jpg", ["cat", "sofa"], "A cat", "A tabby cat asleep", lang="en")  # doctest: +SKIP
    MetadataReport(sha256='9f2c...', kept=[])
    """
    exiv2 = _exiv2()
    given = Path(path).expanduser()
    name = str(given)
    # Replacing a link by a file would cut it from what it points to: write through it.
    target = given.resolve() if given.is_symlink() else given
    try:
        data = target.read_bytes()
    except FileNotFoundError:
        raise ImageNotFoundError(f"{name}: file not found; check the path", source=name) from None
    except OSError as exc:
        raise ImageNotFoundError(f"{name}: could not be read ({exc.strerror or exc})", source=name) from None
    if expected_sha256 is not None and hashlib.sha256(data).hexdigest() != expected_sha256:
        raise FileChangedError(f"{name}: the file changed after it was tagged, so the tags may describe "
                               "another picture; not written (run again to tag what it holds now)", source=name)
    if not os.access(target, os.W_OK):
        raise MetadataError(f"{name}: the file is read-only; not written (make it writable to add "
                            "metadata)", source=name)
    kept: list[str] = []
    try:
        image = exiv2.ImageFactory.open(data)
        image.readMetadata()
        mime = image.mimeType()
        xmp = image.xmpData()

        original = old = _bag(xmp, "Xmp.dc.subject")
        prior_ours = _bag(xmp, _OURS_KEY)
        prior_lang = xmp[_OURS_LANG_KEY].toString() if _OURS_LANG_KEY in xmp else None
        new = [t for t in dict.fromkeys(str(t) for t in tags) if t]
        switching = lang is not None and prior_lang is not None and prior_lang != lang
        if switching and not overwrite:
            merged, ours = old, prior_ours
            kept.append(f"keywords: those in {prior_lang}")
        else:
            if switching:  # overwrite: our keywords change language; the photographer's stay
                prior = set(prior_ours)
                old = [k for k in old if k not in prior]
                prior_ours = []
            added = [t for t in new if t not in old]
            merged = old + added
            ours = prior_ours + [t for t in added if t not in prior_ours]
            xmp["Xmp.dc.subject"] = exiv2.XmpArrayValue(merged, exiv2.TypeId.xmpBag)
            xmp[_OURS_KEY] = exiv2.XmpArrayValue(ours, exiv2.TypeId.xmpBag)
            paths = hierarchy if hierarchy is not None else [(t,) for t in new]
            _write_hierarchy(exiv2, xmp, paths, replaced=set(original) - set(old))
            if lang is not None:
                xmp[_OURS_LANG_KEY] = lang
        removed = set(original) - set(merged)  # ours in the old language, when overwrite switched it

        wrote_default: dict[str, bool] = {}
        defaults: dict[str, str] = {}  # each field's x-default once written: IPTC mirrors it
        for key, field_name, text in (("Xmp.dc.title", "title", title or ""),
                                      ("Xmp.dc.description", "description", description or "")):
            if not text:
                continue
            alts = _langalt(xmp[key].value()) if key in xmp else {}
            changed = False
            if overwrite or not alts.get("x-default"):
                changed = changed or alts.get("x-default") != text
                alts["x-default"] = text
                wrote_default[field_name] = True
            elif alts["x-default"] != text:
                kept.append(f"{field_name}: the existing default")
            if lang is not None:
                if overwrite or not alts.get(lang):
                    changed = changed or alts.get(lang) != text
                    alts[lang] = text
                elif alts[lang] != text:
                    kept.append(f"{field_name}: the existing {lang} text")
            defaults[field_name] = alts["x-default"]
            if changed:
                # x-default first, as the XMP specification asks of a LangAlt.
                ordered = {"x-default": alts.pop("x-default"), **alts}
                xmp[key] = exiv2.LangAltValue(ordered)

        if mime == "image/jpeg":
            iptc = image.iptcData()
            kw_key = exiv2.IptcKey("Iptc.Application2.Keywords")
            cap = _IPTC_MAX_BYTES["Iptc.Application2.Keywords"]
            wanted = list(dict.fromkeys(k for k in (_cut_utf8(t, cap) for t in merged) if k))
            have = [d.toString() for d in iptc if d.key() == "Iptc.Application2.Keywords"]
            iptc["Iptc.Envelope.CharacterSet"] = _IPTC_UTF8
            stale = {_cut_utf8(t, cap) for t in removed}
            if stale & set(have):
                # IPTC keeps one dataset per keyword: drop ours that changed language, re-add the rest.
                while "Iptc.Application2.Keywords" in iptc:
                    iptc.erase(iptc.findKey(kw_key))
                have = [k for k in have if k not in stale]
                for kw in have:
                    iptc.add(kw_key, exiv2.StringValue(kw))
            for kw in wanted:
                if kw not in have:
                    have.append(kw)
                    iptc.add(kw_key, exiv2.StringValue(kw))
            # IPTC has one language: it follows XMP's x-default.
            for key, field_name in (("Iptc.Application2.ObjectName", "title"),
                                    ("Iptc.Application2.Caption", "description")):
                text = defaults.get(field_name, "")
                if not text:
                    continue
                if key in iptc and iptc[key].toString() and not wrote_default.get(field_name):
                    continue
                iptc[key] = _cut_utf8(text, _IPTC_MAX_BYTES[key])

        image.writeMetadata()
        io = image.io()
        out = bytes(io.mmap())
        io.munmap()
    except exiv2.Exiv2Error as exc:
        msg = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
        if "bmff" in msg.lower():
            # HEIC/HEIF/AVIF hold XMP, but exiv2 only reads it there.
            raise MetadataError(
                f"{name}: metadata cannot be written into HEIC/HEIF/AVIF files (exiv2 only reads them); "
                "use --sidecars, or convert the image to JPEG", source=name) from None
        if "not supported" in msg.lower():
            raise MetadataError(
                f"{name}: this format cannot hold XMP/IPTC metadata ({msg}); "
                "convert it to JPEG, PNG, WebP or TIFF, or use --sidecars", source=name) from None
        raise MetadataError(f"{name}: metadata could not be written ({msg})", source=name) from None
    digest = hashlib.sha256(out).hexdigest()
    try:
        st = write_bytes_atomic(target, out, None if before_replace is None else
                                (lambda st: before_replace(digest, st)))
    except OSError as exc:
        # Named after the photo, not the temporary file beside it that the error names.
        raise MetadataError(f"{name}: metadata could not be written ({exc.strerror or exc}); the file is "
                            "unchanged", source=name) from None
    return MetadataReport(sha256=digest, kept=kept, written_to=str(target), stat=st)


def result_of_row(rec: Mapping[str, Any]) -> TagResult:
    """One row of ``generate``'s result as the cache keeps it: every field, so a later
    run answered from the cache has the confidence, colours and orientation it had.

    >>> result_of_row({"tags": ["cat"], "title": "A cat", "description": "", "confidence": 0.8}).confidence
    0.8
    """
    def number(value: Any) -> float | None:
        try:
            return None if value is None or pd.isna(value) else float(value)
        except (TypeError, ValueError):
            return None

    def whole(value: Any) -> int | None:
        n = number(value)
        return None if n is None else int(n)

    def texts(value: Any) -> list[str] | None:
        return None if value is None or isinstance(value, float) else [str(x) for x in value]

    scores = rec.get("tag_scores")
    return TagResult(
        tags=texts(rec.get("tags")) or [], title=rec.get("title") or "",
        description=rec.get("description") or "", request_id=rec.get("request_id"),
        tag_scores=None if (known := score_map(scores, rec.get("tags"))) is None else list(known.values()),
        backend=rec.get("backend") or "", input_tokens=whole(rec.get("input_tokens")),
        output_tokens=whole(rec.get("output_tokens")), confidence=number(rec.get("confidence")),
        colors=texts(rec.get("colors")), orientation=rec.get("orientation") or None)


def _write_hierarchy(exiv2: Any, xmp: Any, paths: Sequence[Sequence[str]], replaced: set[str]) -> None:
    """Add keyword paths to Lightroom's and digiKam's fields, keeping the paths already
    there except those ending in a keyword of ours being ``replaced`` (another language)."""
    from .keywords import digikam_keywords, lightroom_keywords

    for key, values, sep, kind in (
            ("Xmp.lr.hierarchicalSubject", lightroom_keywords(paths), "|", exiv2.TypeId.xmpBag),
            ("Xmp.digiKam.TagsList", digikam_keywords(paths), "/", exiv2.TypeId.xmpSeq)):
        have = [v for v in _bag(xmp, key) if v.split(sep)[-1] not in replaced]
        merged = have + [v for v in values if v not in have]
        if merged:
            xmp[key] = exiv2.XmpArrayValue(merged, kind)


def remember_results(rewritten: Iterable[tuple[str | os.PathLike[str], dict[str, Any]]], *,
                     lang: str, backend: str = "auto", api_key: str | None = None,
                     base_url: str | None = None, cache_dir: Any = None, **backend_options: Any) -> int:
    """Tell the cache that rewritten files still have the tags they had.

    ``rewritten`` holds ``(path, result_row)`` as ``generate`` returned them; see
    :func:`imagetags_df.engine.remember` (``backend_options``: model, labels, instructions,
    max_side, which choose a vision model's cache entry). Returns how many entries were stored.
    :func:`write_metadata_rows` does this itself, file by file.
    """
    from .. import engine

    return engine.remember(((path, result_of_row(rec)) for path, rec in rewritten), lang, backend=backend,
                           api_key=api_key, base_url=base_url, cache_dir=cache_dir, **backend_options)


@dataclass
class MetadataPass:
    """What :func:`write_metadata_rows` did, file by file."""

    #: Files rewritten (their paths as given).
    written: list[str] = field(default_factory=list)
    #: Rows with no tags: nothing worth writing, the file was left alone.
    untagged: list[str] = field(default_factory=list)
    #: Files that no longer hold the bytes that were tagged (one message each).
    changed: list[str] = field(default_factory=list)
    #: Files that could not be written (one message each, naming the file).
    failed: list[str] = field(default_factory=list)
    #: Symbolic links whose target was rewritten (the link itself is kept).
    through_links: list[str] = field(default_factory=list)
    #: What the files already had and kept: phrase -> how many files.
    kept: dict[str, int] = field(default_factory=dict)


def write_metadata_rows(results: pd.DataFrame, col: str = "path", *, lang: str | None = None,
                        overwrite: bool = False, memory: Any = None) -> MetadataPass:
    """Write every tagged row of ``generate``'s result into its image file (see :func:`write_metadata`).

    Each file is checked to still hold the bytes that were tagged (the ``sha256``
    column); one that changed, cannot hold XMP or cannot be written is listed and the
    pass goes on. Rows without tags are left alone. With ``memory`` (an
    :class:`imagetags_df.engine.ResultMemory` opened with the run's options), each
    file's result is stored under its new digest before the new bytes replace the old,
    so the next run answers it from the cache, whenever this pass is interrupted.

    >>> from imagetags_df.engine import ResultMemory
    >>> out = generate(frame, backend="local")  # doctest: +SKIP
    >>> with ResultMemory("en", backend="local") as memory:  # doctest: +SKIP
    ...     done = write_metadata_rows(out, "path", lang="en", memory=memory)
    >>> len(done.written), done.failed  # doctest: +SKIP
    (12, [])
    """
    report = MetadataPass()
    done: set[str] = set()  # a file listed twice (or by a link and by name) is written once
    has_digest = "sha256" in results.columns
    for rec in results.to_dict("records"):
        if rec.get("error") is not None or not bool(rec.get("ok", True)):
            continue
        path = str(rec[col])
        # A label model's labels are keywords too; the cache keeps the tagger's own result.
        learned = [str(t) for t in rec.get("learned") or [] if t not in (rec.get("tags") or [])] if isinstance(
            rec.get("learned"), list) else []
        if not rec.get("tags") and not learned:
            report.untagged.append(path)
            continue
        real = os.path.realpath(path)
        if real in done:
            continue
        result = result_of_row(rec)

        def remember(digest: str, st: os.stat_result, path: str = path, result: TagResult = result) -> None:
            memory.store(path, result, digest=digest, stat=st)

        try:
            written = write_metadata(path, [*result.tags, *learned], result.title, result.description,
                                     overwrite=overwrite,
                                     lang=lang, expected_sha256=rec.get("sha256") if has_digest else None,
                                     before_replace=remember if memory is not None else None,
                                     hierarchy=[*keyword_paths(result.tags, lang or "en", result.backend),
                                                *((t,) for t in learned)])
        except FileChangedError as exc:
            report.changed.append(str(exc))
            continue
        except ImageError as exc:
            report.failed.append(str(exc))
            continue
        done.add(real)
        report.written.append(path)
        if os.path.abspath(written.written_to) != os.path.abspath(path):
            report.through_links.append(path)
        for what in written.kept:
            report.kept[what] = report.kept.get(what, 0) + 1
    return report


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The tags, title and description in an image's XMP (and IPTC keywords), as written by :func:`write_metadata`.

    ``title``/``description`` are the ``x-default`` texts; ``titles``/``descriptions``
    every language (``{"x-default": ..., "de": ...}``); ``our_tags`` and ``tags_lang``
    the keywords we added and their language.

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
    out: dict[str, Any] = {"tags": _bag(xmp, "Xmp.dc.subject"), "title": "", "description": "",
                           "titles": {}, "descriptions": {}, "our_tags": _bag(xmp, _OURS_KEY),
                           "tags_lang": xmp[_OURS_LANG_KEY].toString() if _OURS_LANG_KEY in xmp else None,
                           "iptc_keywords": [], "lightroom_keywords": _bag(xmp, "Xmp.lr.hierarchicalSubject"),
                           "digikam_keywords": _bag(xmp, "Xmp.digiKam.TagsList")}
    for key, field_name in (("Xmp.dc.title", "title"), ("Xmp.dc.description", "description")):
        if key in xmp:
            alts = _langalt(xmp[key].value())
            out[field_name] = alts.get("x-default", "")
            out[field_name + "s"] = alts
    out["iptc_keywords"] = [d.toString() for d in image.iptcData()
                            if d.key() == "Iptc.Application2.Keywords"]
    return out


