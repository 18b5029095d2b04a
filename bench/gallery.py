"""The gallery on a large frame: what a user waits for when they page, filter and sort.

Builds a frame of ``--rows`` rows (default 100,000) over the sample photos, with tags and
``tag_scores`` as the offline tagger writes them, then times, once each: the static HTML
page, building the live widget, a case-insensitive tag filter, clearing it and applying a
score threshold with most-confident-first order, and paging. Only one page of thumbnails
is ever made, so the figures should not grow with the photos, only with the rows scanned
by a filter. Prints seconds per step. No network; nothing is written.

    python bench/gallery.py
    python bench/gallery.py --rows 10000
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import pandas as pd

import imagetags_df  # noqa: F401  (registers the accessor)


def _with_html(gallery):
    gallery.html()
    return gallery


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    photos = sorted(str(p) for p in (REPO / "data" / "samples").glob("*.jpg"))
    n = args.rows
    df = pd.DataFrame({
        "path": [photos[i % len(photos)] for i in range(n)],
        "tags": [["coffee", "drink"] if i % 2 else ["coffee"] for i in range(n)],
        "tag_scores": [{"coffee": 0.9, "drink": 0.4} if i % 2 else {"coffee": 0.7} for i in range(n)],
    })
    steps: list[tuple[str, float]] = []

    def timed(name, fn):
        start = time.perf_counter()
        result = fn()
        steps.append((name, time.perf_counter() - start))
        return result

    gallery = timed("preview(n=24) + its static HTML", lambda: _with_html(df.imagetags.preview(n=24)))
    timed("live widget built", lambda: gallery.widget)
    timed('tag box "DRINK" + Enter', lambda: gallery.view.tag_box.set_state({"value": "DRINK"}))
    rows_filtered = gallery.rows
    timed("cleared, min score 0.3, most confident first",
          lambda: (gallery.filter(None), gallery.threshold(0.3), gallery.sort("score")))
    timed("next page", lambda: gallery.view.next.click())
    print(f"gallery over {n:,} rows ({len(photos)} distinct photos); filter matched {rows_filtered:,}")
    for name, seconds in steps:
        print(f"  {name:<48} {seconds:6.2f} s")


if __name__ == "__main__":
    main()
