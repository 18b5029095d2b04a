"""Seeing the images beside their tags: a paged gallery and a labeling widget.

* :func:`preview` returns a :class:`Gallery`: thumbnails with title, tag chips and the error
  of failed rows, paged and filterable by tag. In Jupyter it displays as an ipywidgets
  control; everywhere else (plain HTML export, GitHub, VS Code or Colab without the widget
  manager) the ``text/html`` that travels with it shows the same grid, as static HTML.
* :func:`review` returns a :class:`Review`: remove a tag with a click, add one by typing,
  mark the image reviewed. Every edit is written at once to a JSON file the user names, so
  a kernel restart or a closed tab loses nothing and reopening resumes.

Thumbnails are shrunk with Pillow and embedded as ``data:`` URIs: a relative path would
break as soon as the notebook or its HTML export is opened from anywhere else. Only the
rows of the page on display are ever turned into thumbnails, so a 100,000-row frame costs
what ``n`` rows cost.

ipywidgets is an optional extra, imported only when a widget is built.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import html
import io
import json
import math
import os
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import analysis
from ._exceptions import ConfigurationError

__all__ = ["preview", "review", "Gallery", "Review", "thumbnail", "REVIEW_FILE_FORMAT"]

WIDGETS_INSTALL_HINT = 'pip install "imagetags-df[widgets]"'
#: Columns looked at, in order, when ``col=None``.
IMAGE_COLUMN_NAMES = ("path", "image", "file", "filename", "filepath", "image_path", "img")
#: Thumbnails kept in memory per gallery; paging back and forth re-uses them.
THUMB_CACHE_SIZE = 256
#: Tags offered by the gallery's filter control (the most common ones).
FILTER_CHOICES = 500
REVIEW_FILE_FORMAT = "imagetags-df review"
REVIEW_FILE_VERSION = 1


def _ipywidgets():
    try:
        import ipywidgets
    except ImportError as exc:  # pragma: no cover - exercised by a subprocess test
        raise ConfigurationError(
            f"the gallery and review widgets need ipywidgets: {WIDGETS_INSTALL_HINT}") from exc
    return ipywidgets


# --- images ---------------------------------------------------------------------


def image_column(df: pd.DataFrame, col: str | None = None) -> str:
    """The column that holds the images: ``col`` if given, else a likely one."""
    if col is not None:
        if col not in df.columns:
            raise ConfigurationError(f"image column {col!r} not found; columns: {list(df.columns)[:12]}")
        return col
    for name in IMAGE_COLUMN_NAMES:
        if name in df.columns:
            return name
    for name in df.columns:
        first = df[name].dropna().head(1).tolist()
        if first and _looks_like_image(first[0]):
            return str(name)
    raise ConfigurationError(
        "cannot tell which column holds the images: pass col= (the column given to generate)")


def _looks_like_image(value: Any) -> bool:
    if isinstance(value, (bytes, bytearray, os.PathLike)):
        return True
    if isinstance(value, str):
        return value.lower().rsplit(".", 1)[-1] in {"jpg", "jpeg", "png", "webp", "gif", "bmp",
                                                    "tif", "tiff", "heic", "avif"}
    return type(value).__module__.startswith("PIL.")


def _is_missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def image_id(value: Any) -> str:
    """A stable name for an image cell: its path, or the SHA-256 of its bytes/pixels.

    Used to key saved review edits, so they survive re-ordering, filtering or a new index.

    >>> image_id("photos/cat.jpg"), image_id(b"abc")[:15]
    ('photos/cat.jpg', 'sha256:ba7816bf')
    """
    if _is_missing(value):
        return "none"
    if isinstance(value, (str, os.PathLike)):
        return os.fspath(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "sha256:" + hashlib.sha256(bytes(value)).hexdigest()
    if hasattr(value, "tobytes") and hasattr(value, "mode"):  # a PIL image
        h = hashlib.sha256(f"{value.mode}{value.size}".encode())
        h.update(value.tobytes())
        return "sha256:" + h.hexdigest()
    return repr(value)


def thumbnail(value: Any, size: int = 160, quality: int = 75) -> bytes:
    """A JPEG of at most ``size`` x ``size`` pixels from a path, bytes or a PIL image.

    EXIF orientation is applied and transparency is flattened onto white, so what is shown
    is what a viewer would show. Raises OSError/ValueError for unreadable images.

    >>> from PIL import Image
    >>> len(thumbnail(Image.new("RGB", (800, 600)), size=64)) > 0
    True
    """
    from PIL import Image, ImageOps

    if _is_missing(value):
        raise ValueError("no image in this row")
    if isinstance(value, Image.Image):
        im = value.copy()
    else:
        src = io.BytesIO(bytes(value)) if isinstance(value, (bytes, bytearray, memoryview)) else os.fspath(value)
        with Image.open(src) as opened:
            # draft() lets the JPEG decoder skip most of a large photo's pixels.
            opened.draft("RGB", (size * 2, size * 2))
            opened.load()
            im = opened.copy()
    im = ImageOps.exif_transpose(im) or im
    im.thumbnail((size, size))
    if im.mode in ("RGBA", "LA", "P"):
        im = im.convert("RGBA")
        flat = Image.new("RGB", im.size, "white")
        flat.paste(im, mask=im.getchannel("A"))
        im = flat
    elif im.mode != "RGB":
        im = im.convert("RGB")
    out = io.BytesIO()
    im.save(out, "JPEG", quality=quality, optimize=True)
    return out.getvalue()


def _data_uri(jpeg: bytes) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")


def _label_text(value: Any) -> str:
    if isinstance(value, (str, os.PathLike)):
        return os.path.basename(os.fspath(value)) or os.fspath(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"{len(value):,} bytes"
    if hasattr(value, "size") and hasattr(value, "mode"):
        return f"PIL image {value.size[0]}x{value.size[1]}"
    return ""


def _scores(tags: Any, scores: Any) -> dict[str, float]:
    """tag -> confidence, for backends that report one (shown as the chip's tooltip)."""
    try:
        if _is_missing(scores) or _is_missing(tags) or len(scores) != len(tags):
            return {}
        return {str(t): float(s) for t, s in zip(tags, scores)}
    except (TypeError, ValueError):
        return {}


def _text(value: Any) -> str:
    return "" if _is_missing(value) else str(value)


# --- static HTML (shared by the gallery's fallback and its widget) ----------------------

# Inline styles, not a <style> block: sanitising renderers (GitHub, some VS Code setups)
# strip <style> elements but keep style attributes.
_GRID = ("display:grid;grid-template-columns:repeat(auto-fill,minmax({w}px,1fr));gap:10px;"
         "font-family:system-ui,-apple-system,'Segoe UI',sans-serif;font-size:12px;")
_CARD = ("border:1px solid #d0d7de;border-radius:6px;padding:6px;background:#fff;color:#1f2328;"
         "overflow:hidden;")
_IMG_BOX = "height:{h}px;display:flex;align-items:center;justify-content:center;background:#f6f8fa;"
_NOIMG = "color:#8c959f;font-size:11px;padding:4px;text-align:center;"
_TITLE = "font-weight:600;margin:4px 0 2px;line-height:1.25;"
_CHIP = ("display:inline-block;background:#ddf4ff;color:#0550ae;border-radius:10px;"
         "padding:1px 7px;margin:2px 3px 0 0;white-space:nowrap;")
_ERROR = "color:#cf222e;background:#ffebe9;border-radius:4px;padding:2px 4px;margin-top:3px;"
_INFO = "color:#656d76;font:12px system-ui,-apple-system,'Segoe UI',sans-serif;margin-left:8px;"
_META = "color:#656d76;font-size:10px;margin-top:3px;word-break:break-all;"


def _card_html(label: str, img_uri: str | None, img_error: str | None, title: str,
               tags: list[str] | None, error: str, size: int,
               scores: dict[str, float] | None = None) -> str:
    parts = [f'<div class="itdf-card" style="{_CARD}">',
             f'<div style="{_IMG_BOX.format(h=size)}">']
    if img_uri:
        parts.append(f'<img class="itdf-thumb" src="{img_uri}" alt="{html.escape(title or label)}" '
                     f'style="max-width:100%;max-height:{size}px;">')
    else:
        parts.append(f'<div style="{_NOIMG}">image unavailable<br>{html.escape(img_error or "")}</div>')
    parts.append("</div>")
    if title:
        parts.append(f'<div class="itdf-title" style="{_TITLE}">{html.escape(title)}</div>')
    if tags:
        scores = scores or {}
        chips = "".join(
            f'<span class="itdf-chip" style="{_CHIP}"'
            + (f' title="score {scores[t]:.2f}"' if t in scores else "")
            + f">{html.escape(t)}</span>" for t in tags)
        parts.append(f'<div class="itdf-chips">{chips}</div>')
    if error:
        parts.append(f'<div class="itdf-error" style="{_ERROR}">{html.escape(error)}</div>')
    parts.append(f'<div class="itdf-meta" style="{_META}">{html.escape(label)}</div></div>')
    return "".join(parts)


class Gallery:
    """A page of thumbnails with their titles, tags and errors; see :func:`preview`.

    Displaying it in Jupyter shows an ipywidgets control (paging buttons and a tag filter)
    when ipywidgets is installed, with the static grid of :meth:`html` alongside as the
    ``text/html`` fallback. ``gallery.page(2)`` and ``gallery.filter(["cat"])`` change what
    is shown in code.
    """

    def __init__(self, df: pd.DataFrame, n: int = 24, tags: str | Iterable[str] | None = None,
                 page: int = 0, col: str | None = None, thumb_size: int = 160,
                 tags_col: str = "tags") -> None:
        if n < 1:
            raise ConfigurationError(f"n must be at least 1, got {n}")
        self._df = df  # read-only: a gallery never copies or changes the frame
        self.col = image_column(df, col)
        self.n = int(n)
        self.thumb_size = int(thumb_size)
        self.tags_col = tags_col
        self._has_tags = tags_col in df.columns
        self._thumbs: OrderedDict[Any, tuple[str | None, str | None]] = OrderedDict()
        self._widget: Any = None
        self._filter: list[str] = []
        self._rows = np.arange(len(df))
        self.filter(tags)
        self._page = 0
        self.page(page)

    # -- what is shown --
    @property
    def rows(self) -> int:
        """Rows that match the tag filter."""
        return len(self._rows)

    @property
    def pages(self) -> int:
        return max(1, math.ceil(len(self._rows) / self.n))

    @property
    def current_page(self) -> int:
        return self._page

    def filter(self, tags: str | Iterable[str] | None) -> "Gallery":
        """Show only rows carrying every tag in ``tags`` (None: all rows); back to page 0."""
        self._filter = [tags] if isinstance(tags, str) else list(tags or [])
        if self._filter:
            if not self._has_tags:
                raise ConfigurationError(f"cannot filter by tags: no {self.tags_col!r} column")
            # Row positions, not index labels (the index may repeat), and no copy of the
            # frame: the same rule as analysis.filter_tags(all_of=...), failed rows excluded.
            want = set(self._filter)
            lists = analysis.tag_lists(self._df, col=self.tags_col)
            mask = np.fromiter((t is not None and want <= set(t) for t in lists),
                               dtype=bool, count=len(lists))
            self._rows = np.flatnonzero(mask)
        else:
            self._rows = np.arange(len(self._df))
        self._page = 0
        self._refresh()
        return self

    def page(self, page: int) -> "Gallery":
        """Show page ``page`` (0-based; negative counts from the end, like a list)."""
        if page < 0:
            page += self.pages
        self._page = min(max(0, int(page)), self.pages - 1)
        self._refresh()
        return self

    def page_rows(self) -> np.ndarray:
        """Row positions on the current page: never more than ``n``."""
        start = self._page * self.n
        return self._rows[start:start + self.n]

    # -- rendering --
    def _thumb(self, pos: int) -> tuple[str | None, str | None]:
        value = self._df.iat[pos, self._df.columns.get_loc(self.col)]
        # The same file repeated over many rows is shrunk once; other cells by position.
        key: Any = os.fspath(value) if isinstance(value, (str, os.PathLike)) else ("pos", pos)
        if key in self._thumbs:
            self._thumbs.move_to_end(key)
            return self._thumbs[key]
        try:
            result: tuple[str | None, str | None] = (_data_uri(thumbnail(value, self.thumb_size)), None)
        except Exception as exc:  # any unreadable image becomes a note on its card
            result = (None, f"{type(exc).__name__}: {exc}"[:200])
        self._thumbs[key] = result
        if len(self._thumbs) > THUMB_CACHE_SIZE:
            self._thumbs.popitem(last=False)
        return result

    def _card(self, pos: int) -> str:
        row = self._df.iloc[pos]
        value = row[self.col]
        uri, img_error = self._thumb(pos)
        tags = analysis._as_list(row[self.tags_col]) if self._has_tags else None
        error = _text(row.get("error"))
        code = row.get("error_code")
        if not _is_missing(code):
            error = f"error {int(code)}: {error}" if error else f"error {int(code)}"
        label = f"[{self._df.index[pos]}] {_label_text(value)}"
        return _card_html(label, uri, img_error, _text(row.get("title")), tags, error,
                          self.thumb_size, _scores(row.get(self.tags_col), row.get("tag_scores")))

    def summary(self) -> str:
        """One line: which rows are shown, out of how many, with which filter."""
        total = len(self._df)
        if not len(self._rows):
            shown = "no images match"
        else:
            first = self._page * self.n + 1
            last = first + len(self.page_rows()) - 1
            shown = f"images {first:,}–{last:,} of {len(self._rows):,}"
        text = f"{shown} · page {self._page + 1}/{self.pages}"
        if self._filter:
            text += f" · tags: {', '.join(self._filter)} ({total:,} rows in all)"
        return text

    def grid_html(self) -> str:
        """The cards of the current page as one self-contained HTML fragment."""
        cards = "".join(self._card(int(p)) for p in self.page_rows())
        return f'<div class="itdf-grid" style="{_GRID.format(w=self.thumb_size)}">{cards}</div>'

    def html(self) -> str:
        """Static HTML of the current page: a summary line and the grid. No scripts,
        no external files: it renders wherever HTML does."""
        hint = ""
        if self.pages > 1:
            hint = " · other pages: <code>.page(k)</code>"
        return (f'<div class="itdf-gallery"><div class="itdf-summary" style="font:12px system-ui,'
                f'sans-serif;color:#656d76;margin:4px 0 8px">{html.escape(self.summary())}{hint}</div>'
                f"{self.grid_html()}</div>")

    def _repr_html_(self) -> str:
        return self.html()

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        # The widget view for live front-ends, plus the static grid that nbconvert, GitHub
        # and other widget-less viewers fall back to.
        bundle: dict[str, Any] = {"text/plain": repr(self), "text/html": self.html()}
        try:
            widget = self.widget
        except ConfigurationError:
            return bundle
        view = widget._repr_mimebundle_() or {}
        for key, value in view.items():
            if key != "text/plain":
                bundle[key] = value
        return bundle

    def __repr__(self) -> str:
        return f"<Gallery {self.summary()}>"

    # -- the widget --
    @property
    def widget(self) -> Any:
        """The ipywidgets control (built on first use)."""
        if self._widget is None:
            self._widget = self._build_widget()
        return self._widget

    def _build_widget(self) -> Any:
        w = _ipywidgets()
        self._w_prev = w.Button(description="◀ prev", layout=w.Layout(width="80px"))
        self._w_next = w.Button(description="next ▶", layout=w.Layout(width="80px"))
        self._w_info = w.HTML()
        choices = analysis.tag_counts(self._df, col=self.tags_col).index[:FILTER_CHOICES].tolist() \
            if self._has_tags else []
        self._w_filter = w.TagsInput(value=list(self._filter), allowed_tags=choices,
                                     allow_duplicates=False, placeholder="filter by tag",
                                     layout=w.Layout(min_width="240px"))
        self._w_grid = w.HTML()
        self._w_prev.on_click(lambda _: self.page(self._page - 1))
        self._w_next.on_click(lambda _: self.page(self._page + 1))
        self._w_filter.observe(lambda change: self.filter(change["new"]), names="value")
        controls = w.HBox([self._w_prev, self._w_next, self._w_filter, self._w_info],
                          layout=w.Layout(align_items="center", flex_flow="row wrap"))
        box = w.VBox([controls, self._w_grid])
        self._widget = box
        self._refresh()
        return box

    def _refresh(self) -> None:
        if self._widget is None:
            return
        self._w_info.value = f'<span style="{_INFO}">{html.escape(self.summary())}</span>'
        self._w_grid.value = self.grid_html()
        self._w_prev.disabled = self._page == 0
        self._w_next.disabled = self._page >= self.pages - 1
        if list(self._w_filter.value) != self._filter:
            self._w_filter.value = list(self._filter)


def preview(df: pd.DataFrame, n: int = 24, tags: str | Iterable[str] | None = None,
            page: int = 0, col: str | None = None, thumb_size: int = 160,
            tags_col: str = "tags") -> Gallery:
    """A gallery of ``n`` thumbnails per page with titles, tag chips and row errors.

    ``tags`` shows only rows carrying all of them; ``page`` is 0-based. ``col`` names the
    image column (default: ``path``, ``image``, ... or the first column that holds images).
    Only the current page is ever turned into thumbnails.

    >>> df = pd.DataFrame({"path": ["data/samples/chelsea.jpg"], "tags": [["cat"]]})
    >>> preview(df, n=12)  # doctest: +SKIP
    """
    return Gallery(df, n=n, tags=tags, page=page, col=col, thumb_size=thumb_size, tags_col=tags_col)


# --- review -----------------------------------------------------------------------

_FILE_LOCKS: dict[str, threading.Lock] = {}
_FILE_LOCKS_GUARD = threading.Lock()


def _file_lock(path: Path) -> threading.Lock:
    with _FILE_LOCKS_GUARD:
        return _FILE_LOCKS.setdefault(str(path.resolve()), threading.Lock())


def _atomic_write_json(path: Path, data: Any) -> None:
    """Write JSON so that a crash leaves either the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _read_review_file(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"review file {path} cannot be read ({exc}); move it away "
                                 "or pass another path") from exc
    if not isinstance(data, dict) or data.get("format") != REVIEW_FILE_FORMAT:
        raise ConfigurationError(f"{path} is not an imagetags-df review file; pass another path")
    return dict(data.get("edits") or {})


def _jsonable_label(label: Any) -> Any:
    if isinstance(label, np.generic):
        return label.item()
    if isinstance(label, tuple):
        return [_jsonable_label(x) for x in label]
    if label is None or isinstance(label, (str, int, float, bool)):
        return label
    return str(label)


def _edit_key(label: Any, img: str) -> str:
    return json.dumps([_jsonable_label(label), img], ensure_ascii=False)


class _Card:
    """The controls of one image in the review widget (exposed so tests and power users
    can drive them: ``chips[tag].click()``, ``new_tag.value = "x"``, ``reviewed.value``)."""

    def __init__(self, review: "Review", pos: int) -> None:
        w = _ipywidgets()
        self.pos = pos
        self._review = review
        value = review._df.iat[pos, review._df.columns.get_loc(review.col)]
        try:
            image: Any = w.Image(value=thumbnail(value, review.thumb_size), format="jpeg",
                                 layout=w.Layout(max_width=f"{review.thumb_size}px",
                                                 max_height=f"{review.thumb_size}px"))
        except Exception as exc:
            image = w.HTML(f'<div style="{_NOIMG}">image unavailable<br>'
                           f'{html.escape(f"{type(exc).__name__}: {exc}"[:200])}</div>')
        row = review._df.iloc[pos]
        error = _text(row.get("error"))
        info = f'<div style="{_TITLE}">{html.escape(_text(row.get("title")))}</div>'
        if error:
            info += f'<div style="{_ERROR}">{html.escape(error)}</div>'
        info += (f'<div style="{_META}">[{html.escape(str(review._df.index[pos]))}] '
                 f"{html.escape(_label_text(value))}</div>")
        self.chip_box = w.HBox(layout=w.Layout(flex_flow="row wrap"))
        self.chips: dict[str, Any] = {}
        self.new_tag = w.Text(placeholder="add tag, Enter", continuous_update=False,
                              layout=w.Layout(width="95%"))
        self.new_tag.observe(self._on_new_tag, names="value")
        self.reviewed = w.Checkbox(description="reviewed", indent=False,
                                   value=review.is_reviewed(pos), layout=w.Layout(width="auto"))
        self.reviewed.observe(lambda ch: review._set_reviewed(pos, bool(ch["new"])), names="value")
        self.reset = w.Button(description="reset", tooltip="back to the generated tags",
                              layout=w.Layout(width="64px", min_width="64px"))
        self.reset.on_click(lambda _: review._reset(pos))
        info = f'<div style="font-family:system-ui,-apple-system,\'Segoe UI\',sans-serif">{info}</div>'
        self.box = w.VBox([image, w.HTML(info), self.chip_box, self.new_tag,
                           w.HBox([self.reviewed, self.reset],
                                  layout=w.Layout(justify_content="space-between"))],
                          layout=w.Layout(width=f"{review.thumb_size + 40}px", padding="6px",
                                          margin="4px", border="1px solid #d0d7de"))
        self.update()

    def _on_new_tag(self, change: dict[str, Any]) -> None:
        text = (change["new"] or "").strip()
        if not text:
            return
        # Commas separate tags, as in most tag inputs; CJK users may type the full-width one.
        for tag in text.replace("，", ",").split(","):
            self._review._add(self.pos, tag)
        self.new_tag.value = ""

    def update(self) -> None:
        """Redraw chips and state from the review's current edits."""
        w = _ipywidgets()
        tags = self._review.tags_of(self.pos) or []
        buttons = []
        self.chips = {}
        for tag in tags:
            b = w.Button(description=f"{tag} ✕", tooltip=f"remove {tag!r}",
                         layout=w.Layout(width="auto", height="24px", margin="1px"))
            b.on_click(lambda _, t=tag: self._review._remove(self.pos, t))
            self.chips[tag] = b
            buttons.append(b)
        self.chip_box.children = buttons
        done = self._review.is_reviewed(self.pos)
        if self.reviewed.value != done:
            self.reviewed.value = done
        self.box.layout.border = "2px solid #1a7f37" if done else "1px solid #d0d7de"


class Review:
    """Label images: edit each row's tags and mark it reviewed; see :func:`review`.

    Edits are keyed on the row's index label *and* its image (path, or SHA-256 of bytes),
    so they are found again after a restart even if rows were re-ordered or filtered; if
    the index changed, an edit is matched on the image alone when that is unambiguous.
    Edits for rows not in this frame stay in the file untouched.
    """

    def __init__(self, df: pd.DataFrame, path: str | os.PathLike[str], col: str | None = None,
                 n: int = 12, thumb_size: int = 200, tags_col: str = "tags") -> None:
        self._df = df
        self.path = Path(path)
        self.col = image_column(df, col)
        self.n = int(n)
        self.thumb_size = int(thumb_size)
        self.tags_col = tags_col
        self._original = (analysis.tag_lists(df, col=tags_col) if tags_col in df.columns
                          else [None] * len(df))
        images = [image_id(v) for v in df[self.col].tolist()]
        self._keys = [_edit_key(label, img) for label, img in zip(df.index, images)]
        self._edits: dict[str, dict[str, Any]] = {}
        #: new key -> key the edit was saved under before the index changed
        self._moved: dict[str, str] = {}
        self._load(images)
        self._page = 0
        self._widget: Any = None
        self._cards: list[_Card] = []

    def _load(self, images: list[str]) -> None:
        saved = _read_review_file(self.path)
        by_image: dict[str, list[str]] = {}
        for key, entry in saved.items():
            by_image.setdefault(str(entry.get("image")), []).append(key)
        frame_images = pd.Series(images).value_counts()
        for pos, key in enumerate(self._keys):
            if key in saved:
                self._edits[key] = saved[key]
                continue
            img = images[pos]
            # Index changed (reset_index, a new load): fall back to the image alone, but
            # only when neither side has duplicates, so no edit lands on the wrong row.
            if img != "none" and len(by_image.get(img, [])) == 1 and frame_images[img] == 1:
                old = by_image[img][0]
                if old not in self._keys:
                    self._edits[key] = {**saved[old], "index": json.loads(key)[0]}
                    self._moved[key] = old

    # -- state --
    def tags_of(self, pos: int) -> list[str] | None:
        """Current tags of row position ``pos`` (edited, else as generated; None: unknown)."""
        entry = self._edits.get(self._keys[pos])
        if entry is not None:
            return list(entry["tags"])
        original = self._original[pos]
        return None if original is None else list(original)

    def is_reviewed(self, pos: int) -> bool:
        entry = self._edits.get(self._keys[pos])
        return bool(entry and entry.get("reviewed"))

    @property
    def n_reviewed(self) -> int:
        return sum(self.is_reviewed(p) for p in range(len(self._df)))

    def _pos(self, label: Any) -> int:
        loc = self._df.index.get_loc(label)
        if not isinstance(loc, (int, np.integer)):
            raise ConfigurationError(f"index label {label!r} is not unique; use a unique index")
        return int(loc)

    # -- edits (by index label, for code) --
    def remove_tag(self, label: Any, tag: str) -> None:
        """Remove ``tag`` from the row with index ``label`` (saved at once)."""
        self._remove(self._pos(label), tag)

    def add_tag(self, label: Any, tag: str) -> None:
        """Add ``tag`` to the row with index ``label`` (saved at once)."""
        self._add(self._pos(label), tag)

    def set_reviewed(self, label: Any, reviewed: bool = True) -> None:
        """Mark the row with index ``label`` reviewed or not (saved at once)."""
        self._set_reviewed(self._pos(label), reviewed)

    def reset(self, label: Any) -> None:
        """Forget the edits of the row with index ``label`` (saved at once)."""
        self._reset(self._pos(label))

    # -- edits (by position, used by the widget) --
    def _entry(self, pos: int) -> dict[str, Any]:
        key = self._keys[pos]
        if key not in self._edits:
            label, img = json.loads(key)
            self._edits[key] = {"index": label, "image": img,
                                "tags": self.tags_of(pos) or [], "reviewed": False}
        return self._edits[key]

    def _remove(self, pos: int, tag: str) -> None:
        entry = self._entry(pos)
        entry["tags"] = [t for t in entry["tags"] if t != tag]
        self._commit(pos)

    def _add(self, pos: int, tag: str) -> None:
        tag = tag.strip()
        if not tag:
            return
        entry = self._entry(pos)
        if tag not in entry["tags"]:
            entry["tags"] = [*entry["tags"], tag]
        self._commit(pos)

    def _set_reviewed(self, pos: int, reviewed: bool) -> None:
        if self.is_reviewed(pos) == reviewed:
            return
        self._entry(pos)["reviewed"] = bool(reviewed)
        self._commit(pos)

    def _reset(self, pos: int) -> None:
        key = self._keys[pos]
        self._edits.pop(key, None)
        self._commit(pos, delete=True)

    def _commit(self, pos: int, delete: bool = False) -> None:
        """Save this one row's entry to the file, now.

        Read-modify-write of a single entry (not a dump of everything in memory), so two
        Review objects on the same file, e.g. a cell run twice, do not undo each other.
        """
        key = self._keys[pos]
        with _file_lock(self.path):
            edits = _read_review_file(self.path)
            if delete:
                edits.pop(key, None)
            else:
                entry = self._edits[key]
                entry["updated"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
                edits[key] = dict(entry)
            old = self._moved.pop(key, None)
            if old:  # the edit now lives under this row's key
                edits.pop(old, None)
            _atomic_write_json(self.path, {
                "format": REVIEW_FILE_FORMAT, "version": REVIEW_FILE_VERSION,
                "image_column": self.col, "edits": edits})
        self._update_card(pos)

    # -- results --
    def result(self) -> pd.DataFrame:
        """A copy of the frame with ``tags_reviewed`` (list, or None where tagging failed
        and nobody added tags) and ``reviewed`` (bool) columns.

        >>> rv = review(df, path="review.json"); rv.result()  # doctest: +SKIP
        """
        out = self._df.copy()
        out["tags_reviewed"] = [self.tags_of(p) for p in range(len(self._df))]
        out["reviewed"] = np.array([self.is_reviewed(p) for p in range(len(self._df))], dtype=bool)
        return out

    to_frame = result

    # -- the widget --
    @property
    def pages(self) -> int:
        return max(1, math.ceil(len(self._df) / self.n))

    @property
    def cards(self) -> list[_Card]:
        """Cards of the page on display (builds the widget if needed)."""
        _ = self.widget
        return list(self._cards)

    def page(self, page: int) -> "Review":
        if page < 0:
            page += self.pages
        self._page = min(max(0, int(page)), self.pages - 1)
        if self._widget is not None:
            self._show_page()
        return self

    @property
    def widget(self) -> Any:
        if self._widget is None:
            w = _ipywidgets()
            self._w_prev = w.Button(description="◀ prev", layout=w.Layout(width="80px"))
            self._w_next = w.Button(description="next ▶", layout=w.Layout(width="80px"))
            self._w_info = w.HTML()
            self._w_prev.on_click(lambda _: self.page(self._page - 1))
            self._w_next.on_click(lambda _: self.page(self._page + 1))
            self._w_cards = w.Box(layout=w.Layout(flex_flow="row wrap"))
            self._widget = w.VBox([w.HBox([self._w_prev, self._w_next, self._w_info],
                                          layout=w.Layout(align_items="center")), self._w_cards])
            self._show_page()
        return self._widget

    def _show_page(self) -> None:
        start = self._page * self.n
        self._cards = [_Card(self, p) for p in range(start, min(start + self.n, len(self._df)))]
        self._w_cards.children = [c.box for c in self._cards]
        self._w_prev.disabled = self._page == 0
        self._w_next.disabled = self._page >= self.pages - 1
        self._update_info()

    def _update_info(self) -> None:
        if self._widget is not None:
            self._w_info.value = (f'<span style="{_INFO}">page {self._page + 1}/{self.pages} · '
                                  f"{self.n_reviewed:,} of {len(self._df):,} reviewed · saved to "
                                  f"{html.escape(str(self.path))}</span>")

    def _update_card(self, pos: int) -> None:
        for card in self._cards:
            if card.pos == pos:
                card.update()
        self._update_info()

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        text = (f"Review of {len(self._df):,} images: {self.n_reviewed:,} reviewed, "
                f"edits saved to {self.path}. Labeling needs a live Jupyter kernel with "
                f"ipywidgets; .result() gives the reviewed frame.")
        bundle: dict[str, Any] = {"text/plain": text, "text/html": f"<p>{html.escape(text)}</p>"}
        with contextlib.suppress(ConfigurationError):
            bundle.update({k: v for k, v in (self.widget._repr_mimebundle_() or {}).items()
                           if k != "text/plain"})
        return bundle

    def __repr__(self) -> str:
        return f"<Review {len(self._df):,} images, {self.n_reviewed:,} reviewed, file={str(self.path)!r}>"


def review(df: pd.DataFrame, path: str | os.PathLike[str], col: str | None = None,
           n: int = 12, thumb_size: int = 200, tags_col: str = "tags") -> Review:
    """A labeling widget over ``df``: per image, click a tag to remove it, type to add one,
    tick "reviewed". Every edit is written at once (atomically) to the JSON file ``path``;
    calling ``review`` again with the same file resumes. ``.result()`` returns the frame
    with ``tags_reviewed`` and ``reviewed`` columns.

    >>> rv = review(out, path="labels/review.json")   # doctest: +SKIP
    >>> rv                                             # doctest: +SKIP
    >>> reviewed = rv.result()                         # doctest: +SKIP
    """
    return Review(df, path=path, col=col, n=n, thumb_size=thumb_size, tags_col=tags_col)
