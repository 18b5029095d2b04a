"""Getting results out of a DataFrame and into files other tools read.

Plain functions, usable from Python and called by the ``imagetags`` command:

- :func:`find_images` walks files and folders for images;
- :func:`write_table` writes results as CSV, Parquet or JSON Lines;
- :func:`write_sidecars` writes a JSON file beside each image, as the seed
  document's bulk example does (``photo.jpg`` -> ``photo.json``);
- :func:`write_metadata` puts tags, title and description into the image file
  itself (XMP ``dc:subject``/``dc:title``/``dc:description``, IPTC for JPEG), where
  digiKam, Lightroom and darktable look for them;
- :func:`fill_alt_text` fills missing ``alt``/``title`` attributes of a web page's
  images, editing the page by source offsets so every other byte stays as it was.

Every file we write goes to a temporary file in the same folder first and is
then moved over the target with ``os.replace``, so a crash or a full disk never
leaves a half-written image, sidecar or table behind.
"""

from __future__ import annotations

import codecs
import contextlib
import errno
import hashlib
import html
import json
import math
import os
import re
import secrets
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pandas as pd
from PIL import Image

from ._exceptions import ConfigurationError, ImageError, ImageNotFoundError, UnsupportedImageError
from .images import describe

__all__ = [
    "IMAGE_SUFFIXES", "GENERATOR", "TABLE_FORMATS", "MetadataError", "SidecarReport", "AltTextReport",
    "find_images", "write_table", "json_lines", "table_format", "sidecar_path", "write_sidecars",
    "write_metadata", "remember_results", "read_metadata", "find_img_tags", "fill_alt_text",
]

#: File name endings :func:`find_images` picks up in folders: what the API takes
#: (JPEG, PNG, WebP) and the photo formats Pillow reads, which the library converts.
IMAGE_SUFFIXES: frozenset[str] = frozenset({
    ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp",
    ".gif", ".bmp", ".dib", ".tif", ".tiff", ".avif", ".apng", ".jp2", ".j2k", ".jpf", ".jpx",
    ".tga", ".ppm", ".pgm", ".pbm", ".pnm", ".qoi",
})

#: Written into every sidecar we create; a sidecar without it is someone else's.
GENERATOR = "imagetags_df"

#: ``--out`` extensions and the format each one selects.
TABLE_FORMATS: dict[str, str] = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet",
                                 ".jsonl": "jsonl", ".ndjson": "jsonl"}

#: Columns of a result frame that hold lists (JSON-encoded in CSV).
_LIST_COLUMNS = ("tags", "tag_scores")


class MetadataError(ImageError):
    """The image's own metadata could not be written (format without XMP, damaged file)."""


# --------------------------------------------------------------------------- writing files


@contextlib.contextmanager
def _atomic_path(target: Path) -> Iterator[Path]:
    """A temporary path beside ``target`` that replaces it only if the block succeeds.

    Same folder, so ``os.replace`` is a rename on one file system (atomic on POSIX
    and Windows); the name starts with a dot so :func:`find_images` and photo
    managers skip it if a crash leaves it behind.
    """
    if not target.parent.is_dir():
        raise FileNotFoundError(errno.ENOENT, "the folder does not exist", str(target.parent))
    # Created like any new file (0o666 less the umask), unlike mkstemp's private 0o600.
    while True:
        tmp = target.with_name(f".{target.name[:120]}.{secrets.token_hex(4)}.imagetags-tmp")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            break
        except FileExistsError:
            continue
    try:
        if target.exists():
            # Keep the original's permission bits across the rename.
            with contextlib.suppress(OSError):
                os.chmod(tmp, target.stat().st_mode & 0o7777)
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _write_bytes_atomic(target: Path, data: bytes) -> None:
    with _atomic_path(target) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())


# --------------------------------------------------------------------------- finding images


def _is_hidden(name: str) -> bool:
    return name.startswith(".")


