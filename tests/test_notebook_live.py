"""The gallery and review widgets driven by hand in a real JupyterLab, in headless Chromium.

A JupyterLab server (from the ``[test]`` extra) is started on 127.0.0.1 with a throwaway
root, settings and runtime folder; a scratch notebook tags a few sample photos plus a file
that is not an image and one that is missing, and shows a gallery and a review widget.
Playwright, on Debian's Chromium, then does what a user does: types a tag and presses
Enter, clicks a chip, asks for more like one image, enlarges an image, moves the score
threshold, picks an order, opens an error's details and edits a review. Every click runs the widgets' Python in the live
kernel, and every check reads what the page shows.

This is the check for what the saved-state export (tests/test_notebook.py) cannot show:
keys and clicks reaching the kernel inside JupyterLab, whose own keyboard shortcuts took
Enter away from the gallery's old tag box. Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from imagetags_df.server.testing import free_port

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "data" / "samples"
ARTIFACTS = REPO / "tests" / "artifacts"
CHROMIUM = os.environ.get("IMAGETAGS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PHOTOS = ["chelsea_cat.jpg", "coffee.jpg", "astronaut.jpg", "motorcycle.jpg", "rocket.jpg", "flower.jpg"]
WAIT = 90_000  # ms; the machine is shared, and the first kernel start imports pandas

NOTEBOOK_CELLS = [
    f"""\
import pandas as pd
import imagetags_df

SAMPLES = {str(SAMPLES)!r}
paths = [f"{{SAMPLES}}/{{name}}" for name in {PHOTOS!r}] + ["notes.jpg", "missing.jpg"]
out = pd.DataFrame({{"path": paths}}).imagetags.generate(progress=False)
""",
    "gallery = out.imagetags.preview(n=12)\ngallery",
    'review = out.imagetags.review(path="labels.json", n=12)\nreview',
    # A label model's output (as model.predict gives it) for the same rows: chips to accept or reject.
    """\
cosy, shop = {"cosy": 0.93, "shop": 0.02}, {"cosy": 0.01, "shop": 0.91}
guess = {"cosy": 0.30, "shop": 0.10}
learned = out.assign(learned=[["cosy"], ["shop"], [], [], [], [], None, None],
                     learned_scores=[cosy, shop, guess, guess, guess, guess, None, None])
