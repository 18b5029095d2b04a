"""The live gallery control: ipywidgets around a :class:`~.gallery.Gallery`.

Everything the user can do here is a call on the gallery (``filter``, ``toggle``,
``threshold``, ``sort``, ``page``, ``enlarge``, ``more_like``); the view only draws the
gallery's state.
Each card is made of widgets rather than one HTML string so that a tag chip is a real
button (a click runs Python, which filters) and the thumbnail is an ``Image`` widget.
Card widgets are kept from page to page and refilled, so paging creates only the chips.
"""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING, Any

from .. import analysis
from .cards import (
    FONT_STYLE,
    INFO_STYLE,
    LARGE_SIZE,
    META_STYLE,
    TITLE_STYLE,
    error_html,
    image_problem,
    no_image_html,
    parse_tags,
)
from .thumbnails import load_ipywidgets, thumbnail

if TYPE_CHECKING:
    from .gallery import Gallery

#: Tags offered as completions by the filter box (the most common ones).
FILTER_CHOICES = 500
_CHIP = "#ddf4ff"
_CHIP_ACTIVE = "#0969da"


class _CardSlot:
    """The widgets of one card; refilled with another row when the page changes."""

    def __init__(self, view: GalleryView) -> None:
        w = load_ipywidgets()
        size = view.gallery.thumb_size
        self.view = view
        self.pos: int | None = None
        self.image = w.Image(format="jpeg", layout=w.Layout(max_width=f"{size}px", max_height=f"{size}px",
                                                            object_fit="contain"))
        self.image.add_class("itdf-thumb")
        self.no_image = w.HTML()
        self.image_box = w.Box(layout=w.Layout(height=f"{size}px", display="flex", align_items="center",
                                               justify_content="center", overflow="hidden"))
        self.title = w.HTML()
        self.chip_box = w.Box(layout=w.Layout(display="flex", flex_flow="row wrap"))
        self.chips: dict[str, Any] = {}
        self.error = w.HTML()
        self.meta = w.HTML()
        self.enlarge = w.Button(description="⤢ enlarge", tooltip="show this image large, with every tag's score",
                                layout=w.Layout(width="auto", height="24px", margin="2px 0 0 0"))
        self.enlarge.add_class("itdf-enlarge")
        self.enlarge.on_click(lambda _: self.pos is not None and view.gallery.enlarge(self.pos))
        self.more = w.Button(description="more like this", tooltip="show the images most like this one",
                             layout=w.Layout(width="auto", height="24px", margin="2px 0 0 0"))
        self.more.add_class("itdf-more-like")
        self.more.on_click(lambda _: self.pos is not None and view.gallery.more_like(self.pos))
        # Both buttons at full width, side by side when the card is wide enough.
        self.enlarge.layout.flex = self.more.layout.flex = "0 0 auto"
        buttons = w.HBox([self.enlarge, self.more], layout=w.Layout(flex_flow="row wrap"))
        self.box = w.VBox([self.image_box, self.title, self.chip_box, self.error, self.meta, buttons],
                          layout=w.Layout(width=f"{size + 24}px", padding="6px", margin="4px",
                                          border="1px solid #d0d7de"))
        self.box.add_class("itdf-card")

    def show(self, pos: int) -> None:
        w = load_ipywidgets()
        g = self.view.gallery
        if self.pos != pos:
            self.pos = pos
            jpeg, problem = g.thumb(pos)
            error = g.row_error(pos)
            # A row without an image has nothing to compare.
            self.more.layout.display = None if jpeg is not None else "none"
            if jpeg is not None:
                self.image.value = jpeg
                self.image_box.children = [self.image]
            else:
                friendly, raw = problem or ("the image could not be read", "")
                self.no_image.value = no_image_html("" if error else friendly, raw)
                self.image_box.children = [self.no_image]
            title = g.row_text(pos, "title")
            self.title.value = (f'<div class="itdf-title" style="{FONT_STYLE}{TITLE_STYLE}">'
                                f"{html.escape(title)}</div>") if title else ""
            self.error.value = f'<div style="{FONT_STYLE}">{error_html(error)}</div>' if error else ""
        # The similarity changes with the query while the row stays.
        meta = f'<div style="{FONT_STYLE}{META_STYLE}">{html.escape(g.card_label(pos))}</div>'
        if self.meta.value != meta:
            self.meta.value = meta
        self._chips(w, g.shown_tags(pos) or [], g.row_scores(pos), {t.casefold() for t in g.tag_filter})

    def _chips(self, w: Any, tags: list[str], scores: dict[str, float], active: set[str]) -> None:
        if list(self.chips) == tags:  # same tags: only the highlight can have changed
            for tag, chip in self.chips.items():
                self._paint(chip, tag.casefold() in active)
            return
        for chip in self.chips.values():
            chip.close()
        self.chips = {}
        for tag in tags:
            score = f"score {scores[tag]:.2f} · " if tag in scores else ""
            chip = w.Button(description=tag, tooltip=f"{score}click to filter by {tag!r} (click again to undo)",
                            layout=w.Layout(width="auto", height="22px", margin="1px 2px", padding="0 8px"))
            chip.add_class("itdf-chip")
            chip.on_click(lambda _, t=tag: self.view.gallery.toggle(t))
            self._paint(chip, tag.casefold() in active)
            self.chips[tag] = chip
        self.chip_box.children = list(self.chips.values())

    @staticmethod
    def _paint(chip: Any, active: bool) -> None:
        chip.style.button_color = _CHIP_ACTIVE if active else _CHIP
        chip.style.text_color = "white" if active else "#0550ae"


