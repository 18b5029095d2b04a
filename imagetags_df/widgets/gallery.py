"""A paged thumbnail gallery: tag chips, the errors of failed rows, filters by tag and by
confidence, an enlarged view of one image, and the rows most like one image.

:class:`Gallery` holds what is shown (filter, score threshold, order, page) and renders it
as static HTML; :mod:`.gallery_view` is its live ipywidgets control.
"""

from __future__ import annotations

import html
import math
import os
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any, Literal

import numpy as np
import pandas as pd

from .. import analysis
from .._exceptions import ConfigurationError
from .cards import GRID_STYLE, card_html, image_problem, parse_tags
from .thumbnails import (
    THUMB_CACHE_SIZE,
    cell_text,
    data_uri,
    image_column,
    is_missing,
    label_text,
    tag_score_map,
    thumbnail,
)

Sort = Literal["row", "score"]
_SORTS = ("row", "score")
class Gallery:
    """A page of thumbnails with their titles, tags and errors; see :func:`preview`.

    Displaying it in Jupyter shows an ipywidgets control (paging, a tag box that applies
    on Enter, clickable tag chips, a score threshold, an order, and an enlarged view)
    when ipywidgets is installed, with the static grid of :meth:`html` alongside as the
    ``text/html`` fallback. The same is reachable in code: ``gallery.filter(["cat"])``,
    ``gallery.threshold(0.5)``, ``gallery.sort("score")``, ``gallery.page(2)``,
    ``gallery.enlarge(pos)``, ``gallery.more_like(pos)`` (``gallery.more_like(None)`` shows
    all rows again).
    """

    def __init__(self, df: pd.DataFrame, n: int = 24, tags: str | Iterable[str] | None = None,
                 page: int = 0, col: str | None = None, thumb_size: int = 160,
                 tags_col: str = "tags", min_score: float = 0.0, sort: Sort = "row",
                 cache_dir: str | os.PathLike[str] | bool | None = None) -> None:
        if n < 1:
            raise ConfigurationError(f"n must be at least 1, got {n}")
        self._df = df  # read-only: a gallery never copies or changes the frame
        self.col = image_column(df, col)
        self.n = int(n)
        self.thumb_size = int(thumb_size)
        self.tags_col = tags_col
        # Where "more like this" finds and keeps the embeddings (generate's cache_dir).
        self.cache_dir = cache_dir
        self._has_tags = tags_col in df.columns
        self._thumbs: OrderedDict[Any, tuple[bytes | None, tuple[str, str] | None]] = OrderedDict()
        self._lists: list[list[str] | None] | None = None
        self._scores: list[dict[str, float]] | None = None
        self._view: Any = None
        self._filter: list[str] = []
        self._min_score = 0.0
        self._hidden = 0
        self._sort: Sort = "row"
        self._rows = np.arange(len(df))
        self._page = 0
        self.enlarged: int | None = None
        self._like: int | None = None
        self._similarity: dict[int, float] = {}
        self._select(tags, min_score, sort)
        self.page(page)

    # -- the rows' tags and scores, read once --
    def _tag_lists(self) -> list[list[str] | None]:
        if self._lists is None:
            self._lists = (analysis.tag_lists(self._df, col=self.tags_col) if self._has_tags
                           else [None] * len(self._df))
        return self._lists

    def _tag_scores(self) -> list[dict[str, float]]:
        if self._scores is None:
            if self._has_tags and "tag_scores" in self._df.columns:
                self._scores = [tag_score_map(t, s) for t, s in
                                zip(self._df[self.tags_col].tolist(), self._df["tag_scores"].tolist())]
            else:
                self._scores = [{} for _ in range(len(self._df))]
        return self._scores

    @property
    def has_scores(self) -> bool:
        """True when the backend reported a confidence per tag (``tag_scores``)."""
        return any(self._tag_scores())

    def shown_tags(self, pos: int) -> list[str] | None:
        """Row ``pos``'s tags at or above the score threshold (None: the row failed).

        A tag without a score passes only when there is no threshold.
        """
        tags = self._tag_lists()[pos]
        if tags is None or self._min_score <= 0:
            return tags
        scores = self._tag_scores()[pos]
        return [t for t in tags if scores.get(t, -math.inf) >= self._min_score]

    # -- what is shown --
    @property
    def rows(self) -> int:
        """Rows that match the tag filter and threshold."""
        return len(self._rows)

    @property
    def pages(self) -> int:
        return max(1, math.ceil(len(self._rows) / self.n))

    @property
    def current_page(self) -> int:
        return self._page

    @property
    def tag_filter(self) -> list[str]:
        return list(self._filter)

    @property
    def min_score(self) -> float:
        return self._min_score

    @property
    def order(self) -> Sort:
        return self._sort

    @property
    def like(self) -> int | None:
        """The row position whose look-alikes are shown (None: the rows of the filter)."""
        return self._like

    def similarity(self, pos: int) -> float | None:
        """Row ``pos``'s similarity to the :attr:`like` row (None when not one of its look-alikes)."""
        return self._similarity.get(pos)

    def has_image(self, pos: int) -> bool:
        """True when row ``pos``'s image can be read (its thumbnail could be made)."""
        return self.thumb(pos)[0] is not None

    def more_like(self, pos: int | None, k: int | None = None) -> Gallery:
        """Show row position ``pos`` first, then the ``k`` rows most like it (default: the
        rest of a page), most similar first, by :func:`imagetags_df.lookalikes.similar` with
        the gallery's ``cache_dir``. The look-alikes come from the whole frame; ``None`` goes
        back to the rows of the tag filter, as does any new filter, threshold or order.

        >>> df = pd.DataFrame({"path": ["data/samples/chelsea_cat.jpg", "data/samples/coffee.jpg",
        ...                             "data/samples/dogs.jpg"]})
        >>> g = preview(df, cache_dir=False).more_like(0, k=1)
        >>> g.page_rows().tolist()
        [0, 2]
        >>> g.more_like(None).page_rows().tolist()
        [0, 1, 2]
        """
        if pos is None:
            return self._select(self._filter, self._min_score, self._sort)
        if not 0 <= int(pos) < len(self._df):
            raise ConfigurationError(f"row position {pos} is outside the frame (0..{len(self._df) - 1})")
        pos = int(pos)
        k = self.n - 1 if k is None else k
        from ..lookalikes import similar

        # similar() takes a row label; a repeated index would make one label name several
        # rows, so such a frame is searched by position.
        frame = self._df if self._df.index.is_unique else self._df.reset_index(drop=True)
        out = similar(frame, frame.index[pos], k=max(1, int(k)), col=self.col, cache_dir=self.cache_dir)
        found = frame.index.get_indexer(out.index)
        self._similarity = {int(p): float(s) for p, s in zip(found, out["similarity"])}
        self._rows = np.asarray([pos, *(int(p) for p in found)], dtype=np.int64)
        self._like, self._hidden, self._page = pos, 0, 0
        self._refresh()
        return self

    def filter(self, tags: str | Iterable[str] | None) -> Gallery:
        """Show only rows carrying every tag in ``tags`` (a list, or one string of
        comma-separated tags; None or "" shows all rows). Case is ignored, as in
        :func:`imagetags_df.analysis.filter_tags`. Back to page 0."""
        return self._select(tags, self._min_score, self._sort)

    def toggle(self, tag: str) -> Gallery:
        """Add ``tag`` to the filter, or take it out if it is in (what a chip click does)."""
        folded = tag.casefold()
        if any(t.casefold() == folded for t in self._filter):
            return self.filter([t for t in self._filter if t.casefold() != folded])
        return self.filter([*self._filter, tag])

    def threshold(self, min_score: float) -> Gallery:
        """Count a tag only when its score is at least ``min_score`` (0 to 1): chips below
        it are hidden and the tag filter ignores them (every row stays when there is no
        tag filter). Back to page 0."""
        return self._select(self._filter, min_score, self._sort)

    def sort(self, by: Sort) -> Gallery:
        """``"row"``: frame order. ``"score"``: most confident first, by the lowest score
        among the filter's tags, or, with no filter, the row's highest score; rows
        without scores last. Back to page 0."""
        return self._select(self._filter, self._min_score, by)

    def _select(self, tags: str | Iterable[str] | None, min_score: float, sort: Sort) -> Gallery:
        wanted = parse_tags(tags)
        if wanted and not self._has_tags:
            raise ConfigurationError(f"cannot filter by tags: no {self.tags_col!r} column")
        if not 0 <= float(min_score) <= 1:
            raise ConfigurationError(f"min_score must be between 0 and 1, got {min_score!r}")
        if sort not in _SORTS:
            raise ConfigurationError(f"sort must be one of {_SORTS}, got {sort!r}")
        self._filter, self._min_score, self._sort = wanted, float(min_score), sort
        self._like, self._similarity = None, {}
        want = {t.casefold() for t in wanted}
        if want:
            # Row positions, not index labels (the index may repeat), and no copy of the
            # frame; failed rows never match a filter, as in analysis.filter_tags. Without
            # a tag filter the threshold only hides chips: every row stays.
            keep = []
            for pos in range(len(self._df)):
                shown = self.shown_tags(pos)
                if shown is not None and want <= {t.casefold() for t in shown}:
                    keep.append(pos)
            rows = np.asarray(keep, dtype=np.int64)
        else:
            rows = np.arange(len(self._df))
        self._hidden = 0
        if self._min_score > 0:
            # A card whose every chip is under the threshold would show a picture with no
            # tag: hidden, and counted in the summary. Failed and untagged rows stay.
            visible = [p for p in rows if not self._all_chips_hidden(int(p))]
            self._hidden = len(rows) - len(visible)
            rows = np.asarray(visible, dtype=np.int64)
        if sort == "score":
            keys = np.array([self._row_score(int(p), want) for p in rows], dtype=float)
            rows = rows[np.argsort(-keys, kind="stable")]
        self._rows = rows
        self._page = 0
        self._refresh()
        return self

    def _all_chips_hidden(self, pos: int) -> bool:
        tags = self._tag_lists()[pos]
        return bool(tags) and not self.shown_tags(pos)

    @property
    def hidden(self) -> int:
        """Rows left out because none of their tags reaches ``min_score``."""
        return self._hidden

    def _row_score(self, pos: int, want: set[str]) -> float:
        scores = {t.casefold(): s for t, s in self._tag_scores()[pos].items()}
        if want:
            found = [scores[t] for t in want if t in scores]
            return min(found) if len(found) == len(want) else -math.inf
        return max(scores.values(), default=-math.inf)

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

    def enlarge(self, pos: int | None) -> Gallery:
        """Show row position ``pos`` large, with its description and every tag's score
        (None closes the enlarged view)."""
        if pos is not None and not 0 <= int(pos) < len(self._df):
            raise ConfigurationError(f"row position {pos} is outside the frame (0..{len(self._df) - 1})")
        self.enlarged = None if pos is None else int(pos)
        self._refresh()
        return self

    # -- one row --
    def image_value(self, pos: int) -> Any:
        return self._df.iat[pos, self._df.columns.get_loc(self.col)]

    def thumb(self, pos: int) -> tuple[bytes | None, tuple[str, str] | None]:
        """The JPEG thumbnail of row ``pos``, or ``(None, (friendly, raw))`` when it cannot be made."""
        value = self.image_value(pos)
        # The same file repeated over many rows is shrunk once; other cells by position.
        key: Any = os.fspath(value) if isinstance(value, (str, os.PathLike)) else ("pos", pos)
        if key in self._thumbs:
            self._thumbs.move_to_end(key)
            return self._thumbs[key]
        try:
            result: tuple[bytes | None, tuple[str, str] | None] = (thumbnail(value, self.thumb_size), None)
        except Exception as exc:  # any unreadable image becomes a note on its card
            result = (None, image_problem(exc))
        self._thumbs[key] = result
        if len(self._thumbs) > THUMB_CACHE_SIZE:
            self._thumbs.popitem(last=False)
        return result

    def row_error(self, pos: int) -> str:
        row = self._df.iloc[pos]
        error = cell_text(row.get("error"))
        code = row.get("error_code")
        if not is_missing(code):
            error = f"error {int(code)}: {error}" if error else f"error {int(code)}"
        return error

    def row_label(self, pos: int) -> str:
        return f"[{self._df.index[pos]}] {label_text(self.image_value(pos))}"

    def card_label(self, pos: int) -> str:
        """The card's label: :meth:`row_label`, and its similarity among look-alikes."""
        sim = self._similarity.get(pos)
        return self.row_label(pos) + ("" if sim is None else f" · similarity {sim:.2f}")

    def row_text(self, pos: int, column: str) -> str:
        return cell_text(self._df.iloc[pos].get(column)) if column in self._df.columns else ""

    def row_scores(self, pos: int) -> dict[str, float]:
        return self._tag_scores()[pos]

    def _card(self, pos: int) -> str:
        jpeg, problem = self.thumb(pos)
        error = self.row_error(pos)
        if problem and error:  # the row's own message already says what is wrong
            problem = ("", problem[1])
        return card_html(self.card_label(pos), data_uri(jpeg) if jpeg else None, problem,
                         self.row_text(pos, "title"), self.shown_tags(pos), error,
                         self.thumb_size, self.row_scores(pos))

    # -- rendering --
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
        if self._like is not None:
            # Look-alikes come from the whole frame, by similarity: the tag filter and the
            # order wait for "show all", so they are not named here.
            text += f" · like {self.row_label(self._like)}, then the most similar first"
            if self._min_score > 0:
                text += f" · tags scored ≥ {self._min_score:.2f}"
            return text
        if self._filter:
            text += f" · tags: {', '.join(self._filter)}"
        if self._min_score > 0:
            text += f" · score ≥ {self._min_score:.2f}"
            if self._hidden:
                text += (f" ({self._hidden:,} image{'s' if self._hidden != 1 else ''} with no tag "
                         "that sure hidden)")
        if self._sort == "score":
            text += " · most confident first"
        if self._filter:
            text += f" ({total:,} rows in all)"
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
    def view(self) -> Any:
        """The live control (a :class:`~.gallery_view.GalleryView`), built on first use."""
        if self._view is None:
            from .gallery_view import GalleryView

            self._view = GalleryView(self)
        return self._view

    @property
    def widget(self) -> Any:
        """The ipywidgets control (built on first use)."""
        return self.view.box

    def _refresh(self) -> None:
        if self._view is not None:
            self._view.refresh()


