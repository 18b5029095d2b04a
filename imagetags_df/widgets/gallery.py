"""A paged, filterable thumbnail gallery with tag chips and the errors of failed rows."""

from __future__ import annotations

import html
import math
import os
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from .. import analysis
from .._exceptions import ConfigurationError
from .cards import GRID_STYLE, INFO_STYLE, card_html
from .thumbnails import (
    THUMB_CACHE_SIZE,
    cell_text,
    data_uri,
    image_column,
    is_missing,
    label_text,
    load_ipywidgets,
    tag_score_map,
    thumbnail,
)

#: Tags offered by the gallery's filter control (the most common ones).
FILTER_CHOICES = 500


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

    def filter(self, tags: str | Iterable[str] | None) -> Gallery:
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

    def page(self, page: int) -> Gallery:
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
            result: tuple[str | None, str | None] = (data_uri(thumbnail(value, self.thumb_size)), None)
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
        error = cell_text(row.get("error"))
        code = row.get("error_code")
        if not is_missing(code):
            error = f"error {int(code)}: {error}" if error else f"error {int(code)}"
        label = f"[{self._df.index[pos]}] {label_text(value)}"
        return card_html(label, uri, img_error, cell_text(row.get("title")), tags, error,
                          self.thumb_size, tag_score_map(row.get(self.tags_col), row.get("tag_scores")))

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
        return f'<div class="itdf-grid" style="{GRID_STYLE.format(w=self.thumb_size)}">{cards}</div>'

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
        w = load_ipywidgets()
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
        self._w_info.value = f'<span style="{INFO_STYLE}">{html.escape(self.summary())}</span>'
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

    >>> df = pd.DataFrame({"path": ["data/samples/chelsea_cat.jpg", "data/samples/coffee.jpg"],
    ...                    "tags": [["cat", "pet"], ["coffee", "drink"]]})
    >>> preview(df, n=12)
    <Gallery images 1–2 of 2 · page 1/1>
    >>> preview(df, tags="drink").page_rows().tolist()
    [1]
    """
    return Gallery(df, n=n, tags=tags, page=page, col=col, thumb_size=thumb_size, tags_col=tags_col)