class GalleryView:
    """Paging buttons, a tag box that applies on Enter, a score threshold and an order,
    the enlarged view, and the cards of the current page."""

    def __init__(self, gallery: Gallery) -> None:
        w = load_ipywidgets()
        self.gallery = g = gallery
        self._syncing = False
        self.prev = w.Button(description="◀ prev", layout=w.Layout(width="80px"))
        self.next = w.Button(description="next ▶", layout=w.Layout(width="80px"))
        self.prev.on_click(lambda _: g.page(g.current_page - 1))
        self.next.on_click(lambda _: g.page(g.current_page + 1))
        choices = (analysis.tag_counts(g._df, col=g.tags_col).index[:FILTER_CHOICES].tolist()
                   if g._has_tags else [])
        # A text box, not TagsInput: its input passes Enter on to JupyterLab, which takes
        # it as a notebook shortcut, so the filter only applied when the box lost focus.
        # Text boxes keep their keys and commit on Enter (continuous_update=False).
        self.tag_box = w.Combobox(placeholder="filter by tag, Enter", options=choices, ensure_option=False,
                                  continuous_update=False, layout=w.Layout(width="230px"))
        self.tag_box.add_class("itdf-tag-box")
        self.tag_box.observe(self._on_tag_box, names="value")
        self.clear = w.Button(description="✕ all tags", tooltip="clear the tag filter",
                              layout=w.Layout(width="auto"))
        self.clear.on_click(lambda _: g.filter(None))
        self.show_all = w.Button(description="✕ show all", tooltip="back from the look-alikes to every row",
                                 layout=w.Layout(width="auto"))
        self.show_all.on_click(lambda _: g.more_like(None))
        self.min_score = w.FloatSlider(value=g.min_score, min=0.0, max=1.0, step=0.05, description="min score",
                                       continuous_update=False, readout_format=".2f",
                                       style={"description_width": "initial"}, layout=w.Layout(width="250px"))
        self.min_score.observe(lambda ch: self._user(g.threshold, float(ch["new"])), names="value")
        self.order = w.Dropdown(options=[("row order", "row"), ("most confident first", "score")],
                                value=g.order, layout=w.Layout(width="190px"))
        self.order.observe(lambda ch: self._user(g.sort, ch["new"]), names="value")
        if not g.has_scores:  # nothing to threshold or sort by
            self.min_score.layout.display = self.order.layout.display = "none"
        self.info = w.HTML()
        controls = w.HBox([self.prev, self.next, self.tag_box, self.clear, self.show_all, self.min_score,
                           self.order],
                          layout=w.Layout(align_items="center", flex_flow="row wrap"))
        self.slots: list[_CardSlot] = []
        self.grid = w.Box(layout=w.Layout(display="flex", flex_flow="row wrap"))
        self.grid.add_class("itdf-cards")
        # The enlarged view, between the controls and the cards.
        self.large_image = w.Image(format="jpeg", layout=w.Layout(max_width="100%", object_fit="contain"))
        self.large_image.add_class("itdf-large")
        self.large_no_image = w.HTML()
        self.large_image_box = w.Box(layout=w.Layout(flex="0 1 auto", max_width="65%"))
        self.large_info = w.HTML(layout=w.Layout(flex="1 1 240px", padding="0 0 0 12px"))
        self.close = w.Button(description="✕ close", layout=w.Layout(width="auto"))
        self.close.on_click(lambda _: g.enlarge(None))
        self.large = w.VBox([self.close, w.HBox([self.large_image_box, self.large_info])],
                            layout=w.Layout(display="none", border="1px solid #d0d7de", padding="8px",
                                            margin="4px 0"))
        self.large.add_class("itdf-enlarged")
        self._large_pos: int | None = None
        self.box = w.VBox([controls, self.info, self.large, self.grid])
        self.box.add_class("itdf-gallery-widget")
        self.refresh()

    def _user(self, action: Any, value: Any) -> None:
        if not self._syncing:  # a change made by refresh() itself is not a user's request
            action(value)

    def _on_tag_box(self, change: dict[str, Any]) -> None:
        self._user(self.gallery.filter, change["new"])

    @property
    def cards(self) -> list[_CardSlot]:
        """The cards on display, in order."""
        return self.slots[:len(self.gallery.page_rows())]

    def refresh(self) -> None:
        g = self.gallery
        self._syncing = True
        try:
            text = ", ".join(g.tag_filter)
            if [t.casefold() for t in parse_tags(self.tag_box.value)] != [t.casefold() for t in g.tag_filter]:
                self.tag_box.value = text
            self.clear.layout.display = None if g.tag_filter else "none"
            self.show_all.layout.display = None if g.like is not None else "none"
            if not math.isclose(self.min_score.value, g.min_score):
                self.min_score.value = g.min_score
            if self.order.value != g.order:
                self.order.value = g.order
        finally:
            self._syncing = False
        self.info.value = f'<span class="itdf-summary" style="{INFO_STYLE}">{html.escape(g.summary())}</span>'
        self.prev.disabled = g.current_page == 0
        self.next.disabled = g.current_page >= g.pages - 1
        rows = [int(p) for p in g.page_rows()]
        while len(self.slots) < len(rows):
            self.slots.append(_CardSlot(self))
        for slot, pos in zip(self.slots, rows):
            slot.show(pos)
        children = [s.box for s in self.slots[:len(rows)]]
        if list(self.grid.children) != children:
            self.grid.children = children
        self._show_large()

    def _show_large(self) -> None:
        g = self.gallery
        pos = g.enlarged
        if pos is None:
            self.large.layout.display = "none"
            self._large_pos = None
            return
        self.large.layout.display = None
        if pos == self._large_pos:
            return
        self._large_pos = pos
        try:
            self.large_image.value = thumbnail(g.image_value(pos), LARGE_SIZE, quality=85)
            self.large_image_box.children = [self.large_image]
        except Exception as exc:
            friendly, raw = image_problem(exc)
            self.large_no_image.value = no_image_html(friendly, raw)
            self.large_image_box.children = [self.large_no_image]
        scores = g.row_scores(pos)
        rows = "".join(
            f'<tr><td style="padding:1px 10px 1px 0">{html.escape(t)}</td>'
            f'<td style="text-align:right;color:#656d76">{scores[t]:.2f}</td></tr>' if t in scores else
            f'<tr><td colspan="2">{html.escape(t)}</td></tr>'
            for t in (g._tag_lists()[pos] or []))
        error = g.row_error(pos)
        parts = [f'<div class="itdf-large-info" style="{FONT_STYLE}">']
        title = g.row_text(pos, "title")
        if title:
            parts.append(f'<div style="{TITLE_STYLE}font-size:15px">{html.escape(title)}</div>')
        description = g.row_text(pos, "description")
        if description:
            parts.append(f'<p style="margin:4px 0 8px">{html.escape(description)}</p>')
        if rows:
            head = "<tr><th style='text-align:left'>tag</th><th>score</th></tr>" if scores else ""
            parts.append(f'<table class="itdf-scores" style="border-collapse:collapse">{head}{rows}</table>')
        if error:
            parts.append(error_html(error))
        parts.append(f'<div style="{META_STYLE}">{html.escape(g.row_label(pos))}</div></div>')
        self.large_info.value = "".join(parts)