def find_images(paths: Iterable[str | os.PathLike[str]], recursive: bool = False) -> list[Path]:
    """Image files named by ``paths``: files as given, folders by extension.

    Files named explicitly are kept whatever their extension (the library sniffs
    formats from the bytes and reports a non-image as a row error). In folders,
    only files with an image extension (:data:`IMAGE_SUFFIXES`) are taken; hidden
    files and folders are skipped, and so are our own sidecars (they are ``.json``).
    ``recursive`` descends into sub-folders. Order is stable (sorted by name within
    each folder) and each file appears once.

    >>> find_images(["data/samples"])[:1]  # doctest: +SKIP
    [PosixPath('data/samples/chelsea.jpg')]
    """
    found: list[Path] = []
    seen: set[str] = set()

    def add(p: Path) -> None:
        key = os.path.normcase(os.path.realpath(p))
        if key not in seen:
            seen.add(key)
            found.append(p)

    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            for folder, dirs, files in os.walk(path):
                # Prune in place so os.walk neither enters hidden folders nor,
                # without --recursive, any folder at all.
                dirs[:] = sorted(d for d in dirs if not _is_hidden(d)) if recursive else []
                for name in sorted(files):
                    if not _is_hidden(name) and os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES:
                        add(Path(folder) / name)
        elif path.exists():
            add(path)
        else:
            raise ImageNotFoundError(f"{path}: no such file or folder; check the path", source=str(path))
    return found


# --------------------------------------------------------------------------- tables


def table_format(path: str | os.PathLike[str]) -> str:
    """``"csv"``, ``"parquet"`` or ``"jsonl"`` for an output path, from its extension."""
    suffix = Path(path).suffix.lower()
    try:
        return TABLE_FORMATS[suffix]
    except KeyError:
        raise ConfigurationError(
            f"{path}: cannot tell the output format from {suffix or 'a name without an extension'!r}; "
            "use a name ending in .csv, .parquet or .jsonl") from None


def _jsonable(value: Any) -> Any:
    """Plain JSON values for one cell: NA -> None, numpy scalars -> Python, paths -> str."""
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return _jsonable(value.tolist())  # numpy arrays and scalars (parquet round trips)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def _plain_cell(value: Any) -> Any:
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, (bytes, bytearray, memoryview, Image.Image)):
        return describe(value)  # "<5123 bytes>": a table of results is no place for the image itself
    return value


def _plain_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy safe for every writer: paths as text, bytes and PIL images as a short label."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object:
            out[col] = out[col].map(_plain_cell)
    return out


