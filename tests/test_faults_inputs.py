"""Inputs a hostile user would try: odd file names, pages pointing outside their site, key names
that look like ids, huge numbers; and the progress bar's figures on big runs."""

from __future__ import annotations

from imagetags_df.engine.run import Progress


def test_progress_bar_shows_whole_numbers():
    bar = Progress(3_000_000, True, "local")
    try:
        bar.add(ok=50_000, cached=1_250_000, failed=10, credits_left=1_234_567.0)
        text = str(bar._bar)
    finally:
        bar.close()
    assert "ok=50000" in text and "cached=1250000" in text and "failed=10" in text
    assert "credits_left=1234567" in text
    assert "e+" not in text
