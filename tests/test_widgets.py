"""The gallery and the review widget, on real image files and real widget models.

The review test drives the ipywidgets models the way a front-end would (button clicks,
typed text, a ticked box), then opens the same review file in a new Python process.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import imagetags_df  # noqa: F401  (registers the accessor)
from imagetags_df import widgets
from imagetags_df._exceptions import ConfigurationError

REPO = Path(__file__).resolve().parents[1]
IMG_SRC = re.compile(r'<img class="itdf-thumb" src="([^"]+)"')


def _img(path: Path, size, color, mode="RGB", fmt=None, **save) -> Path:
    Image.new(mode, size, color).save(path, format=fmt, **save)
    return path


@pytest.fixture
def frame(tmp_path) -> pd.DataFrame:
    """Paths, bytes and a PIL image; a failed row; a missing file; a row with no tags."""
    big = _img(tmp_path / "big.jpg", (1200, 800), (200, 40, 40))
    alpha = _img(tmp_path / "alpha.png", (300, 500), (0, 128, 255, 90), mode="RGBA")
    buf = io.BytesIO()
    Image.new("RGB", (640, 480), "green").save(buf, "WEBP")
    return pd.DataFrame({
        "path": [str(big), alpha, buf.getvalue(), Image.new("RGB", (90, 60), "yellow"),
                 str(tmp_path / "missing.jpg"), str(big)],
        "tags": [["cat", "pet"], ["sky", "<b>bold</b>"], ["grass"], [], None, ["cat", "猫"]],
        "title": ["A red cat", "Blue sky", "Lawn", "Yellow", None, "Same file again"],
        "error_code": pd.array([None, None, None, None, 2004, None], dtype="Int64"),
        "error": [None, None, None, None, "file not found: missing.jpg", None],
    }, index=["r0", "r1", "r2", "r3", "r4", "r5"])


def _decoded(uri: str) -> Image.Image:
    assert uri.startswith("data:image/jpeg;base64,")
    return Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))


# --- gallery ----------------------------------------------------------------------


def test_static_grid_is_self_contained(frame):
    g = widgets.preview(frame, n=24, thumb_size=96)
    page = g._repr_html_()
    srcs = IMG_SRC.findall(page)
    # five readable images; the missing file gets a note instead of a broken <img>
    assert len(srcs) == 5 == page.count("<img")
    for uri in srcs:
        im = _decoded(uri)
        assert max(im.size) <= 96 and im.mode == "RGB"
    assert "no preview" in page and "missing.jpg" in page
    assert "error 2004: file not found: missing.jpg" in page
    # the row's message says what is wrong; the raw exception is folded into <details>
    assert "FileNotFoundError" not in _visible(page) and "FileNotFoundError" in page
    assert page.count('class="itdf-chip"') == 2 + 2 + 1 + 0 + 0 + 2
    assert ">猫<" in page and "A red cat" in page
    # tags are text, never markup
    assert "&lt;b&gt;bold&lt;/b&gt;" in page and "<b>bold</b>" not in page
    assert "<script" not in page and "<style" not in page
    # nothing points at the file system: every src is inline data
    assert all(src.startswith("data:image/") for src in re.findall(r'src="([^"]*)"', page))
    assert str(frame["path"].iloc[0]) not in page


def test_same_file_is_shrunk_once(frame, monkeypatch):
    calls = []
    from imagetags_df.widgets import gallery

    real = gallery.thumbnail
    monkeypatch.setattr(gallery, "thumbnail", lambda v, *a, **k: calls.append(v) or real(v, *a, **k))
    widgets.preview(frame).html()
    assert sum(1 for v in calls if isinstance(v, str) and v.endswith("big.jpg")) == 1


def test_100k_rows_embed_only_one_page(tmp_path):
    photo = _img(tmp_path / "p.jpg", (800, 600), "purple")
    rows = 100_000
    df = pd.DataFrame({"path": [str(photo)] * rows,
                       "tags": [["a", "b"] if i % 2 else ["a"] for i in range(rows)]})
    start = time.perf_counter()
    g = df.imagetags.preview(n=24)
    page = g._repr_html_()
    elapsed = time.perf_counter() - start
    assert page.count("<img") == 24
    assert len(page) < 150_000  # one small page, not a 100k-image document
    assert elapsed < 5, elapsed
    assert g.pages == 4167 and "images 1–24 of 100,000" in page
    g.page(-1)
    assert len(g.page_rows()) == rows - 4166 * 24 == 16
    assert g._repr_html_().count("<img") == 16
    # the tag filter also keeps the bound
    g.filter("b")
    assert g.rows == 50_000 and g._repr_html_().count("<img") == 24


def test_paging_and_filter(tmp_path):
    photo = _img(tmp_path / "p.png", (50, 50), "orange", fmt="PNG")
    df = pd.DataFrame({"path": [str(photo)] * 30,
                       "tags": [["cat"] if i < 10 else ["dog"] for i in range(30)]},
                      index=range(100, 130))
    g = widgets.preview(df, n=12, page=2)
    assert g.pages == 3 and list(g.page_rows()) == list(range(24, 30))
    assert "[124]" in g.html()  # cards name the index label
    g.page(99)
    assert g.current_page == 2
    g.filter(["cat"])
    assert g.current_page == 0 and g.rows == 10 and g.pages == 1
    assert widgets.preview(df, tags="unicorn").html().count("<img") == 0
    assert "no images match" in widgets.preview(df, tags="unicorn").html()


def _visible(page: str) -> str:
    """What a reader sees without opening a <details> element or hovering for a tooltip."""
    page = re.sub(r"<details.*?</details>", "", page, flags=re.S)
    return re.sub(r'\stitle="[^"]*"', "", page)


def test_widget_controls_drive_the_page(tmp_path):
    photo = _img(tmp_path / "p.png", (50, 50), "orange", fmt="PNG")
    df = pd.DataFrame({"path": [str(photo)] * 30,
                       "tags": [["cat"] if i < 10 else ["dog"] for i in range(30)]})
    g = widgets.preview(df, n=12)
    box = g.widget
    view = g.view
    assert view.prev.disabled and not view.next.disabled
    assert len(view.grid.children) == 12
    thumbs = [c.image for c in view.cards]
    assert all("itdf-thumb" in t._dom_classes and bytes(t.value).startswith(b"\xff\xd8") for t in thumbs)
    view.next.click()
    assert g.current_page == 1 and "images 13–24 of 30" in view.info.value
    assert set(view.tag_box.options) == {"cat", "dog"}
    # What pressing Enter in the tag box sends: the committed value (any case).
    view.tag_box.set_state({"value": "CAT"})
    assert g.current_page == 0 and g.rows == 10 and g.tag_filter == ["CAT"]
    assert len(view.grid.children) == 10 and view.next.disabled
    assert view.clear.layout.display is None
    view.clear.click()
    assert g.rows == 30 and view.tag_box.value == "" and view.clear.layout.display == "none"
    view.tag_box.set_state({"value": "unicorn"})
    assert g.rows == 0 and len(view.grid.children) == 0 and "no images match" in view.info.value
    view.tag_box.set_state({"value": ""})
    assert g.rows == 30
    bundle = g._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == box.model_id
    assert bundle["text/html"].count("<img") == 12  # the static fallback travels with it
    # No score column: nothing to threshold or sort by, so those controls are hidden.
    assert view.min_score.layout.display == "none" and view.order.layout.display == "none"


def _scored(tmp_path) -> pd.DataFrame:
    red = _img(tmp_path / "red.jpg", (300, 200), "red")
    blue = _img(tmp_path / "blue.jpg", (1600, 1200), "blue")
    return pd.DataFrame({
        "path": [str(red), str(blue), str(red), str(tmp_path / "gone.jpg")],
        "tags": [["cat", "pet", "red"], ["Cat", "blue"], ["dog", "pet"], None],
        "tag_scores": [[0.55, 0.5, 0.3], [0.95, 0.8], [0.9, 0.7], None],
        "title": ["Red cat", "Blue cat", "Red dog", None],
        "description": ["A red square.", "A large blue square.", "Another red square.", None],
        "error": [None, None, None, "gone.jpg: file not found; check the path"],
    }, index=["a", "b", "c", "d"])


def test_clicking_a_chip_filters_by_its_tag(tmp_path):
    g = widgets.preview(_scored(tmp_path))
    view = g.view
    first = view.cards[0]
    assert list(first.chips) == ["cat", "pet", "red"]
    assert all("itdf-chip" in c._dom_classes for c in first.chips.values())
    assert "score 0.55" in first.chips["cat"].tooltip
    first.chips["pet"].click()                       # a front-end's click
    assert g.tag_filter == ["pet"] and g.page_rows().tolist() == [0, 2]
    assert view.tag_box.value == "pet"               # the box shows the filter
    assert view.cards[0].chips["pet"].style.button_color != view.cards[0].chips["cat"].style.button_color
    view.cards[0].chips["cat"].click()               # a second chip narrows it
    assert g.tag_filter == ["pet", "cat"] and g.page_rows().tolist() == [0]
    view.cards[0].chips["pet"].click()               # clicking an active chip undoes it
    assert g.tag_filter == ["cat"] and g.page_rows().tolist() == [0, 1]  # "Cat" too: case ignored


def test_score_threshold_and_order(tmp_path):
    df = _scored(tmp_path)
    g = widgets.preview(df)
    view = g.view
    assert view.min_score.layout.display is None and view.order.layout.display is None
    view.min_score.set_state({"value": 0.6})         # the slider, released at 0.6
    # No tag filter: low chips go, and row a, whose every chip is under 0.6, is hidden and
    # counted; the failed row stays (its card says what went wrong).
    assert g.min_score == 0.6 and g.rows == 3 and g.hidden == 1 and g.page_rows().tolist() == [1, 2, 3]
    assert [list(c.chips) for c in view.cards] == [["Cat", "blue"], ["dog", "pet"], []]
    assert "score ≥ 0.60 (1 image with no tag that sure hidden)" in view.info.value
    view.tag_box.set_state({"value": "cat"})
    assert g.page_rows().tolist() == [1]             # row a's cat is scored 0.55
    view.min_score.set_state({"value": 0.0})
    assert g.page_rows().tolist() == [0, 1]
    view.order.set_state({"index": 1})               # "most confident first": a cat first
    assert g.page_rows().tolist() == [1, 0] and "most confident first" in view.info.value
    view.tag_box.set_state({"value": ""})            # no filter: by each row's best score
    assert g.page_rows().tolist() == [1, 2, 0, 3]    # 0.95, 0.9, 0.55, then the failed row
    # the same from code, and in the static HTML
    page = widgets.preview(df, min_score=0.6, sort="score").html()
    assert page.index("Blue cat") < page.index("Red dog") and "Red cat" not in page
    assert "1 image with no tag that sure hidden" in page
    assert ">red</span>" not in page and ">dog</span>" in page
    with pytest.raises(ConfigurationError, match="min_score"):
        widgets.preview(df, min_score=2)
    with pytest.raises(ConfigurationError, match="sort"):
        widgets.preview(df, sort="size")


def test_enlarged_view_shows_a_large_image_and_every_score(tmp_path):
    g = widgets.preview(_scored(tmp_path), thumb_size=96)
    view = g.view
    assert view.large.layout.display == "none"
    view.cards[1].enlarge.click()
    assert g.enlarged == 1 and view.large.layout.display is None
    large = Image.open(io.BytesIO(view.large_image.value))
    small = Image.open(io.BytesIO(view.cards[1].image.value))
    assert max(large.size) == 720 > max(small.size) == 96   # 1600x1200 shrunk to 720 on its long side
    info = view.large_info.value
    assert "A large blue square." in info and "Blue cat" in info
    assert re.search(r"Cat</td>\s*<td[^>]*>0\.95<", info) and re.search(r"blue</td>\s*<td[^>]*>0\.80<", info)
    view.min_score.set_state({"value": 0.9})         # the enlarged view keeps every tag
    assert "blue" in view.large_info.value
    view.min_score.set_state({"value": 0.0})
    view.close.click()
    assert g.enlarged is None and view.large.layout.display == "none"
    view.cards[3].enlarge.click()                    # a row without an image: says so
    assert "no preview" in view.large_image_box.children[0].value


def test_error_cards_show_the_friendly_message_only(tmp_path):
    bad = tmp_path / "notes.jpg"
    bad.write_text("not a picture")
    truncated = tmp_path / "cut.jpg"
    truncated.write_bytes((REPO / "data" / "samples" / "coffee.jpg").read_bytes()[:2000])
    df = pd.DataFrame({"path": [str(bad), str(truncated), str(tmp_path / "missing.jpg")]})
    out = df.imagetags.generate(backend="local", cache_dir=False, progress=False)
    assert out["error"].notna().all()
    g = out.imagetags.preview()
    static = g.html()
    view = g.view
    live = "".join(c.error.value + c.image_box.children[0].value for c in view.cards)
    for page in (static, live):
        seen = _visible(page)
        for raw in ("UnidentifiedImageError", "OSError", "FileNotFoundError", "Errno", "truncated"):
            assert raw not in seen, (raw, seen)
        assert "notes.jpg: not an image" in seen and "missing.jpg: file not found" in seen
        assert "cut.jpg: the image could not be decoded" in seen
        # ... and the exception is one click away
        assert "<summary>details</summary>" in page and "truncated" in page
    # a thumbnail that fails on a row that did not fail says why in words too
    ok = pd.DataFrame({"path": [str(bad)], "tags": [["x"]]})
    card = widgets.preview(ok).html()
    assert "no preview: not an image that can be read" in _visible(card)
    assert "UnidentifiedImageError" in card and "UnidentifiedImageError" not in _visible(card)


def test_without_ipywidgets_the_error_names_the_extra(frame, monkeypatch):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # makes `import ipywidgets` fail
    g = widgets.preview(frame)
    # The tests run from the checkout, where the index's name would fail: the hint says -e .
    with pytest.raises(ConfigurationError, match=re.escape('pip install -e ".[widgets]"')):
        _ = g.widget
    bundle = g._repr_mimebundle_()  # the static grid still displays
    assert "application/vnd.jupyter.widget-view+json" not in bundle
    assert bundle["text/html"].count("<img") == 5
    with pytest.raises(ConfigurationError, match=re.escape("[widgets]")):
        _ = widgets.review(frame, path="unused.json").widget


def test_image_column_is_found_or_asked_for(frame):
    assert widgets.image_column(frame) == "path"
    assert widgets.image_column(frame.rename(columns={"path": "photo"})) == "photo"
    with pytest.raises(ConfigurationError, match="col="):
        widgets.image_column(pd.DataFrame({"x": [1]}))


# --- review -----------------------------------------------------------------------

CHILD = textwrap.dedent("""
    import json, sys
    import pandas as pd
    import imagetags_df
    df = pd.read_pickle(sys.argv[1])
    rv = df.imagetags.review(path=sys.argv[2], col="path")
    out = rv.result()
    cards = {c.pos: c for c in rv.cards}
    print(json.dumps({
        "tags_reviewed": {str(k): v for k, v in out["tags_reviewed"].items()},
        "reviewed": {str(k): bool(v) for k, v in out["reviewed"].items()},
        "chips_r0": sorted(cards[0].chips),
        "checkbox_r0": cards[0].reviewed.value,
    }, ensure_ascii=False))
