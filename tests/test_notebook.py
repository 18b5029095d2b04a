"""notebooks/quickstart.ipynb: stored clean, executes end to end, and renders in a browser.

The notebook runs in a real Jupyter kernel (nbclient) on data/samples with the default
backend, which is the offline tagger when no API key is set. The browser tests export the
executed notebook to HTML with nbconvert and open it in headless Debian Chromium through
Playwright:

* with the widget state stripped (what a plain export, GitHub or any viewer without the
  widget manager shows), the gallery must come from its static ``text/html``, with
  JavaScript turned off;
* with the widget state embedded (nbclient ``store_widget_state=True``), the Jupyter
  widgets HTML manager must rebuild the live gallery from that state. The export loads
  the manager from a CDN, which this machine cannot reach, so the test points nbconvert
  at the same package installed from the npm registry (tests/browser/package.json) and
  blocks every other network request.

Screenshots are kept in tests/artifacts/ (git-ignored).

CI must provide: Debian ``chromium`` (/usr/bin/chromium), the Python packages
``nbclient nbconvert ipykernel playwright`` (never ``playwright install``), and npm (for
``npm ci --prefix tests/browser``; the test runs it itself when node_modules is missing).
The browser tests fail, not skip, when any of these is missing.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "quickstart.ipynb"
SAMPLES = REPO / "data" / "samples"
ARTIFACTS = REPO / "tests" / "artifacts"
BROWSER_JS = REPO / "tests" / "browser"
CHROMIUM = os.environ.get("IMAGETAGS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"}
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
GALLERY_N = 12  # the notebook's preview(n=12)

# Appended (in memory only) after the notebook's own cells, to read the kernel's state.
SUMMARY_CELL = """
import json as _json
print("SUMMARY " + _json.dumps({
    "rows": len(out),
    "failed": int(out["error"].notna().sum()),
    "backends": sorted(set(out["backend"])),
    "tags": {str(i): list(t) for i, t in out["tags"].items() if t is not None},
    "tags_by_file": {p.rsplit("/", 1)[-1]: list(t) for p, t in zip(out["path"], out["tags"]) if t is not None},
    "top_tag": str(top_tag),
    "filtered": int(len(out.imagetags.filter(all_of=[top_tag]))),
    "filtered_upper": int(len(out.imagetags.filter(all_of=[top_tag.upper()]))),
    "onehot_columns": list(wide.filter(like="tag:").columns),
    "onehot_dtypes": sorted({str(d) for d in wide.filter(like="tag:").dtypes}),
    "gallery_rows": [int(p) for p in gallery.page_rows()],
    "gallery_model": gallery.widget.model_id,
}, ensure_ascii=False))
"""


def sample_images() -> list[Path]:
    return sorted(p for p in SAMPLES.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES) if SAMPLES.is_dir() else []


def kernel_env(cache_dir: Path) -> dict[str, str]:
    """The kernel's environment: this checkout importable, a throwaway cache, no API key
    (so backend="auto" is the offline tagger, as for a new user)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("IMAGEDESCRIBER_API_KEY", "IMAGEDESCRIBER_BASE_URL", "MPLBACKEND")}
    env["IMAGETAGS_CACHE_DIR"] = str(cache_dir)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def execute(nb: nbformat.NotebookNode, cwd: Path, cache_dir: Path) -> nbformat.NotebookNode:
    from nbclient import NotebookClient

    client = NotebookClient(nb, timeout=600, kernel_name="python3", store_widget_state=True,
                            resources={"metadata": {"path": str(cwd)}})
    client.execute(env=kernel_env(cache_dir))
    return nb


@pytest.fixture(scope="module")
def executed(tmp_path_factory) -> tuple[nbformat.NotebookNode, dict]:
    """The quickstart, executed once for this module, plus the kernel's summary."""
    assert sample_images(), f"no sample images in {SAMPLES}"
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(SUMMARY_CELL))
    execute(nb, cwd=NOTEBOOK.parent, cache_dir=tmp_path_factory.mktemp("nbcache"))
    summary_cell = nb.cells.pop()  # the exported notebook is the user's notebook
    text = "".join(o.get("text", "") for o in summary_cell.outputs if o.output_type == "stream")
    summary = json.loads(text.split("SUMMARY ", 1)[1])
    return nb, summary


def _gallery_output(nb: nbformat.NotebookNode) -> dict:
    cell = next(c for c in nb.cells if c.cell_type == "code" and "preview(" in c.source)
    return next(o for o in cell.outputs if o.output_type in ("execute_result", "display_data"))["data"]


