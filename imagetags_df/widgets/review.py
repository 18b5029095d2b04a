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
from .cards import (
    FONT_STYLE,
    INFO_STYLE,
    LEARNED_CHIP_STYLE,
    META_STYLE,
    TITLE_STYLE,
    error_html,
    image_problem,
    no_image_html,
)
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
        #: A label model's labels for this image, not yet accepted or rejected: label ->
        #: ``(accept, reject)`` buttons (only when the review has learned labels).
        self.learned: dict[str, tuple[Any, Any]] = {}
        self.learned_box = w.HBox(layout=w.Layout(flex_flow="row wrap"))
        self.new_tag: Any = None
        self.reviewed: Any = None
        self.reset = w.Button(description="reset", tooltip="back to the generated tags",
                              layout=w.Layout(width="64px", min_width="64px"))
        self.reset.on_click(lambda _: review._reset(pos))
        info = f'<div style="{FONT_STYLE}">{info}</div>'
        children: list[Any] = [image, w.HTML(info), self.chip_box]
        if review.has_learned:
            children.append(self.learned_box)
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
        if self._review.has_learned:
            self._update_learned(w)
        done = self._review.is_reviewed(self.pos)
        if self.reviewed is not None and self.reviewed.value != done:
            self.reviewed.value = done
        self.box.layout.border = "2px solid #1a7f37" if done else "1px solid #d0d7de"


    def _update_learned(self, w: Any) -> None:
        """Learned labels as chips unlike the tags': dashed violet, the model's probability,
        a ✓ to accept and a ✕ to reject; a guess below every threshold ends in "?"."""
        self.learned = {}
        boxes = []
        for label, score, sure in self._review.learned_of(self.pos):
            text = f"{label}{'' if sure else '?'} {score:.2f}"
            chip = w.HTML(f'<span class="itdf-learned-chip" style="{LEARNED_CHIP_STYLE}" '
                          f'title="learned label, probability {score:.2f}">{html.escape(text)}</span>')
            accept = w.Button(description="✓", tooltip=f"accept {label!r}: it is right",
                              layout=w.Layout(width="28px", height="24px", margin="1px", padding="0"))
            reject = w.Button(description="✕", tooltip=f"reject {label!r}: it is wrong",
                              layout=w.Layout(width="28px", height="24px", margin="1px", padding="0"))
            accept.add_class("itdf-learned-accept")
            reject.add_class("itdf-learned-reject")
            accept.on_click(lambda _, t=label: self._review._accept(self.pos, t))
            reject.on_click(lambda _, t=label: self._review._reject(self.pos, t))
            accept.disabled = reject.disabled = not self.has_image
            self.learned[label] = (accept, reject)
            box = w.HBox([chip, accept, reject], layout=w.Layout(align_items="center", margin="1px 4px 1px 0"))
            box.add_class("itdf-learned")
            boxes.append(box)
        self.learned_box.children = boxes


