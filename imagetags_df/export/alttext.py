"""Filling missing ``alt`` and ``title`` attributes of a web page's images from their tags."""

from __future__ import annotations

import codecs
import html
import os
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pandas as pd

from .._exceptions import ImageNotFoundError
from .atomic import write_bytes_atomic
from .sidecars import has_result

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


def _inside(path: Path, site: Path) -> bool:
    """True when ``path``, with ``..`` and symbolic links resolved, lies in the folder ``site``."""
    return Path(os.path.realpath(path)).is_relative_to(site)


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
    #: src of images left without alt text because the backend was not sure enough of what
    #: they show (its confidence below ``min_confidence``, or nothing recognised): a wrong
    #: or empty description read out by a screen reader is worse than none.
    unsure: list[str] = field(default_factory=list)
    #: src of images that lead outside the site's root (``../../private/x.jpg``, or a link
    #: out of it): never read, never sent to a backend.
    outside: list[str] = field(default_factory=list)
    #: error code (None for a local image error) -> count, like the tag command's summary.
    error_codes: dict[int | None, int] = field(default_factory=dict)
    #: The run's results (one row per distinct local image), for callers who want more.
    results: pd.DataFrame | None = None
    #: The rewritten page, exactly as written (or as it would be written).
    html: bytes = b""


#: Default lowest confidence worth writing into a page. On the offline tagger's 162
#: calibration photos, 13 % of the images it named anything on had a wrong tag; from .60
#: on, 12 % (8 of 67), below it 4 of 23.
ALT_MIN_CONFIDENCE = 0.6


def fill_alt_text(html_path: str | os.PathLike[str], out_path: str | os.PathLike[str] | None = None,
                  *, root: str | os.PathLike[str] | None = None, min_confidence: float = ALT_MIN_CONFIDENCE,
                  **generate_options: Any) -> AltTextReport:
    """Fill missing ``alt`` and ``title`` attributes of a page's local ``<img>`` tags.

    ``alt`` gets the image's description and ``title`` its title, from
    :func:`imagetags_df.generate` (same cache, pacing and backends; pass its
    options as keywords). Only attributes that are absent are added; an image
    with ``alt=""``, the author's "decorative image" mark, is left as it is. Sources are resolved
    relative to the page (``/...`` relative to ``root``, default the page's
    folder), and must stay inside ``root``: one leading out of it is never read, and is
    listed in ``report.outside``; remote and ``data:`` images are left alone. Images the backend is not sure of
    (``confidence`` below ``min_confidence``; backends that report no confidence are
    trusted) or that it could not describe are left without alt text and listed in
    ``report.unsure``.

    The page is edited by source offsets, never re-serialised: the new
    attributes are inserted right after ``<img``, and every other byte of the
    file is unchanged. The result is written to ``out_path`` (atomically; pass the
    page's own path to edit it in place) and is always in ``report.html``.

    >>> fill_alt_text("site/index.html", "site/index.alt.html", backend="local")  # doctest: +SKIP
    AltTextReport(images=3, filled=2, ...)
    """
    from .. import engine  # the engine pulls in the backends; keep `import export` light

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
    site = Path(os.path.realpath(base))
    report = AltTextReport(images=len(tags))

    wanted: list[tuple[ImgTag, Path]] = []
    for tag in tags:
        src_file = _local_source(tag.attrs.get("src"), page_dir, base)
        if src_file is None:
            report.remote += 1
        elif not _inside(src_file, site):
            # A page must not make us read (and, with an API backend, upload) files from
            # outside its site: ../ climbing out, or a symbolic link pointing away.
            report.outside.append(str(tag.attrs.get("src")))
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
            if not has_result(r):
                report.failed.append((str(tag.attrs.get("src")), str(r.error)))
                code = None if pd.isna(r.error_code) else int(r.error_code)
                report.error_codes[code] = report.error_codes.get(code, 0) + 1
                continue
            confidence = getattr(r, "confidence", float("nan"))
            if not r.description or (not pd.isna(confidence) and confidence < min_confidence):
                report.unsure.append(str(tag.attrs.get("src")))
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
        write_bytes_atomic(Path(out_path).expanduser(), report.html)
    return report


def _attr(value: str, encoding: str) -> str:
    """An attribute value: HTML-escaped, with characters the page's encoding lacks as &#...;."""
    escaped = html.escape(" ".join(str(value).split()), quote=True)
    return escaped.encode(encoding, errors="xmlcharrefreplace").decode(encoding)