def preview(df: pd.DataFrame, n: int = 24, tags: str | Iterable[str] | None = None,
            page: int = 0, col: str | None = None, thumb_size: int = 160,
            tags_col: str = "tags", min_score: float = 0.0, sort: Sort = "row",
            group_by: str | None = None, group: Any = None,
            cache_dir: str | os.PathLike[str] | bool | None = None) -> Gallery:
    """A gallery of ``n`` thumbnails per page with titles, tag chips and row errors.

    ``group_by`` (a column such as ``cluster`` from ``clusters()`` or ``dup_group``) shows one
    group at a time: ``group`` (default: the first group, in sorted order).

    ``tags`` shows only rows carrying all of them (case ignored); ``min_score`` hides tags
    scored below it (``tag_scores``) and ``sort="score"`` puts the most confident rows
    first; ``page`` is 0-based. ``col`` names the image column (default: ``path``,
    ``image``, ... or the first column that holds images). Only the current page is ever
    turned into thumbnails. In Jupyter, click a chip to filter by its tag and "enlarge"
    to see an image large, "more like this" to see the rows most like it (their embeddings
    are kept in ``cache_dir``, as with ``generate``: None the default cache, False none).

    >>> df = pd.DataFrame({"path": ["data/samples/chelsea_cat.jpg", "data/samples/coffee.jpg"],
    ...                    "tags": [["cat", "pet"], ["coffee", "drink"]],
    ...                    "tag_scores": [{"cat": 0.93, "pet": 0.4}, {"coffee": 0.95, "drink": 0.9}]})
    >>> preview(df, n=12)
    <Gallery images 1–2 of 2 · page 1/1>
    >>> preview(df, tags="Drink").page_rows().tolist()
    [1]
    >>> preview(df, min_score=0.5).shown_tags(0)
    ['cat']
    >>> preview(df, sort="score").page_rows().tolist()
    [1, 0]
    >>> preview(df.assign(cluster=[1, 0]), group_by="cluster").page_rows().tolist()
    [0]
    """
    if group_by is not None:
        df = _one_group(df, group_by, group)
    return Gallery(df, n=n, tags=tags, page=page, col=col, thumb_size=thumb_size, tags_col=tags_col,
                   min_score=min_score, sort=sort, cache_dir=cache_dir)


def _one_group(df: pd.DataFrame, group_by: str, group: Any) -> pd.DataFrame:
    """The rows of one group of ``df[group_by]`` (the first in sorted order by default)."""
    from .._exceptions import ConfigurationError

    if group_by not in df.columns:
        raise ConfigurationError(f"group_by column {group_by!r} is not in the frame; for clusters run "
                                 "df = df.imagetags.clusters() first")
    groups = sorted(df[group_by].dropna().unique().tolist())
    if not groups:
        raise ConfigurationError(f"column {group_by!r} holds no groups")
    chosen = groups[0] if group is None else group
    if chosen not in groups:
        raise ConfigurationError(f"group {chosen!r} is not in column {group_by!r}; groups: {groups[:20]}")
    return df[df[group_by] == chosen]
