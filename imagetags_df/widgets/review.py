"""A labeling widget: remove, add and confirm tags, every edit saved at once to a JSON file."""

from __future__ import annotations

import contextlib
import html
import json
import math
import os
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import analysis
from .._exceptions import ConfigurationError
from ..backends.vlm_prompt import normalise
from ..export.atomic import atomic_path
from .cards import FONT_STYLE, INFO_STYLE, META_STYLE, TITLE_STYLE, error_html, image_problem, no_image_html
from .thumbnails import cell_text, image_column, image_id, label_text, load_ipywidgets, thumbnail

REVIEW_FILE_FORMAT = "imagetags-df review"
REVIEW_FILE_VERSION = 1



_FILE_LOCKS: dict[str, threading.Lock] = {}
_FILE_LOCKS_GUARD = threading.Lock()


def _file_lock(path: Path) -> threading.Lock:
    with _FILE_LOCKS_GUARD:
        return _FILE_LOCKS.setdefault(str(path.resolve()), threading.Lock())


def _atomic_write_json(path: Path, data: Any) -> None:
    """Write JSON so that a crash leaves either the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # A labels file is often shared: created with the umask's permissions (not mkstemp's
    # private 0600), and an existing file keeps its own.
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False, indent=1)
        f.flush()
        os.fsync(f.fileno())


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
    can drive them: ``chips[tag].click()``, ``new_tag.value = "x"``, ``reviewed.value``).

    A row whose image cannot be shown gets no "add tag" box and no "reviewed" box
    (``new_tag`` and ``reviewed`` are None): nobody can confirm tags of a picture they
    cannot see. Its card says why; ``Review.add_tag`` still works from code.
    """

    def __init__(self, review: Review, pos: int) -> None:
        w = load_ipywidgets()
        self.pos = pos
        self._review = review
        value = review._df.iat[pos, review._df.columns.get_loc(review.col)]
        row = review._df.iloc[pos]
        error = cell_text(row.get("error"))
        self.has_image = True
        try:
            image: Any = w.Image(value=thumbnail(value, review.thumb_size), format="jpeg",
                                 layout=w.Layout(max_width=f"{review.thumb_size}px",
                                                 max_height=f"{review.thumb_size}px"))
            image.add_class("itdf-review-thumb")
        except Exception as exc:
            self.has_image = False
            friendly, raw = image_problem(exc)
            image = w.HTML(no_image_html("" if error else friendly, raw))
        info = f'<div style="{TITLE_STYLE}">{html.escape(cell_text(row.get("title")))}</div>'
        if error:
            info += error_html(error)
        info += (f'<div style="{META_STYLE}">[{html.escape(str(review._df.index[pos]))}] '
                 f"{html.escape(label_text(value))}</div>")
        self.chip_box = w.HBox(layout=w.Layout(flex_flow="row wrap"))
        self.chips: dict[str, Any] = {}
        self.new_tag: Any = None
        self.reviewed: Any = None
        self.reset = w.Button(description="reset", tooltip="back to the generated tags",
                              layout=w.Layout(width="64px", min_width="64px"))
        self.reset.on_click(lambda _: review._reset(pos))
        info = f'<div style="{FONT_STYLE}">{info}</div>'
        children: list[Any] = [image, w.HTML(info), self.chip_box]
        if self.has_image:
            self.new_tag = w.Text(placeholder="add tag, Enter", continuous_update=False,
                                  layout=w.Layout(width="95%"))
            self.new_tag.observe(self._on_new_tag, names="value")
            self.reviewed = w.Checkbox(description="reviewed", indent=False,
                                       value=review.is_reviewed(pos), layout=w.Layout(width="auto"))
            self.reviewed.observe(lambda ch: review._set_reviewed(pos, bool(ch["new"])), names="value")
            children += [self.new_tag, w.HBox([self.reviewed, self.reset],
                                              layout=w.Layout(justify_content="space-between"))]
        else:
            children.append(w.HTML(f'<div style="{FONT_STYLE}{META_STYLE}">no image to review</div>'))
            # reset stays for edits made earlier (or from code), so they can be undone
            children.append(self.reset)
        self.box = w.VBox(children, layout=w.Layout(width=f"{review.thumb_size + 40}px", padding="6px",
                                                    margin="4px", border="1px solid #d0d7de"))
        self.box.add_class("itdf-review-card")
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
        w = load_ipywidgets()
        tags = self._review.tags_of(self.pos) or []
        buttons = []
        self.chips = {}
        for tag in tags:
            b = w.Button(description=f"{tag} ✕", tooltip=f"remove {tag!r}",
                         layout=w.Layout(width="auto", height="24px", margin="1px"))
            b.on_click(lambda _, t=tag: self._review._remove(self.pos, t))
            b.disabled = not self.has_image
            self.chips[tag] = b
            buttons.append(b)
        self.chip_box.children = buttons
        done = self._review.is_reviewed(self.pos)
        if self.reviewed is not None and self.reviewed.value != done:
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
        self._spellings: dict[str, str] | None = None
        self._all_lower = True
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
        # Kept so a removed tag can teach a label model what the image is not
        # (imagetags_df.learn.labels_from_review).
        entry["rejected"] = [*[t for t in entry.get("rejected", []) if t != tag], tag]
        self._commit(pos)

    def spelling(self, tag: str) -> str:
        """``tag`` as the tagger would write it: Unicode NFKC, single spaces, and the
        spelling a tag already has in this frame ("Kitten" -> "kitten"); a new tag is
        lower-cased when every tag of the frame is (not German nouns, say).

        >>> Review(pd.DataFrame({"path": ["a.jpg"], "tags": [["kitten", "cat"]]}), "r.json").spelling(" Kitten ")
        'kitten'
        """
        tag = normalise(tag)
        if self._spellings is None:
            self._spellings = {}
            for tags in self._original:
                for t in tags or []:
                    self._spellings.setdefault(t.casefold(), t)
            self._all_lower = all(t == t.lower() for t in self._spellings.values())
        known = self._spellings.get(tag.casefold())
        if known is not None:
            return known
        return tag.lower() if self._all_lower else tag

    def _add(self, pos: int, tag: str) -> None:
        tag = self.spelling(tag)
        if not tag:
            return
        entry = self._entry(pos)
        key = tag.casefold()
        if key not in {t.casefold() for t in entry["tags"]}:
            entry["tags"] = [*entry["tags"], tag]
        if key in {t.casefold() for t in entry.get("rejected", [])}:
            entry["rejected"] = [t for t in entry["rejected"] if t.casefold() != key]
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

        >>> df = pd.DataFrame({"path": ["data/samples/coffee.jpg"], "tags": [["coffee", "cake"]]})
        >>> rv = review(df, path="review.json")
        >>> rv.remove_tag(0, "cake")
        >>> rv.result()[["tags", "tags_reviewed", "reviewed"]]
                     tags tags_reviewed  reviewed
        0  [coffee, cake]      [coffee]     False
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

    def page(self, page: int) -> Review:
        if page < 0:
            page += self.pages
        self._page = min(max(0, int(page)), self.pages - 1)
        if self._widget is not None:
            self._show_page()
        return self

    @property
    def widget(self) -> Any:
        if self._widget is None:
            w = load_ipywidgets()
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
            self._w_info.value = (f'<span class="itdf-review-info" style="{INFO_STYLE}">page '
                                  f"{self._page + 1}/{self.pages} · {self.n_reviewed:,} of "
                                  f"{len(self._df):,} reviewed · {html.escape(self.saved_where())}</span>")

    def saved_where(self) -> str:
        """Where the edits are, worded for what is on disk now: the file is written at the
        first edit, so before that it does not exist and nothing is "saved" yet."""
        if self.path.exists():
            return f"saved to {self.path}"
        return f"no edits yet; the first one creates {self.path}"

    def _update_card(self, pos: int) -> None:
        for card in self._cards:
            if card.pos == pos:
                card.update()
        self._update_info()

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        text = (f"Review of {len(self._df):,} images: {self.n_reviewed:,} reviewed, "
                f"{self.saved_where()}. Labeling needs a live Jupyter kernel with "
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

    >>> df = pd.DataFrame({"path": ["data/samples/chelsea_cat.jpg"], "tags": [["cat", "sofa"]]})
    >>> rv = review(df, path="labels/review.json")   # display rv in Jupyter to label by hand
    >>> rv.remove_tag(0, "sofa")
    >>> rv.set_reviewed(0)
    >>> review(df, path="labels/review.json").result()[["tags_reviewed", "reviewed"]]
      tags_reviewed  reviewed
    0         [cat]      True
    """
    return Review(df, path=path, col=col, n=n, thumb_size=thumb_size, tags_col=tags_col)