""")


def _run_child(df: pd.DataFrame, review_file: Path, tmp_path: Path) -> dict:
    pkl = tmp_path / "frame.pkl"
    df.to_pickle(pkl)
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run([sys.executable, "-c", CHILD, str(pkl), str(review_file)],
                          capture_output=True, text=True, timeout=120, cwd=REPO, env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _saved(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))["edits"]


def test_review_edits_are_saved_at_once_and_restored_in_a_new_process(frame, tmp_path):
    review_file = tmp_path / "labels" / "review.json"
    rv = frame.imagetags.review(path=review_file, n=4)
    cards = rv.cards
    assert len(cards) == 4 and sorted(cards[0].chips) == ["cat", "pet"]

    cards[0].chips["pet"].click()                        # remove a tag with a click
    edits = _saved(review_file)                          # ... already on disk
    assert [e["tags"] for e in edits.values()] == [["cat"]]

    # set_state is what the kernel does with a front-end's "update" message
    cards[0].new_tag.set_state({"value": "kitten, 猫"})   # type two tags, Enter
    assert cards[0].new_tag.value == ""                  # the box clears for the next one
    cards[0].reviewed.set_state({"value": True})         # tick "reviewed"
    entry = next(iter(_saved(review_file).values()))
    assert entry["tags"] == ["cat", "kitten", "猫"] and entry["reviewed"] is True
    assert entry["index"] == "r0" and entry["image"].endswith("big.jpg")
    assert sorted(cards[0].chips) == ["cat", "kitten", "猫"]  # chips redrawn

    cards[3].new_tag.value = "yellow"                    # a row that had no tags
    rv.page(1)
    failed = next(c for c in rv.cards if c.pos == 4)     # no image: nothing to confirm by eye
    assert failed.new_tag is None and failed.reviewed is None and not failed.has_image
    assert all(chip.disabled for chip in failed.chips.values())
    rv.add_tag("r4", "unknown")                          # code can still label it
    rv.set_reviewed("r5", True)                          # the code path, same file
    rv.remove_tag("r1", "<b>bold</b>")
    assert len(_saved(review_file)) == 5
    assert not list(review_file.parent.glob("*.tmp"))     # atomic writes leave no temp files

    child = _run_child(frame, review_file, tmp_path)
    assert child["tags_reviewed"] == {
        "r0": ["cat", "kitten", "猫"], "r1": ["sky"], "r2": ["grass"], "r3": ["yellow"],
        "r4": ["unknown"], "r5": ["cat", "猫"]}
    assert child["reviewed"] == {"r0": True, "r1": False, "r2": False, "r3": False,
                                 "r4": False, "r5": True}
    # the reopened widget shows the edited state, not the generated tags
    assert child["chips_r0"] == ["cat", "kitten", "猫"] and child["checkbox_r0"] is True

    out = rv.result()
    assert out["tags_reviewed"].tolist() == list(child["tags_reviewed"].values())
    assert out["reviewed"].dtype == bool
    assert out["tags"].tolist() == frame["tags"].tolist()  # the generated tags are kept


def test_review_header_says_saved_only_once_the_file_exists(frame, tmp_path):
    review_file = tmp_path / "labels.json"
    rv = widgets.review(frame, path=review_file, n=6)
    _ = rv.widget
    assert not review_file.exists()
    assert "saved to" not in rv._w_info.value and "the first one creates" in rv._w_info.value
    assert "saved to" not in rv._repr_mimebundle_()["text/plain"]
    rv.cards[0].chips["pet"].click()
    assert review_file.exists() and f"saved to {review_file}" in rv._w_info.value
    # rows with an image get the labeling controls, the row without one does not
    assert [c.new_tag is not None for c in rv.cards] == [True, True, True, True, False, True]
    assert [c.reviewed is not None for c in rv.cards] == [True, True, True, True, False, True]


def test_failed_rows_unedited_stay_unknown(frame, tmp_path):
    out = widgets.review(frame, path=tmp_path / "r.json").result()
    assert out.loc["r4", "tags_reviewed"] is None
    assert out.loc["r3", "tags_reviewed"] == []
    assert not out["reviewed"].any()
    assert not (tmp_path / "r.json").exists()  # nothing edited, nothing written


def test_review_resumes_after_reorder_and_new_index(frame, tmp_path):
    review_file = tmp_path / "review.json"
    rv = widgets.review(frame, path=review_file)
    rv.remove_tag("r1", "sky")
    rv.set_reviewed("r2")
    # Same rows, shuffled: keys are index + image, not position.
    shuffled = frame.iloc[[5, 4, 3, 2, 1, 0]]
    again = widgets.review(shuffled, path=review_file).result()
    assert again.loc["r1", "tags_reviewed"] == ["<b>bold</b>"] and again.loc["r2", "reviewed"]
    # A new index (reset_index): found by the image when the image is unambiguous.
    renumbered = frame.reset_index(drop=True)
    rv2 = widgets.review(renumbered, path=review_file)
    out = rv2.result()
    assert out.loc[1, "tags_reviewed"] == ["<b>bold</b>"] and out.loc[2, "reviewed"]
    # r0 and r5 share a file: the image alone is ambiguous, so nothing moves there
    rv.add_tag("r0", "only-r0")
    out = widgets.review(renumbered, path=review_file).result()
    assert "only-r0" not in out.loc[0, "tags_reviewed"]
    # an edit under the new index replaces the old entry instead of duplicating it
    rv2.add_tag(1, "blue")
    assert sum(e["index"] in (1, "r1") for e in _saved(review_file).values()) == 1


def test_two_reviews_on_one_file_do_not_undo_each_other(frame, tmp_path):
    review_file = tmp_path / "review.json"
    first = widgets.review(frame, path=review_file)
    second = widgets.review(frame, path=review_file)  # e.g. the cell was run twice
    first.add_tag("r0", "from-first")
    second.add_tag("r1", "from-second")
    final = widgets.review(frame, path=review_file).result()
    assert "from-first" in final.loc["r0", "tags_reviewed"]
    assert "from-second" in final.loc["r1", "tags_reviewed"]


def test_a_failed_write_keeps_the_previous_file(frame, tmp_path, monkeypatch):
    review_file = tmp_path / "review.json"
    rv = widgets.review(frame, path=review_file)
    rv.add_tag("r0", "kept")
    before = review_file.read_bytes()

    def boom(src, dst):
        raise OSError("disk full")

    import importlib

    # The module, not the function of the same name that the package exports.
    review_module = importlib.import_module("imagetags_df.widgets.review")
    monkeypatch.setattr(review_module.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        rv.add_tag("r1", "lost")
    assert review_file.read_bytes() == before
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".review.json.*"))


def test_reset_and_foreign_file(frame, tmp_path):
    review_file = tmp_path / "review.json"
    rv = widgets.review(frame, path=review_file)
    rv.add_tag("r0", "x")
    rv.reset("r0")
    assert _saved(review_file) == {}
    assert rv.result().loc["r0", "tags_reviewed"] == ["cat", "pet"]
    other = tmp_path / "other.json"
    other.write_text('{"something": "else"}')
    with pytest.raises(ConfigurationError, match="not an imagetags-df review file"):
        widgets.review(frame, path=other)


def test_preview_before_tagging(tmp_path):
    # A raw frame (no generate yet) previews fine; only the tag filter needs tags.
    photo = _img(tmp_path / "p.jpg", (64, 64), "red")
    g = widgets.preview(pd.DataFrame({"file": [str(photo)] * 3}))
    assert g.col == "file" and g.html().count("<img") == 3 and "itdf-chip" not in g.html()
    with pytest.raises(ConfigurationError, match="tags"):
        g.filter("cat")


def test_chip_tooltips_carry_scores(tmp_path):
    photo = _img(tmp_path / "p.jpg", (64, 64), "red")
    df = pd.DataFrame({"path": [str(photo)] * 2, "tags": [["cat", "pet"], ["dog"]],
                       "tag_scores": [[0.91, 0.4], None]})
    page = widgets.preview(df).html()
    assert 'title="score 0.91">cat<' in page and 'title="score 0.40">pet<' in page
    assert '">dog</span>' in page and page.count('title="score') == 2


def test_review_file_gets_the_umask_and_added_tags_are_spelled_like_the_tagger(frame, tmp_path):
    review_file = tmp_path / "shared" / "review.json"
    old = os.umask(0o022)
    try:
        rv = frame.imagetags.review(path=review_file, n=4)
        rv.add_tag("r0", "  Kitten ")                       # new: lower-cased like every tag here
        rv.add_tag("r0", "CAT")                             # already there in another case: no duplicate
        rv.add_tag("r2", "ｓｋｙ")                           # full-width letters: NFKC, then the frame's "sky"
    finally:
        os.umask(old)
    assert stat.S_IMODE(review_file.stat().st_mode) == 0o644   # not mkstemp's private 0600
    assert rv.tags_of(0) == ["cat", "pet", "kitten"] and rv.tags_of(2) == ["grass", "sky"]
    assert not list(review_file.parent.glob(".*tmp"))
    os.chmod(review_file, 0o664)                         # a group-shared file keeps its mode
    rv.add_tag("r1", "cloud")
    assert stat.S_IMODE(review_file.stat().st_mode) == 0o664
    # A frame with capitalised tags (German nouns) keeps the case the user typed for a new tag.
    de = pd.DataFrame({"path": [str(tmp_path / "x.jpg")], "tags": [["Katze", "Haustier"]]})
    rd = de.imagetags.review(path=tmp_path / "de.json")
    rd.add_tag(0, "katze")
    rd.add_tag(0, "Kätzchen")
    assert rd.tags_of(0) == ["Katze", "Haustier", "Kätzchen"]


def test_more_like_this_shows_the_query_then_its_look_alikes(tmp_path):
    names = ["chelsea_cat.jpg", "coffee.jpg", "dogs.jpg", "astronaut.jpg", "grace_hopper.jpg",
             "motorcycle.jpg", "rocket.jpg", "flower.jpg"]
    paths = [str(REPO / "data" / "samples" / n) for n in names] + [str(tmp_path / "missing.jpg")]
    animals = {"chelsea_cat.jpg", "dogs.jpg"}
    df = pd.DataFrame({"path": paths, "tags": [["animal"] if n in animals else ["thing"] for n in names] + [None]},
                      index=[f"p{i}" for i in range(len(paths))])
    cache = tmp_path / "cache"
    g = df.imagetags.preview(n=12, cache_dir=cache)
    view = g.view
    assert view.show_all.layout.display == "none"
    # every photo has the button; the missing file has nothing to compare
    assert [c.more.layout.display for c in view.cards] == [None] * 8 + ["none"]
    assert not cache.exists()
    view.cards[0].more.click()                       # the cat
    rows = g.page_rows().tolist()
    # The order, worked out here from the embeddings themselves: cosine of their signed
    # square roots (the look-alikes' measure), largest first.
    emb = np.stack(df.iloc[:8].imagetags.embed(cache_dir=cache, progress=False)["embedding"].tolist())
    emb = np.sign(emb) * np.sqrt(np.abs(emb))
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    cosine = {p: float(emb[0] @ emb[p]) for p in range(1, 8)}
    assert rows == [0, *sorted(cosine, key=lambda p: -cosine[p])]
    assert rows[1] == names.index("dogs.jpg")        # a cat is most like the dogs, as a user would say
    assert g.like == 0 and g.similarity(0) is None
    assert [round(g.similarity(p), 4) for p in rows[1:]] == [round(cosine[p], 4) for p in rows[1:]]
    assert any(cache.iterdir())                      # the gallery's cache_dir holds the embeddings
    assert [c.pos for c in view.cards] == rows
    assert "similarity 0." in view.cards[1].meta.value and "similarity" not in view.cards[0].meta.value
    assert "like [p0] chelsea_cat.jpg" in view.info.value and view.show_all.layout.display is None
    assert "like [p0] chelsea_cat.jpg" in g.html() and "similarity 0." in g.html()
    view.show_all.click()                            # back to every row
    assert g.like is None and g.page_rows().tolist() == list(range(9))
    assert view.show_all.layout.display == "none" and "like" not in view.info.value
    assert all("similarity" not in c.meta.value for c in view.cards)
    # k neighbours; a new tag filter (or its clear) also leaves the look-alikes
    assert g.more_like(2, k=3).page_rows().tolist()[0] == 2 and g.rows == 4
    g.filter(None)
    assert g.like is None and g.rows == 9
    # From a tag filter: the look-alikes come from the whole frame, and "show all" goes back
    # to the filter's rows.
    g.filter("animal")
    view.cards[0].more.click()
    assert g.page_rows().tolist() == rows and "tags:" not in view.info.value
    view.show_all.click()
    assert g.page_rows().tolist() == [0, 2] and g.tag_filter == ["animal"] and "tags: animal" in view.info.value
    with pytest.raises(ConfigurationError, match="no embedding"):
        g.more_like(8)
    # A repeated index still finds the card's own row, not the first one of that label.
    same = widgets.preview(df.set_axis(["x"] * 9), cache_dir=cache).more_like(3, k=3).page_rows().tolist()
    assert same == g.more_like(3, k=3).page_rows().tolist() and same[0] == 3