def test_notebook_is_stored_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, "the quickstart has no code"
    for cell in code:
        assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]
    assert "widgets" not in nb.metadata
    # It shows the whole tour, on the default backend.
    source = "\n".join(c.source for c in code)
    for call in ("generate(", "tag_counts(", "plot_tags(", "cooccurrence(", "filter(", "preview("):
        assert f".imagetags.{call}" in source, call
    assert "backend=" not in source.split("generate(", 1)[1].split(")", 1)[0]


def test_notebook_executes_on_the_samples(executed):
    nb, summary = executed
    n = len(sample_images())
    assert summary["rows"] == n and summary["failed"] == 0
    assert summary["backends"] == ["local"]
    # every row was looked at (an empty list is "nothing found", which the tagger may say
    # of a texture), and the unmistakable subjects got their tag
    assert len(summary["tags"]) == n
    assert "cat" in summary["tags_by_file"]["chelsea_cat.jpg"]
    assert "coffee" in summary["tags_by_file"]["coffee.jpg"]
    assert summary["filtered"] >= 1
    assert summary["filtered_upper"] == summary["filtered"]  # tag filters ignore case
    # the quickstart's wide.filter(like="tag:") is the one-hot block and nothing else
    assert summary["onehot_columns"] and summary["onehot_dtypes"] == ["bool"]
    assert "tag_scores" not in summary["onehot_columns"]
    # the charts drew
    plots = [c for c in nb.cells if c.cell_type == "code" and "plot_" in c.source]
    assert len(plots) == 2
    for cell in plots:
        assert any("image/png" in o.get("data", {}) for o in cell.outputs), cell.source
    # the gallery: a widget view plus a static grid of the same page, bounded by n
    data = _gallery_output(nb)
    assert data[WIDGET_VIEW]["model_id"] == summary["gallery_model"]
    shown = len(summary["gallery_rows"])
    assert shown == min(GALLERY_N, n)
    assert data["text/html"].count('<img class="itdf-thumb" src="data:image/jpeg;base64,') == shown
    # nbclient stored the widget state, including the gallery's model
    state = nb.metadata["widgets"][WIDGET_STATE]["state"]
    assert summary["gallery_model"] in state
    # the gallery's cards hold one Image model per thumbnail on the page
    cards = next(m for m in state.values() if "itdf-cards" in m["state"].get("_dom_classes", []))
    def model(ref: str) -> dict:
        return state[ref.removeprefix("IPY_MODEL_")]

    image_boxes = [model(card)["state"]["children"][0] for card in cards["state"]["children"]]
    thumbs = [model(box)["state"]["children"][0] for box in image_boxes]
    assert len(thumbs) == shown
    assert all(model(t)["model_name"] == "ImageModel" for t in thumbs)


# --- the browser -----------------------------------------------------------------


def _export_html(nb: nbformat.NotebookNode, **config) -> str:
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter(**config).from_notebook_node(nb)
    return body


def _widget_js() -> tuple[Path, Path]:
    """The widgets HTML manager and RequireJS from tests/browser/node_modules."""
    manager = BROWSER_JS / "node_modules" / "@jupyter-widgets" / "html-manager" / "dist" / "embed-amd.js"
    requirejs = BROWSER_JS / "node_modules" / "requirejs" / "require.js"
    if not (manager.exists() and requirejs.exists()):
        npm = shutil.which("npm")
        assert npm, "npm is needed to install the widget manager for the browser test (apt-get install npm)"
        proc = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--prefix", str(BROWSER_JS)],
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return manager, requirejs


class _Browser:
    """Headless Debian Chromium through Playwright; only file: and data: URLs load."""

    def __enter__(self):
        assert Path(CHROMIUM).exists(), f"{CHROMIUM} not found: apt-get install -y chromium"
        from playwright.sync_api import sync_playwright

        self._pw = sync_playwright().start()
        self.browser = self._pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                                headless=True)
        self.blocked: list[str] = []
        return self

    def open(self, path: Path, javascript: bool = True):
        context = self.browser.new_context(java_script_enabled=javascript,
                                           viewport={"width": 1280, "height": 900})
        page = context.new_page()

        def route(r):
            if r.request.url.startswith(("file:", "data:")):
                r.continue_()
            else:  # the CDN: unreachable here; fail fast instead of waiting for a timeout
                self.blocked.append(r.request.url)
                r.abort()

        page.route("**/*", route)
        page.goto(path.as_uri(), wait_until="load")
        return page

    def __exit__(self, *exc):
        self.browser.close()
        self._pw.stop()