teach = learned.imagetags.review(path="learned.json", n=12)
teach
""",
]


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Iterator[dict]:
    """A JupyterLab server on loopback serving a scratch notebook; stopped afterwards."""
    root = tmp_path_factory.mktemp("lab")
    (root / "notes.jpg").write_text("shopping list, not a photo")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(src) for src in NOTEBOOK_CELLS]
    nbformat.write(nb, root / "scratch.ipynb")
    port, token = free_port(), secrets.token_hex(16)
    home = tmp_path_factory.mktemp("jupyter-home")
    # No "get notified about Jupyter news?" toast over the widgets.
    news = home / "settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    news.parent.mkdir(parents=True)
    news.write_text(json.dumps({"fetchNews": "false"}))
    env = {k: v for k, v in os.environ.items()
           if k not in ("IMAGEDESCRIBER_API_KEY", "IMAGEDESCRIBER_BASE_URL", "MPLBACKEND")}
    env.update({
        "PYTHONPATH": str(REPO) + os.pathsep + env.get("PYTHONPATH", ""),
        "IMAGETAGS_CACHE_DIR": str(home / "cache"),
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
    })
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
           f"--ServerApp.root_dir={root}", "--ServerApp.terminals_enabled=False",
           "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    log = open(home / "lab.log", "w")  # noqa: SIM115 - closed below, after the server
    server = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, (home / "lab.log").read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2):
                    break
            except OSError:
                assert time.monotonic() < deadline, "JupyterLab did not start in 120 s"
                time.sleep(0.5)
        yield {"url": f"http://127.0.0.1:{port}/lab/tree/scratch.ipynb?token={token}", "root": root,
               "log": home / "lab.log"}
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
        log.close()


@pytest.fixture(scope="module")
def page(lab):
    """Chromium with the scratch notebook open and every cell run."""
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} not found: apt-get install -y chromium"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        pg = context.new_page()
        # Only the server on loopback: anything else (a CDN, an update check) is refused.
        pg.route("**/*", lambda r: r.continue_() if r.request.url.startswith(("http://127.0.0.1", "data:",
                                                                                "blob:")) else r.abort())
        pg.goto(lab["url"])
        pg.wait_for_function("() => window.jupyterapp && document.querySelector('.jp-Notebook .jp-Cell')",
                             timeout=WAIT)
        # The notebook's kernel is up and idle: "run all" before that would run nothing.
        pg.wait_for_function("""() => { const w = window.jupyterapp.shell.currentWidget;
            const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
            return k && k.status === 'idle'; }""", timeout=WAIT)
        pg.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        try:
            pg.locator(".itdf-gallery-widget").wait_for(state="visible", timeout=WAIT)
            pg.locator(".itdf-review-info").first.wait_for(state="visible", timeout=WAIT)
            pg.locator(".itdf-learned").first.wait_for(state="visible", timeout=WAIT)
        except Exception:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            pg.screenshot(path=str(ARTIFACTS / "lab_failed_start.png"), full_page=True)
            raise
        yield pg
        browser.close()


def _summary(pg) -> str:
    return pg.locator(".itdf-gallery-widget .itdf-summary").inner_text()


def _card_texts(pg) -> list[str]:
    return pg.locator(".itdf-gallery-widget .itdf-card").all_inner_texts()


def _wait_summary(pg, pattern: str) -> str:
    pg.wait_for_function(
        """(pattern) => { const el = document.querySelector('.itdf-gallery-widget .itdf-summary');
                          return el && new RegExp(pattern).test(el.textContent); }""",
        arg=pattern, timeout=WAIT)
    return _summary(pg)


def _wait_cards(pg, n: int) -> list[str]:
    """The cards' texts once the page shows ``n`` cards (the kernel's updates arrive one by one)."""
    pg.wait_for_function(f"() => document.querySelectorAll('.itdf-gallery-widget .itdf-card').length === {n}",
                         timeout=WAIT)
    return _card_texts(pg)


def _shot(pg, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pg.locator(".itdf-gallery-widget").screenshot(path=str(ARTIFACTS / name))


@pytest.mark.browser
@pytest.mark.slow
def test_enter_in_the_tag_box_filters_and_chips_filter_by_their_tag(page):
    pg = page
    assert re.search(r"images 1–8 of 8", _summary(pg))
    box = pg.locator(".itdf-gallery-widget .itdf-tag-box input")
    box.click()
    box.fill("CAT")
    box.press("Enter")
    _wait_summary(pg, "tags: CAT")
    # Enter applied it: the box still has the focus, so no blur did the work.
    assert pg.evaluate("() => document.activeElement && document.activeElement.closest('.itdf-tag-box') !== null")
    cards = _wait_cards(pg, 1)
    assert "chelsea_cat.jpg" in cards[0]
    _shot(pg, "lab_gallery_filtered.png")
    pg.get_by_role("button", name="✕ all tags").click()
    _wait_summary(pg, r"^images 1–8 of 8 · page 1/1$")
    _wait_cards(pg, 8)
    assert box.input_value() == ""

    # A chip is a button: clicking it filters by its tag; clicking it again undoes that.
    coffee = pg.locator(".itdf-gallery-widget .itdf-card", has_text="coffee.jpg")
    coffee.locator(".itdf-chip", has_text=re.compile(r"^coffee$")).click()
    _wait_summary(pg, "tags: coffee")
    assert box.input_value() == "coffee"
    assert "coffee.jpg" in _wait_cards(pg, 1)[0]
    pg.locator(".itdf-gallery-widget .itdf-card .itdf-chip", has_text=re.compile(r"^coffee$")).first.click()
    _wait_summary(pg, r"^images 1–8 of 8 · page 1/1$")
    _wait_cards(pg, 8)


@pytest.mark.browser
@pytest.mark.slow
def test_more_like_this_shows_the_look_alikes_then_all(page):
    from imagetags_df.lookalikes import similar

    pg = page
    gallery = pg.locator(".itdf-gallery-widget")
    # the two rows without an image have no button
    assert gallery.get_by_role("button", name="more like this").count() == 6
    gallery.locator(".itdf-card", has_text="chelsea_cat.jpg").get_by_role("button", name="more like this").click()
    _wait_summary(pg, r"like \[0\] chelsea_cat\.jpg")
    # The same search made here, on the photos alone: the failed rows can be no one's look-alike.
    photos = pd.DataFrame({"path": [str(SAMPLES / name) for name in PHOTOS]})
    expected = ["chelsea_cat.jpg"] + [PHOTOS[p] for p in similar(photos, 0, k=11, cache_dir=False).index]
    texts = _wait_cards(pg, 6)
    assert [next(n for n in PHOTOS if n in t) for t in texts] == expected, texts
    assert "similarity" not in texts[0] and all(re.search(r"similarity 0\.\d\d", t) for t in texts[1:])
    _shot(pg, "lab_gallery_more_like.png")
    pg.get_by_role("button", name="✕ show all").click()
    _wait_summary(pg, r"^images 1–8 of 8 · page 1/1$")
    assert "similarity" not in " ".join(_wait_cards(pg, 8))


@pytest.mark.browser
@pytest.mark.slow
def test_enlarge_threshold_and_order(page):
    pg = page
    cat = pg.locator(".itdf-gallery-widget .itdf-card", has_text="chelsea_cat.jpg")
    cat.get_by_role("button", name="⤢ enlarge").click()
    large = pg.locator(".itdf-enlarged img.itdf-large")
    large.wait_for(state="visible", timeout=WAIT)
    pg.wait_for_function("() => { const i = document.querySelector('.itdf-enlarged img.itdf-large');"
                         " return i && i.complete && i.naturalWidth > 0; }", timeout=WAIT)
    natural = large.evaluate("i => i.naturalWidth")
    thumb = cat.locator("img.itdf-thumb").evaluate("i => i.naturalWidth")
    assert natural > 2 * thumb, (natural, thumb)  # a larger image, not the thumbnail stretched
    table = pg.locator(".itdf-enlarged .itdf-scores").inner_text()
    assert re.search(r"cat\s+0\.\d\d", table), table
    pg.locator(".itdf-enlarged").screenshot(path=str(ARTIFACTS / "lab_gallery_enlarged.png"))
    pg.get_by_role("button", name="✕ close").click()
    large.wait_for(state="hidden", timeout=WAIT)

    chips_before = pg.locator(".itdf-gallery-widget .itdf-card .itdf-chip").count()
    # The slider's readout is editable: type a value and press Enter, as a user can.
    readout = pg.locator(".itdf-gallery-widget .widget-slider .widget-readout").first
    readout.click()
    pg.keyboard.press("Control+A")
    pg.keyboard.type("0.9")
    pg.keyboard.press("Enter")
    summary = _wait_summary(pg, r"score ≥ 0\.90")
    pg.wait_for_function(f"() => document.querySelectorAll('.itdf-gallery-widget .itdf-card .itdf-chip').length"
                         f" < {chips_before}", timeout=WAIT)
    # The threshold hides chips; an image none of whose tags is that sure is hidden too, and the
    # summary counts it. Failed rows (no tags) stay.
    hidden = re.search(r"\((\d+) images? with no tag that sure hidden\)", summary)
    shown = 8 - (int(hidden.group(1)) if hidden else 0)
    texts = _wait_cards(pg, shown)
    assert any("notes.jpg" in t for t in texts) and any("missing.jpg" in t for t in texts), texts
    pg.locator(".itdf-gallery-widget select").select_option(label="most confident first")
    _wait_summary(pg, "most confident first")
    _shot(pg, "lab_gallery_threshold.png")
    # failed rows have no scores: they come last
    pg.wait_for_function("""(shown) => { const cards = [...document.querySelectorAll('.itdf-gallery-widget .itdf-card')];
        return cards.length === shown && cards.slice(-2).every(c => /notes\\.jpg|missing\\.jpg/.test(c.textContent))
               && !/notes\\.jpg|missing\\.jpg/.test(cards[0].textContent); }""", arg=shown, timeout=WAIT)


@pytest.mark.browser
@pytest.mark.slow
def test_error_cards_and_review_in_lab(page, lab):
    pg = page
    card = pg.locator(".itdf-gallery-widget .itdf-card", has_text="notes.jpg")
    text = card.inner_text()
    assert "notes.jpg: not an image" in text and "Error" not in text, text
    card.locator("summary", has_text="details").first.click()
    assert "UnidentifiedImageError" in card.locator("details").first.inner_text()

    review = pg.locator(".jp-OutputArea-output", has=pg.locator(".itdf-review-info")).first
    info = review.locator(".itdf-review-info")
    assert "saved to" not in info.inner_text() and "the first one creates labels.json" in info.inner_text()
    # the two rows without an image get no "add tag" box and no "reviewed" box
    assert review.locator(".itdf-review-card").count() == 8
    assert review.get_by_placeholder("add tag, Enter").count() == 6
    assert review.get_by_role("checkbox", name="reviewed").count() == 6
    no_image = review.locator(".itdf-review-card", has_text="missing.jpg")
    assert "no image to review" in no_image.inner_text()
    # an edit through the page lands in the file, and only then does the header say saved
    coffee = review.locator(".itdf-review-card", has_text="coffee.jpg")
    coffee.get_by_placeholder("add tag, Enter").fill("crema")
    coffee.get_by_placeholder("add tag, Enter").press("Enter")
    pg.wait_for_function("() => /saved to labels\\.json/.test("
                         "document.querySelector('.itdf-review-info').textContent)", timeout=WAIT)
    saved = json.loads((lab["root"] / "labels.json").read_text(encoding="utf-8"))["edits"]
    assert [e["tags"][-1] for e in saved.values()] == ["crema"]
    review.screenshot(path=str(ARTIFACTS / "lab_review.png"))


@pytest.mark.browser
@pytest.mark.slow
def test_learned_labels_accepted_rejected_and_learned_again_in_lab(page, lab):
    pg = page
    teach = pg.locator(".jp-OutputArea-output", has=pg.locator(".itdf-learned"))
    cat = teach.locator(".itdf-review-card", has_text="chelsea_cat.jpg")
    coffee = teach.locator(".itdf-review-card", has_text="coffee.jpg")
    astronaut = teach.locator(".itdf-review-card", has_text="astronaut.jpg")
    assert cat.locator(".itdf-learned-chip").inner_text() == "cosy 0.93"
    assert astronaut.locator(".itdf-learned-chip").inner_text() == "cosy? 0.30"  # a guess, marked
    chip_style = cat.locator(".itdf-learned-chip").evaluate("e => getComputedStyle(e).borderTopStyle")
    assert chip_style == "dashed"
    teach.screenshot(path=str(ARTIFACTS / "lab_learned_before.png"))

    cat.locator(".itdf-learned-accept").click()
    coffee.locator(".itdf-learned-reject").click()
    saved_file = lab["root"] / "learned.json"
    deadline = time.monotonic() + WAIT / 1000
    while True:
        edits = (json.loads(saved_file.read_text(encoding="utf-8"))["edits"] if saved_file.exists() else {})
        by_image = {Path(e["image"]).name: e for e in edits.values()}
        if len(by_image) == 2 and "rejected" in by_image.get("coffee.jpg", {}):
            break
        assert time.monotonic() < deadline, edits
        time.sleep(0.2)
    assert by_image["chelsea_cat.jpg"]["accepted"] == ["cosy"] and "cosy" in by_image["chelsea_cat.jpg"]["tags"]
    assert by_image["coffee.jpg"]["rejected"] == ["shop"]
    # The accepted label is now one of the card's tags; neither chip is left to decide.
    pg.wait_for_function("""() => [...document.querySelectorAll('.itdf-review-card')].some(c =>
        /chelsea_cat/.test(c.textContent) && !c.querySelector('.itdf-learned-chip')
        && /cosy ✕/.test(c.textContent))""", timeout=WAIT)
    # the file is written before the cards are redrawn: wait for the coffee card's update too
    coffee.locator(".itdf-learned-chip").wait_for(state="detached", timeout=WAIT)

    assert teach.get_by_role("button", name="label these next").is_disabled()  # no model yet
    teach.get_by_role("button", name="learn again").click()
    pg.wait_for_function("""() => [...document.querySelectorAll('.itdf-review-info')].some(e =>
        /learned 2 label\\(s\\) from 1 labelled image/.test(e.textContent))""", timeout=WAIT)
    assert teach.get_by_role("button", name="label these next").is_enabled()
    teach.screenshot(path=str(ARTIFACTS / "lab_learned_after.png"))