class Review:
    """Label images: edit each row's tags and mark it reviewed; see :func:`review`.

    Edits are keyed on the row's index label *and* its image (path, or SHA-256 of bytes),
    so they are found again after a restart even if rows were re-ordered or filtered; if
    the index changed, an edit is matched on the image alone when that is unambiguous.
    Edits for rows not in this frame stay in the file untouched.
    """

    def __init__(self, df: pd.DataFrame, path: str | os.PathLike[str], col: str | None = None,
                 n: int = 12, thumb_size: int = 200, tags_col: str = "tags", model: Any = None,
                 labels: str | None = None) -> None:
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
        #: Row positions in the order pages show them ("label these next" puts suggestions first).
        self._order = list(range(len(df)))
        self._status = ""
        self.model = model
        self.labels_col = labels if labels is not None else (
            model.label_column if model is not None and model.label_column in df.columns else None)
        if self.labels_col is not None and self.labels_col not in df.columns:
            raise ConfigurationError(f"labels column {self.labels_col!r} not found; the frame has "
                                     f"{', '.join(map(str, df.columns))}")
        #: Row position -> learned labels / scores: from the frame's columns, or predicted a
        #: page at a time (a review of a million rows embeds only what is shown).
        self._learned: dict[int, Any] = {}
        self._scores: dict[int, Any] = {}
        if "learned" in df.columns:
            self._learned = dict(enumerate(df["learned"].tolist()))
            self._scores = dict(enumerate(df["learned_scores"].tolist() if "learned_scores" in df.columns
                                          else [None] * len(df)))

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

    # -- learned labels --
    @property
    def has_learned(self) -> bool:
        """True when there are learned labels to show (a model, or ``learned`` columns)."""
        return bool(self._learned) or self.model is not None

    def _predict(self, positions: list[int]) -> None:
        missing = [p for p in positions if p not in self._learned]
        if self.model is None or not missing:
            return
        frame = self._df[[self.col]].iloc[missing].reset_index(drop=True)
        out = self.model.predict(frame, col=self.col)
        for p, learned, scores in zip(missing, out["learned"].tolist(), out["learned_scores"].tolist()):
            self._learned[p], self._scores[p] = learned, scores

    def accepted_of(self, pos: int) -> list[str]:
        entry = self._edits.get(self._keys[pos])
        return list(entry.get("accepted", [])) if entry else []

    def rejected_of(self, pos: int) -> list[str]:
        entry = self._edits.get(self._keys[pos])
        return list(entry.get("rejected", [])) if entry else []

    def learned_of(self, pos: int) -> list[tuple[str, float, bool]]:
        """The learned labels row ``pos`` shows, waiting for a person: ``(label, probability,
        sure)``, most likely first; ``sure`` is False for the best guess of a row the model
        emits nothing for (still worth a click either way). Accepted, rejected and labels the
        row already has as tags are not shown again."""
        self._predict([pos])
        if pos not in self._learned:
            return []
        learned, scores = self._learned[pos], self._scores.get(pos)
        scores = scores if isinstance(scores, dict) else {}
        done = {t.casefold() for t in [*(self.tags_of(pos) or []), *self.rejected_of(pos),
                                       *self.accepted_of(pos)]}
        if self.labels_col is not None:
            done |= {t.casefold() for t in _label_list(self._df.iat[pos, self._df.columns.get_loc(self.labels_col)])}
        shown = [(str(t), float(scores.get(t, float("nan"))), True) for t in (learned if isinstance(learned, list) else [])]
        if not shown and scores:
            best = max(scores, key=lambda t: scores[t])
            shown = [(str(best), float(scores[best]), False)]
        return [item for item in shown if item[0].casefold() not in done]

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

    def accept(self, label: Any, learned: str) -> None:
        """Accept the learned label ``learned`` for the row with index ``label``: it becomes one
        of the row's tags and a positive example when learning again (saved at once)."""
        self._accept(self._pos(label), learned)

    def reject(self, label: Any, learned: str) -> None:
        """Reject the learned label ``learned`` for the row with index ``label``: a negative
        example of it when learning again (saved at once, as a removed tag is)."""
        self._reject(self._pos(label), learned)

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
        if tag in entry.get("accepted", []):
            entry["accepted"] = [t for t in entry["accepted"] if t != tag]
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

    def _accept(self, pos: int, label: str) -> None:
        entry = self._entry(pos)
        if label.casefold() not in {t.casefold() for t in entry["tags"]}:
            entry["tags"] = [*entry["tags"], label]
        entry["accepted"] = [*[t for t in entry.get("accepted", []) if t != label], label]
        entry["rejected"] = [t for t in entry.get("rejected", []) if t != label]
        self._commit(pos)

    def _reject(self, pos: int, label: str) -> None:
        entry = self._entry(pos)
        entry["tags"] = [t for t in entry["tags"] if t != label]
        entry["accepted"] = [t for t in entry.get("accepted", []) if t != label]
        entry["rejected"] = [*[t for t in entry.get("rejected", []) if t != label], label]
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
        if self.has_learned:
            out["learned_accepted"] = [self.accepted_of(p) for p in range(len(self._df))]
            out["learned_rejected"] = [[t for t in self.rejected_of(p) if t in self._label_names()]
                                       for p in range(len(self._df))]
        return out

    def _label_names(self) -> set[str]:
        names = set(self.model.labels) if self.model is not None else set()
        for scores in self._scores.values():
            if isinstance(scores, dict):
                names |= set(scores)
        if self.labels_col is not None:
            for value in self._df[self.labels_col].tolist():
                names |= set(_label_list(value))
        for p in range(len(self._df)):
            names |= set(self.accepted_of(p))
        return names

    def training_labels(self) -> pd.DataFrame:
        """What "learn again" learns from, one row per image: the image column, ``label`` (the
        frame's labels column, if any, plus the learned labels accepted here) and ``rejected``
        (learned labels rejected here). Tags removed that no label model knows are left out.

        >>> df = pd.DataFrame({"path": ["data/samples/coffee.jpg"], "label": [None],
        ...                    "learned": [["drink"]], "learned_scores": [{"drink": 0.95}]})
        >>> rv = review(df, path="review.json", labels="label")
        >>> rv.accept(0, "drink")
        >>> rv.training_labels()
                              path    label rejected
        0  data/samples/coffee.jpg  [drink]       []
        """
        names = self._label_names()
        rows = []
        for p in range(len(self._df)):
            given = _label_list(self._df.iat[p, self._df.columns.get_loc(self.labels_col)]) if self.labels_col else []
            label = list(dict.fromkeys([*given, *self.accepted_of(p)]))
            rejected = [t for t in self.rejected_of(p) if t in names and t not in label]
            rows.append({self.col: self._df.iat[p, self._df.columns.get_loc(self.col)],
                         "label": label or None, "rejected": rejected})
        return pd.DataFrame(rows, columns=[self.col, "label", "rejected"])

    def learn_again(self) -> Any:
        """Learn the labels again from :meth:`training_labels` (same cache and ``min_precision``
        as the model given), show the new model's labels, and return it.

        >>> df = pd.DataFrame({"path": ["data/samples/coffee.jpg", "data/samples/rocket.jpg"],
        ...                    "label": ["drink", None], "learned": [[], []], "learned_scores": [{}, {}]})
        >>> rv = review(df, path="review.json", labels="label")
        >>> rv.accept(1, "space")
        >>> rv.learn_again().report()[["label", "positives", "negatives"]]
           label  positives  negatives
        0  drink          1          1
        1  space          1          1
        """
        from ..learn import learn

        frame = self.training_labels()
        kwargs: dict[str, Any] = {}
        if self.model is not None:
            kwargs = {"cache_dir": self.model.cache_dir, "min_precision": self.model.min_precision}
        model = learn(frame, labels="label", col=self.col, rejected="rejected", progress=False, **kwargs)
        self.model = model
        self._learned, self._scores = {}, {}
        report = model.report()
        self._status = (f"learned {len(report)} label(s) from {int(frame['label'].notna().sum()):,} labelled "
                        f"image(s); {int(report['threshold'].notna().sum())} sure enough to show without '?'")
        if self._widget is not None:
            self.next_button.disabled = False
            self._show_page()
        return model

    def label_next(self, n: int = 20) -> pd.DataFrame:
        """Put the ``n`` rows the model would learn most from first (``model.suggest`` on the
        rows not labelled yet) and go to the first page; returns those rows."""
        if self.model is None:
            raise ConfigurationError("'label these next' needs a label model: pass model= (or learn again first)")
        frame = self.training_labels().rename(columns={"label": self.model.label_column})
        frame.index = range(len(frame))
        picks = self.model.suggest(frame, n=n, col=self.col)
        first = [int(i) for i in picks.index]
        self._order = first + [p for p in range(len(self._df)) if p not in set(first)]
        self._status = f"the {len(first)} image(s) to label next come first"
        self.page(0)
        return self._df.iloc[first]

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
            bar = [self._w_prev, self._w_next, self._w_info]
            if self.has_learned:
                self.next_button = w.Button(description="label these next",
                                            layout=w.Layout(width="auto", min_width="128px"),
                                            tooltip="show first the images the model would learn most from")
                self.learn_button = w.Button(description="learn again",
                                             layout=w.Layout(width="auto", min_width="96px"),
                                             tooltip="learn from the labels, accepts and rejects so far")
                self.next_button.disabled = self.model is None  # until "learn again" makes one
                self.next_button.on_click(lambda _: self.label_next(self.n))
                self.learn_button.on_click(lambda _: self.learn_again())
                bar = [self._w_prev, self._w_next, self.next_button, self.learn_button, self._w_info]
            self._widget = w.VBox([w.HBox(bar, layout=w.Layout(align_items="center")), self._w_cards])
            self._show_page()
        return self._widget

    def _show_page(self) -> None:
        start = self._page * self.n
        shown = self._order[start:start + self.n]
        if self.has_learned:
            self._predict(shown)  # one pass for the page, not one per card
        self._cards = [_Card(self, p) for p in shown]
        self._w_cards.children = [c.box for c in self._cards]
        self._w_prev.disabled = self._page == 0
        self._w_next.disabled = self._page >= self.pages - 1
        self._update_info()

    def _update_info(self) -> None:
        if self._widget is not None:
            status = f" · {html.escape(self._status)}" if self._status else ""
            self._w_info.value = (f'<span class="itdf-review-info" style="{INFO_STYLE}">page '
                                  f"{self._page + 1}/{self.pages} · {self.n_reviewed:,} of "
                                  f"{len(self._df):,} reviewed · {html.escape(self.saved_where())}{status}</span>")

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