def _check_gallery(page, root: str, summary: dict) -> dict:
    """Thumbnails decoded and chips visible inside ``root``; returns what was seen."""
    thumbs = page.locator(f"{root} img.itdf-thumb")
    thumbs.first.wait_for(state="visible", timeout=30_000)
    page.wait_for_function(
        f"""() => Array.from(document.querySelectorAll({json.dumps(root + ' img.itdf-thumb')}))
                 .every(i => i.complete)""", timeout=30_000)
    widths = thumbs.evaluate_all("els => els.map(e => e.naturalWidth)")
    shown = len(summary["gallery_rows"])
    assert len(widths) == shown and all(w > 0 for w in widths), widths
    chips = page.locator(f"{root} .itdf-chip")
    texts = chips.all_inner_texts()
    first_row = summary["gallery_rows"][0]
    first_tags = list(summary["tags"].values())[first_row]
    assert set(first_tags) <= set(texts)
    visible = chips.evaluate_all(
        "els => els.filter(e => { const r = e.getBoundingClientRect();"
        " return r.width > 0 && r.height > 0 && getComputedStyle(e).visibility !== 'hidden'; }).length")
    assert visible == len(texts) > 0
    return {"thumbnails": len(widths), "min_natural_width": min(widths), "chips": len(texts)}


@pytest.mark.browser
def test_static_gallery_renders_in_chromium_without_javascript(executed):
    nb, summary = executed
    plain = copy.deepcopy(nb)
    plain.metadata.pop("widgets", None)  # a viewer without the widget manager
    html = _export_html(plain)
    # nbconvert fell back to the gallery's text/html: it is in the page as markup
    # (nbconvert re-serialises the markup, so attributes may be reordered)
    assert len(re.findall(r'<img[^>]*class="itdf-thumb"[^>]*src="data:image/jpeg', html)) == \
        len(summary["gallery_rows"])
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    out = ARTIFACTS / "quickstart_static.html"
    out.write_text(html, encoding="utf-8")
    with _Browser() as b:
        page = b.open(out, javascript=False)
        seen = _check_gallery(page, ".itdf-gallery", summary)
        page.locator(".itdf-gallery").first.screenshot(path=str(ARTIFACTS / "quickstart_static_gallery.png"))
        page.screenshot(path=str(ARTIFACTS / "quickstart_static.png"), full_page=True)
    print(f"static export: {seen}; screenshot {ARTIFACTS / 'quickstart_static_gallery.png'}")


@pytest.mark.browser
def test_widget_gallery_renders_from_saved_state_in_chromium(executed):
    nb, summary = executed
    manager, requirejs = _widget_js()
    html = _export_html(nb, widget_renderer_url=manager.as_uri(), require_js_url=requirejs.as_uri())
    assert WIDGET_STATE in html and summary["gallery_model"] in html
    # With widget state, nbconvert emits the widget view, not the static fallback.
    assert re.search(r'<script type="application/vnd\.jupyter\.widget-view\+json">', html)
    # ... so no thumbnail is in the page as markup: any the browser shows, the widget
    # manager built from the saved state.
    assert not re.findall(r'<img[^>]*class="itdf-thumb"', html)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    out = ARTIFACTS / "quickstart_widgets.html"
    out.write_text(html, encoding="utf-8")
    with _Browser() as b:
        page = b.open(out, javascript=True)
        seen = _check_gallery(page, ".itdf-gallery-widget", summary)
        # the controls came back from the state too
        assert page.get_by_role("button", name="next ▶").first.is_visible()
        assert page.get_by_text(f"images 1–{len(summary['gallery_rows'])} of {summary['rows']}").first.is_visible()
        # the review widget: a remove button per tag, a box to type tags, a checkbox
        assert page.get_by_role("button", name=re.compile("✕")).count() > 0
        assert page.get_by_placeholder("add tag, Enter").first.is_visible()
        assert page.get_by_role("checkbox", name="reviewed").first.is_visible()
        gallery = page.locator(".itdf-gallery-widget").first
        gallery.screenshot(path=str(ARTIFACTS / "quickstart_widgets_gallery.png"))
        page.screenshot(path=str(ARTIFACTS / "quickstart_widgets.png"), full_page=True)
        blocked = list(b.blocked)
    print(f"widget export: {seen}; blocked requests: {blocked}; "
          f"screenshot {ARTIFACTS / 'quickstart_widgets_gallery.png'}")


def test_notebook_dependencies_are_importable():
    # A plain failure with the package names beats an ImportError deep in a fixture.
    missing = []
    for mod in ("nbclient", "nbconvert", "ipykernel", "ipywidgets", "matplotlib"):
        try:
            __import__(mod)
        except ImportError:
            missing.append(mod)
    assert not missing, f"pip install {' '.join(missing)}  (python: {sys.executable})"
