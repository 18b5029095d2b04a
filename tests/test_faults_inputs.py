"""Inputs a hostile user would try: odd file names, pages pointing outside their site, key names
that look like ids, huge numbers; and the progress bar's figures on big runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from imagetags_df.engine.run import Progress
from imagetags_df.export.alttext import fill_alt_text
from imagetags_df.server.keystore import MAX_CREDITS, KeyStore

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"


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


# --------------------------------------------------------------------------- keys

def _keys(db, *args):
    proc = subprocess.run([sys.executable, "-m", "imagetags_df", "keys", *args, "--db", str(db)],
                          capture_output=True, text=True, timeout=60)
    return proc.returncode, proc.stdout, proc.stderr


def test_a_reference_that_is_both_an_id_and_a_name_is_refused(tmp_path):
    db = tmp_path / "k.sqlite3"
    store = KeyStore(db)
    store.create("alice", 10)     # id 1
    store.create("1", 5)          # named "1": id 2
    store.close()
    code, out, err = _keys(db, "revoke", "1")
    assert code != 0 and "both the id of key #1 and the name of key #2" in err
    assert all(i.active for i in KeyStore(db).list_keys())  # nothing revoked on a guess
    code, out, err = _keys(db, "revoke", "name:1")
    assert code == 0 and "key #2" in out
    code, out, err = _keys(db, "topup", "#1", "--credits", "3")
    assert code == 0 and "key #1 'alice': 13 credits" in out
    infos = {i.id: i for i in KeyStore(db).list_keys()}
    assert infos[1].active and not infos[2].active


def test_credits_past_what_sqlite_holds_are_a_clear_error(tmp_path):
    db = tmp_path / "k.sqlite3"
    code, out, err = _keys(db, "create", "--name", "x", "--credits", "99999999999999999999")
    assert code == 2 and "Traceback" not in err and "--credits" in err
    KeyStore(db).create("big", MAX_CREDITS - 5)
    code, out, err = _keys(db, "topup", "big", "--credits", str(MAX_CREDITS))
    assert code == 1 and "Traceback" not in err and "would pass the most a key can hold" in err
    assert KeyStore(db).find("big").credits == MAX_CREDITS - 5  # not wrapped, not changed
    with pytest.raises(ValueError):
        KeyStore(db).create("huge", 2**63)


def test_keys_list_escapes_names(tmp_path):
    db = tmp_path / "k.sqlite3"
    KeyStore(db).create("evil\n99  fake  itk_x  1000000  0  2026-01-01 00:00  active", 1)
    KeyStore(db).create("plain", 2)
    code, out, err = _keys(db, "list")
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 3  # the header and one line per key
    assert "evil\\n99" in lines[1]


# --------------------------------------------------------------------------- alt-text's site

def test_alt_text_reads_nothing_outside_the_site(tmp_path):
    private = tmp_path / "private" / "x.jpg"
    private.parent.mkdir()
    shutil.copy(SAMPLES / "motorcycle.jpg", private)
    site = tmp_path / "www" / "site"
    (site / "img").mkdir(parents=True)
    shutil.copy(SAMPLES / "coffee.jpg", site / "img" / "ok.jpg")
    (site / "img" / "link.jpg").symlink_to(private)
    page = site / "index.html"
    page.write_text('<p><img src="img/ok.jpg"><img src="../../private/x.jpg"><img src="/../../private/x.jpg">'
                    '<img src="img/link.jpg"><img src="img/%2e%2e/%2e%2e/%2e%2e/private/x.jpg"></p>\n')
    env = {**os.environ, "IMAGETAGS_CACHE_DIR": str(tmp_path / "c")}
    proc = subprocess.run([sys.executable, "-m", "imagetags_df", "alt-text", str(page), "--backend", "local",
                           "--min-confidence", "0", "--no-progress"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    outside = [line for line in proc.stderr.splitlines() if "outside the site's root" in line]
    assert len(outside) == 4, proc.stderr
    assert proc.stdout.count(" alt=") == 1 and '<img alt=' in proc.stdout.split("../../private")[0]

    report = fill_alt_text(page, root=site / "img", backend="local", cache_dir=tmp_path / "c", progress=False)
    assert "img/ok.jpg" not in report.outside and len(report.outside) == 4
    assert report.results is not None and str(private) not in set(report.results["path"])


# --------------------------------------------------------------------------- file names

def test_a_name_that_is_not_utf8_is_skipped_and_a_newline_keeps_the_table(tmp_path):
    folder = tmp_path / "pics"
    folder.mkdir()
    shutil.copy(SAMPLES / "coffee.jpg", os.fsencode(folder) + b"/\xff\xfe.jpg")
    shutil.copy(SAMPLES / "flower.jpg", folder / "flower.jpg")
    shutil.copy(SAMPLES / "rocket.jpg", folder / "new\nline.jpg")
    env = {**os.environ, "IMAGETAGS_CACHE_DIR": str(tmp_path / "c")}
    proc = subprocess.run([sys.executable, "-m", "imagetags_df", "tag", str(folder), "--backend", "local",
                           "--no-progress"], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    skipped = [line for line in proc.stderr.splitlines() if "not UTF-8" in line]
    assert len(skipped) == 1 and "\\xff\\xfe.jpg" in skipped[0]
    lines = proc.stdout.splitlines()
    assert len(lines) == 3, proc.stdout  # header, flower, the newline file on one line
    assert any(line.startswith("new\\nline") for line in lines)
    assert "2 tagged" in proc.stderr

    out = tmp_path / "out.csv"
    proc = subprocess.run([sys.executable, "-m", "imagetags_df", "tag", str(folder), "--backend", "local",
                           "--no-progress", "--out", str(out)], env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    import pandas as pd

    assert sorted(os.path.basename(p) for p in pd.read_csv(out)["path"]) == ["flower.jpg", "new\nline.jpg"]