def write_table(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write ``df`` to ``path`` as CSV, Parquet or JSON Lines, chosen by the extension.

    Lists (``tags``, ``tag_scores``) stay lists in Parquet and JSON Lines and are
    JSON-encoded text in CSV (read them back with ``df.tags.map(json.loads)``).
    The index is not written; the file is replaced atomically.

    >>> write_table(out, "results.csv")  # doctest: +SKIP
    PosixPath('results.csv')
    """
    target = Path(path).expanduser()
    fmt = table_format(target)
    frame = _plain_frame(df).reset_index(drop=True)
    if fmt == "parquet":
        try:
            import pyarrow  # noqa: F401  (pandas' parquet engine)
        except ImportError:
            raise ConfigurationError(
                "writing Parquet needs pyarrow: pip install 'imagetags-df[parquet]' "
                "(or write .csv / .jsonl)") from None
    with _atomic_path(target) as tmp:
        if fmt == "csv":
            for col in _LIST_COLUMNS:
                if col in frame.columns:
                    frame[col] = frame[col].map(
                        lambda v: None if v is None else json.dumps(_jsonable(v), ensure_ascii=False))
            frame.to_csv(tmp, index=False, encoding="utf-8")
        elif fmt == "parquet":
            frame.to_parquet(tmp, index=False)
        else:
            with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
                for line in json_lines(frame):
                    fh.write(line)
    return target


def json_lines(df: pd.DataFrame) -> Iterator[str]:
    """One JSON object per row, newline-terminated (the JSON Lines format).

    Built record by record rather than with ``DataFrame.to_json`` so lists,
    nullable integers and non-ASCII text come out as plain JSON without escapes.
    """
    frame = _plain_frame(df)
    cols = [str(c) for c in frame.columns]
    for row in frame.itertuples(index=False, name=None):
        rec = {c: _jsonable(v) for c, v in zip(cols, row)}
        yield json.dumps(rec, ensure_ascii=False, default=str) + "\n"


def _display_width(text: str) -> int:
    # CJK characters take two terminal columns; aligning on len() would skew zh/ja/ko tables.
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _fit(text: str, width: int) -> str:
    """Cut ``text`` to ``width`` display columns (with an ellipsis) and pad it."""
    out, used = [], 0
    for ch in text:
        w = _display_width(ch)
        if used + w > width - (1 if _display_width(text) > width else 0):
            out.append("…")
            used += 1
            break
        out.append(ch)
        used += w
    return "".join(out) + " " * max(0, width - used)


def text_table(df: pd.DataFrame, col: str = "path", width: int = 120) -> str:
    """A readable, terminal-width table: file, title, tags (or the error), one row per image.

    >>> print(text_table(pd.DataFrame({"path": ["a/cat.jpg"], "title": ["Cat"], "tags": [["cat", "pet"]],
    ...                                 "error": [None]}), width=40), end="")
    file     title  tags
    cat.jpg  Cat    cat, pet
    """
    names = [os.path.basename(str(v)) if isinstance(v, (str, os.PathLike)) else _plain_cell(v)
             for v in df[col]]
    titles = ["" if t is None or t != t else str(t) for t in df["title"]]
    lines = []
    for tags, err in zip(df["tags"], df["error"]):
        if isinstance(err, str) and err:
            lines.append(f"ERROR {err}")
        else:
            lines.append(", ".join(tags) if isinstance(tags, (list, tuple)) else "")
    w_file = min(32, max([4, *map(_display_width, map(str, names))]))
    w_title = min(36, max([5, *map(_display_width, titles)]))
    w_tags = max(10, width - w_file - w_title - 4)
    rows = [f"{_fit('file', w_file)}  {_fit('title', w_title)}  tags"]
    for name, title, tags in zip(names, titles, lines):
        rows.append(f"{_fit(str(name), w_file)}  {_fit(title, w_title)}  {_fit(tags, w_tags).rstrip()}")
    return "\n".join(r.rstrip() for r in rows) + "\n"


# --------------------------------------------------------------------------- sidecars


@dataclass
class SidecarReport:
    """What :func:`write_sidecars` did."""

    written: list[Path] = field(default_factory=list)
    #: Sidecars left alone because they exist and are not ours (pass ``force=True``).
    refused: list[Path] = field(default_factory=list)
    #: Rows without a result (their ``error`` is set): no sidecar written.
    skipped: int = 0


def sidecar_path(image: str | os.PathLike[str]) -> Path:
    """Where the sidecar of ``image`` goes: ``photo.jpg`` -> ``photo.json``, as in the seed.

    The seed's ``image_path.with_suffix('.json')`` gives ``a.jpg`` and ``a.png``
    the same sidecar; when another image with the same stem sits in the folder,
    the full name is kept instead (``a.jpg.json``), so neither overwrites the other.
    """
    p = Path(image)
    plain = p.with_suffix(".json")
    try:
        siblings = [q for q in p.parent.glob(_glob_escape(p.stem) + ".*")
                    if q.name != p.name and q.stem == p.stem and q.suffix.lower() in IMAGE_SUFFIXES]
    except OSError:
        siblings = []
    if siblings or plain == p:
        return p.with_name(p.name + ".json")
    return plain


def _glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


def _is_ours(sidecar: Path) -> bool:
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("generator") == GENERATOR


def _has_result(row: Any) -> bool:
    """True when a result row (a dict or a namedtuple) carries tags rather than an error."""
    err = row.get("error") if isinstance(row, dict) else getattr(row, "error", None)
    return err is None or (isinstance(err, float) and math.isnan(err))


def write_sidecars(df: pd.DataFrame, col: str = "path", force: bool = False) -> SidecarReport:
    """Write ``<image>.json`` beside each image of a :func:`imagetags_df.generate` result.

    The JSON holds ``tags``, ``title`` and ``description`` (the seed's keys, in its
    order) plus ``generator: "imagetags_df"`` and ``backend``. A sidecar that
    already exists and was not written by us is left alone unless ``force``; ours
    are replaced. Rows that failed get no sidecar.

    >>> report = write_sidecars(out, "path")  # doctest: +SKIP
    >>> report.written[0].name  # doctest: +SKIP
    'chelsea.json'
    """
    if col not in df.columns:
        raise ConfigurationError(f"column {col!r} not found; columns are {list(df.columns)}")
    report = SidecarReport()
    for image, rec in zip(df[col].tolist(), df.to_dict("records")):
        if not isinstance(image, (str, os.PathLike)) or not _has_result(rec):
            report.skipped += 1
            continue
        target = sidecar_path(image)
        if target.exists() and not force and not _is_ours(target):
            report.refused.append(target)
            continue
        doc = {
            "tags": _jsonable(list(rec["tags"])) if rec.get("tags") is not None else [],
            "title": rec.get("title") or "",
            "description": rec.get("description") or "",
            "generator": GENERATOR,
            "backend": rec.get("backend"),
        }
        _write_bytes_atomic(target, (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8"))
        report.written.append(target)
    return report


# --------------------------------------------------------------------------- image metadata

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
    _write_bytes_atomic(target, out)
    return hashlib.sha256(out).hexdigest()


def remember_results(rewritten: Iterable[tuple[str | os.PathLike[str], dict[str, Any]]], *,
                     lang: str, backend: str = "auto", api_key: str | None = None,
                     base_url: str | None = None, cache_dir: Any = None) -> int:
    """Tell the cache that rewritten files still have the tags they had.

    ``rewritten`` holds ``(path, result_row)`` as ``generate`` returned them; see
    :func:`imagetags_df.engine.remember`. Returns how many entries were stored.
    """
    from . import engine
    from ._types import TagResult

    def results() -> Iterator[tuple[str | os.PathLike[str], TagResult]]:
        for path, rec in rewritten:
            scores = rec.get("tag_scores")
            yield path, TagResult(
                tags=[str(t) for t in rec.get("tags") or []], title=rec.get("title") or "",
                description=rec.get("description") or "", request_id=rec.get("request_id"),
                tag_scores=None if scores is None else [float(x) for x in scores],
                backend=rec.get("backend") or "")

    return engine.remember(results(), lang, backend=backend, api_key=api_key, base_url=base_url,
                           cache_dir=cache_dir)


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


# --------------------------------------------------------------------------- alt text

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)


def _page_encoding(raw: bytes) -> str:
    """The page's declared encoding (BOM, then ``<meta charset>``), else UTF-8."""
    if raw.startswith(codecs.BOM_UTF8):
        return "utf-8"
    m = _META_CHARSET.search(raw[:4096])
    if m:
        try:
            return codecs.lookup(m.group(1).decode("ascii")).name
        except LookupError:
            pass
    return "utf-8"


@dataclass(frozen=True)
class ImgTag:
    """One ``<img>`` start tag: where it is in the decoded page and what it says."""

    start: int  # offset of "<" in the decoded text
    end: int  # offset just past ">"
    attrs: dict[str, str | None]


class _ImgFinder(HTMLParser):
    """Collects ``<img>`` tags with their source offsets.

    html.parser knows comments, ``<script>``/``<style>`` contents and CDATA, so an
    ``<img>`` inside those is (rightly) not reported, which a regex would get wrong.
    """

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.text = text
        # html.parser counts lines by "\n" alone (a lone "\r" is not a line break to it).
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.found: list[ImgTag] = []

    def _img(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "img":
            return
        raw = self.get_starttag_text() or ""
        line, col = self.getpos()
        start = self.line_starts[line - 1] + col
        if self.text[start:start + len(raw)] != raw:  # never edit a place we are not sure of
            return
        d: dict[str, str | None] = {}
        for k, v in attrs:
            d.setdefault(k.lower(), v)  # the first of duplicate attributes wins, as in browsers
        self.found.append(ImgTag(start, start + len(raw), d))

    handle_starttag = _img
    handle_startendtag = _img


def find_img_tags(text: str) -> list[ImgTag]:
    """Every ``<img>`` start tag in an HTML text, with offsets into ``text``."""
    parser = _ImgFinder(text)
    parser.feed(text)
    parser.close()
    return parser.found


def _local_source(src: str | None, page_dir: Path, root: Path) -> Path | None:
    """The file an ``src`` points at, or None for remote, data: and empty sources."""
    if not src or not src.strip():
        return None
    parts = urlsplit(src.strip())
    if parts.scheme or parts.netloc:  # http:, https:, data:, //cdn...
        return None
    rel = unquote(parts.path)
    if not rel:
        return None
    if rel.startswith("/"):
        return root / rel.lstrip("/")
    return page_dir / rel


@dataclass
class AltTextReport:
    """What :func:`fill_alt_text` did."""

    images: int = 0  # <img> tags in the page
    filled: int = 0  # tags that got an alt and/or title
    already_done: int = 0  # local images that already had both attributes
    remote: int = 0  # not local files: left alone
    decorative: int = 0  # alt="": left alone
    #: (src, reason) for local images that could not be described.
    failed: list[tuple[str, str]] = field(default_factory=list)
    #: error code (None for a local image error) -> count, like the tag command's summary.
    error_codes: dict[int | None, int] = field(default_factory=dict)
    #: The run's results (one row per distinct local image), for callers who want more.
    results: pd.DataFrame | None = None
    #: The rewritten page, exactly as written (or as it would be written).
    html: bytes = b""


def fill_alt_text(html_path: str | os.PathLike[str], out_path: str | os.PathLike[str] | None = None,
                  *, root: str | os.PathLike[str] | None = None, **generate_options: Any) -> AltTextReport:
    """Fill missing ``alt`` and ``title`` attributes of a page's local ``<img>`` tags.

    ``alt`` gets the image's description and ``title`` its title, from
    :func:`imagetags_df.generate` (same cache, pacing and backends; pass its
    options as keywords). Only attributes that are absent are added; an image
    with ``alt=""``, the author's "decorative image" mark, is left as it is. Sources are resolved
    relative to the page (``/...`` relative to ``root``, default the page's
    folder); remote and ``data:`` images are left alone.

    The page is edited by source offsets, never re-serialised: the new
    attributes are inserted right after ``<img``, and every other byte of the
    file is unchanged. The result is written to ``out_path`` (atomically; pass the
    page's own path to edit it in place) and is always in ``report.html``.

    >>> fill_alt_text("site/index.html", "site/index.alt.html", backend="local")  # doctest: +SKIP
    AltTextReport(images=3, filled=2, ...)
    """
    from . import engine  # the engine pulls in the backends; keep `import export` light

    page = Path(html_path).expanduser()
    try:
        raw = page.read_bytes()
    except OSError as exc:
        raise ImageNotFoundError(f"{page}: could not be read ({exc.strerror or exc})", source=str(page)) from None
    encoding = _page_encoding(raw)
    # surrogateescape maps undecodable bytes to lone surrogates and back, so
    # bytes we do not touch are written back exactly, whatever the page holds.
    text = raw.decode(encoding, errors="surrogateescape")
    tags = find_img_tags(text)
    page_dir = page.parent
    base = Path(root).expanduser() if root is not None else page_dir
    report = AltTextReport(images=len(tags))

    wanted: list[tuple[ImgTag, Path]] = []
    for tag in tags:
        src_file = _local_source(tag.attrs.get("src"), page_dir, base)
        if src_file is None:
            report.remote += 1
        elif tag.attrs.get("alt") == "":
            # alt="" is the author saying "decorative, say nothing" (WCAG H67);
            # a title would make screen readers say something after all.
            report.decorative += 1
        elif "alt" in tag.attrs and "title" in tag.attrs:
            report.already_done += 1
        else:
            wanted.append((tag, src_file))

    edits: list[tuple[int, str]] = []
    if wanted:
        unique = list(dict.fromkeys(str(p) for _, p in wanted))
        results = engine.generate(pd.DataFrame({"path": unique}), col="path", **generate_options)
        report.results = results
        by_path = {str(r.path): r for r in results.itertuples(index=False)}
        for tag, src_file in wanted:
            r = by_path[str(src_file)]
            if not _has_result(r):
                report.failed.append((str(tag.attrs.get("src")), str(r.error)))
                code = None if pd.isna(r.error_code) else int(r.error_code)
                report.error_codes[code] = report.error_codes.get(code, 0) + 1
                continue
            added = ""
            if "alt" not in tag.attrs and r.description:
                added += f' alt="{_attr(r.description, encoding)}"'
            if "title" not in tag.attrs and r.title:
                added += f' title="{_attr(r.title, encoding)}"'
            if added:
                # Right after "<img": the one place where an attribute can always
                # go, whatever quoting or "/>" the rest of the tag uses.
                edits.append((tag.start + len("<img"), added))
                report.filled += 1

    new_text = text
    for offset, insert in sorted(edits, reverse=True):  # back to front keeps offsets valid
        new_text = new_text[:offset] + insert + new_text[offset:]
    report.html = new_text.encode(encoding, errors="surrogateescape")
    if out_path is not None:
        _write_bytes_atomic(Path(out_path).expanduser(), report.html)
    return report


def _attr(value: str, encoding: str) -> str:
    """An attribute value: HTML-escaped, with characters the page's encoding lacks as &#...;."""
    escaped = html.escape(" ".join(str(value).split()), quote=True)
    return escaped.encode(encoding, errors="xmlcharrefreplace").decode(encoding)