def _label_list(value: Any) -> list[str]:
    from ..learn.model import label_sets

    return label_sets([value])[0]


def review(df: pd.DataFrame, path: str | os.PathLike[str], col: str | None = None,
           n: int = 12, thumb_size: int = 200, tags_col: str = "tags", model: Any = None,
           labels: str | None = None) -> Review:
    """A labeling widget over ``df``: per image, click a tag to remove it, type to add one,
    tick "reviewed". Every edit is written at once (atomically) to the JSON file ``path``;
    calling ``review`` again with the same file resumes. ``.result()`` returns the frame
    with ``tags_reviewed`` and ``reviewed`` columns.

    Learned labels (a :class:`imagetags_df.LabelModel` as ``model``, or ``learned`` and
    ``learned_scores`` columns from ``model.predict``) show as violet dashed chips with a ✓
    to accept and a ✕ to reject; both are saved with the other edits (``accepted`` and
    ``rejected`` in the file). "label these next" puts ``model.suggest``'s rows first; "learn
    again" learns from ``labels`` (the frame's column of labels) plus the accepts and rejects.

    >>> df = pd.DataFrame({"path": ["data/samples/chelsea_cat.jpg"], "tags": [["cat", "sofa"]]})
    >>> rv = review(df, path="labels/review.json")   # display rv in Jupyter to label by hand
    >>> rv.remove_tag(0, "sofa")
    >>> rv.set_reviewed(0)
    >>> review(df, path="labels/review.json").result()[["tags_reviewed", "reviewed"]]
      tags_reviewed  reviewed
    0         [cat]      True
    """
    return Review(df, path=path, col=col, n=n, thumb_size=thumb_size, tags_col=tags_col, model=model,
                  labels=labels)

