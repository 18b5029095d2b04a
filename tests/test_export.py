"""The plain export functions: finding images, tables, sidecars, metadata, alt text.

Metadata is read back with Pillow (its own XMP and IPTC parsers), not with the
library that wrote it, and pixels are compared decoded.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import API_KEY, make_photo
from PIL import Image, IptcImagePlugin

from imagetags_df import ConfigurationError, ImageNotFoundError, export
from imagetags_df.export import GENERATOR, MetadataError


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGBA")).copy()


def xmp_of(path: Path) -> dict:
    """dc fields from Pillow's XMP parser: (subject list, subject container, title, description)."""
    with Image.open(path) as im:
        desc = im.getxmp()["xmpmeta"]["RDF"]["Description"]
    subject = desc["subject"]
    container, items = next(iter(subject.items()))
    li = items["li"]
    tags = li if isinstance(li, list) else [li]

    def alt(field: str) -> str | None:
        if field not in desc:
            return None
        return alts(field)["x-default"]

    def alts(field: str) -> dict[str, str]:
        entry = desc[field]["Alt"]["li"] if field in desc else []
        entry = entry if isinstance(entry, list) else [entry]
        return {e["lang"]: e["text"] for e in entry}

    return {"tags": tags, "container": container, "title": alt("title"), "description": alt("description"),
            "titles": alts("title"), "descriptions": alts("description")}


def result_frame(paths: list[str], *, errors: dict[int, str] | None = None) -> pd.DataFrame:
    """A frame shaped like generate()'s output."""
    errors = errors or {}
    n = len(paths)
    return pd.DataFrame({
        "path": paths,
        "tags": [[] if i in errors else [f"tag{i}", "café ☕", "a, b"] for i in range(n)],
        "tag_scores": [None if i in errors else {f"tag{i}": 0.9, "café ☕": 0.5, "a, b": 0.25} for i in range(n)],
        "title": [None if i in errors else f"Title {i} – 猫" for i in range(n)],
        "description": [None if i in errors else f"Description {i}, with \"quotes\" & <angles>" for i in range(n)],
        "error_code": pd.array([2004 if i in errors else None for i in range(n)], dtype="Int64"),
        "error": [errors.get(i) for i in range(n)],
        "request_id": [None if i in errors else f"req{i}" for i in range(n)],
        "credits_used": [0.0 if i in errors else 1.0 for i in range(n)],
        "cached": [False] * n,
        "backend": ["imagedescriber"] * n,
    })


# --------------------------------------------------------------------------- find_images


def test_find_images_walks_folders_skips_hidden_and_sidecars(tmp_path):
    top = tmp_path / "my photos"
    a = make_photo(top / "b 猫.jpg")
    b = make_photo(top / "a.PNG", fmt="PNG")
    make_photo(top / ".hidden.jpg")
    (top / "a.json").write_text("{}")
    (top / "notes.txt").write_text("x")
    deep = make_photo(top / "sub" / "c.webp")
    make_photo(top / ".git" / "d.jpg")
    assert export.find_images([top]) == [b, a]
    assert export.find_images([top], recursive=True) == [b, a, deep]


def test_search_images_says_what_it_passed_over(tmp_path):
    top = tmp_path / "my photos"
    a = make_photo(top / "a.jpg")
    heic = top / "IMG_1.HEIC"
    heic.write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00")  # picked by its extension
    (top / "a.jpg.json").write_text("{}")  # our sidecar: neither an image nor worth reporting
    (top / "notes.txt").write_text("x")
    (top / ".DS_Store").write_text("x")
    deep = make_photo(top / "sub" / "c.webp")
    (top / ".git").mkdir()
    flat = export.search_images([top])
    assert flat.images == [heic, a] and flat.labels == ["IMG_1.HEIC", "a.jpg"]
    assert flat.not_images == [top / "notes.txt"] and flat.subfolders == [top / "sub"]
    assert flat.skipped_summary() == ("skipped 1 file that is not an image (notes.txt) and 1 sub-folder "
                                      "(sub; use --recursive to include it)")
    deep_search = export.search_images([top, a], recursive=True)
    assert deep_search.images == [heic, a, deep] and deep_search.labels[-1] == os.path.join("sub", "c.webp")
    assert deep_search.subfolders == []


def test_find_images_keeps_explicit_files_once_and_names_missing_paths(tmp_path):
    odd = tmp_path / "scan.dat"
    odd.write_bytes(b"not an image, but named explicitly")
    photo = make_photo(tmp_path / "x.jpg")
    assert export.find_images([odd, photo, tmp_path]) == [odd, photo]
    with pytest.raises(ImageNotFoundError, match="nope.jpg"):
        export.find_images([tmp_path / "nope.jpg"])


# --------------------------------------------------------------------------- tables


def test_text_table_cuts_and_aligns_wide_and_decomposed_text():
    import unicodedata

    from wcwidth import wcswidth  # an independent measure of terminal columns

    titles = ["一只猫在沙发上睡觉，阳光从窗户照进来，照在它的毛上，很温暖的一个下午", "Ｆｕｌｌｗｉｄｔｈ ＴＩＴＬＥ",
              unicodedata.normalize("NFD", "ガイドブックの表紙とコーヒー"), "short"]
    df = pd.DataFrame({"path": ["a.jpg", "b.jpg", "c.jpg", "d.jpg"], "title": titles,
                       "tags": [["猫", "沙发"], ["x"], ["本"], ["y"]], "error": [None] * 4})
    labels = ["旅行/二〇二四年の夏休みの写真とても長い名前.jpg", "b.jpg", unicodedata.normalize("NFD", "한국.jpg"),
              "d.jpg"]
    header, *rows = export.text_table(df, "path", width=100, labels=labels).splitlines()
    title_col, tags_col = wcswidth(header[:header.index("title")]), wcswidth(header[:header.index("tags")])
    assert title_col == 34 and tags_col == 34 + 36 + 2  # both columns at their caps
    for row, title, tag in zip(rows, titles, ["猫", "x", "本", "y"]):
        first = unicodedata.normalize("NFC", title)[0]
        assert wcswidth(row[:row.index(first)]) == title_col, row
        assert wcswidth(row[:row.rindex(tag)]) == tags_col, row
    assert rows[0].startswith("旅行/二〇二四年の夏休みの写真と…")  # cut with an ellipsis, within 32 columns


@pytest.mark.parametrize("name", ["out.csv", "out.parquet", "out.jsonl"])
def test_write_table_round_trips_with_pandas(tmp_path, name):
    df = result_frame(["ph otos/猫.jpg", "b.png"], errors={1: "b.png: invalid image format (code=2004)"})
    target = export.write_table(df, tmp_path / name)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp file left
    if name.endswith(".csv"):
        back = pd.read_csv(target, keep_default_na=False, na_values=[""])
        back["tags"] = back["tags"].map(json.loads)
    elif name.endswith(".parquet"):
        back = pd.read_parquet(target)
        back["tags"] = back["tags"].map(list)
    else:
        back = pd.read_json(target, lines=True)
    assert list(back["path"]) == ["ph otos/猫.jpg", "b.png"]
    assert back.loc[0, "tags"] == ["tag0", "café ☕", "a, b"]
    assert back.loc[1, "tags"] == []
    assert back.loc[0, "title"] == "Title 0 – 猫"
    assert back.loc[0, "description"] == 'Description 0, with "quotes" & <angles>'
    assert pd.isna(back.loc[0, "error_code"]) and int(back.loc[1, "error_code"]) == 2004
    assert pd.isna(back.loc[0, "error"]) and "2004" in back.loc[1, "error"]
    assert list(back.columns) == list(df.columns)
    # The score dicts come back as the same dicts, in tag order, from every format.
    again = export.read_table(target)
    assert again.loc[0, "tag_scores"] == {"tag0": 0.9, "café ☕": 0.5, "a, b": 0.25}
    assert list(again.loc[0, "tag_scores"]) == again.loc[0, "tags"] and again.loc[1, "tag_scores"] is None


def test_parquet_keeps_score_dicts_of_different_tags_apart(tmp_path):
    """Inferred, dicts with different keys become one struct with every key of the table."""
    df = pd.DataFrame({"path": ["a.jpg", "b.jpg"], "tags": [["cat", "pet"], ["dog"]],
                       "tag_scores": [{"cat": 0.9, "pet": 0.5}, {"dog": 0.8}],
                       "learned_scores": [{"indoor": 0.2}, {"indoor": 0.7, "beach": 0.1}]})
    back = export.read_table(export.write_table(df, tmp_path / "s.parquet"))
    assert back["tag_scores"].tolist() == df["tag_scores"].tolist()
    assert back["learned_scores"].tolist() == df["learned_scores"].tolist()


def test_write_table_labels_image_bytes_and_uses_normal_file_permissions(tmp_path):
    df = result_frame(["a.jpg", "b.jpg"])
    df["path"] = [b"\xff\xd8\xff" + b"0" * 97, Path("b.jpg")]
    target = export.write_table(df, tmp_path / "r.parquet")
    assert list(pd.read_parquet(target)["path"]) == ["<100 bytes>", "b.jpg"]
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask


def test_write_table_rejects_unknown_extension(tmp_path):
    with pytest.raises(ConfigurationError, match=r"\.csv, \.parquet or \.jsonl"):
        export.write_table(result_frame(["a.jpg"]), tmp_path / "out.xlsx")
    assert not list(tmp_path.iterdir())


# --------------------------------------------------------------------------- sidecars


def test_sidecar_path_is_one_rule_for_every_image(tmp_path):
    # Whatever else is in the folder: the whole file name plus .json.
    solo = make_photo(tmp_path / "solo.jpg")
    assert export.sidecar_path(solo) == tmp_path / "solo.jpg.json"
    coffee_jpg, coffee_tiff = make_photo(tmp_path / "coffee.jpg"), make_photo(tmp_path / "coffee.tiff", fmt="TIFF")
    assert export.sidecar_path(coffee_jpg) == tmp_path / "coffee.jpg.json"
    assert export.sidecar_path(coffee_tiff) == tmp_path / "coffee.tiff.json"
    assert export.sidecar_path(tmp_path / "IMG_1.HEIC") == tmp_path / "IMG_1.HEIC.json"


def test_write_sidecars_writes_ours_and_refuses_foreign_ones(tmp_path):
    imgs = [make_photo(tmp_path / f"p{i} é.jpg", seed=i) for i in range(3)]
    foreign = tmp_path / "p1 é.jpg.json"
    foreign.write_text('{"tags": ["hand-made"]}\n', encoding="utf-8")
    df = result_frame([str(p) for p in imgs], errors={2: "p2: blocked (code=2003)"})

    report = export.write_sidecars(df, "path")
    assert report.written == [tmp_path / "p0 é.jpg.json"]
    assert report.refused == [foreign]
    assert report.skipped == 1 and not (tmp_path / "p2 é.jpg.json").exists()
    assert foreign.read_text(encoding="utf-8") == '{"tags": ["hand-made"]}\n'
    doc = json.loads((tmp_path / "p0 é.jpg.json").read_text(encoding="utf-8"))
    assert list(doc)[:3] == ["tags", "title", "description"]  # the seed's keys, in its order
    assert doc["tags"] == ["tag0", "café ☕", "a, b"] and doc["title"] == "Title 0 – 猫"
    assert doc["generator"] == GENERATOR and doc["image"] == "p0 é.jpg"

    # Ours are replaced on the next run; the foreign one only with force.
    df.loc[0, "title"] = "New title"
    again = export.write_sidecars(df, "path")
    assert again.written == [tmp_path / "p0 é.jpg.json"] and again.refused == [foreign]
    assert json.loads((tmp_path / "p0 é.jpg.json").read_text(encoding="utf-8"))["title"] == "New title"
    forced = export.write_sidecars(df, "path", force=True)
    assert set(forced.written) == {tmp_path / "p0 é.jpg.json", foreign}
    assert json.loads(foreign.read_text(encoding="utf-8"))["generator"] == GENERATOR


def test_write_sidecars_retires_our_old_stem_named_sidecars_only(tmp_path):
    imgs = [make_photo(tmp_path / "cat.jpg", seed=1), make_photo(tmp_path / "dog.jpg", seed=2),
            make_photo(tmp_path / "duo.jpg", seed=3)]
    make_photo(tmp_path / "duo.png", fmt="PNG")
    ours_old = {"tags": ["old"], "title": "", "description": "", "generator": GENERATOR, "backend": "local"}
    (tmp_path / "cat.json").write_text(json.dumps(ours_old), encoding="utf-8")  # ours, only cat's: retired
    (tmp_path / "dog.json").write_text('{"from": "another tool"}', encoding="utf-8")  # not ours: kept
    (tmp_path / "duo.json").write_text(json.dumps(ours_old), encoding="utf-8")  # duo.jpg's or duo.png's? kept
    report = export.write_sidecars(result_frame([str(p) for p in imgs]), "path")
    assert report.written == [tmp_path / "cat.jpg.json", tmp_path / "dog.jpg.json", tmp_path / "duo.jpg.json"]
    assert report.migrated == [tmp_path / "cat.json"] and not (tmp_path / "cat.json").exists()
    assert (tmp_path / "dog.json").exists() and (tmp_path / "duo.json").exists()


# --------------------------------------------------------------------------- metadata


@pytest.mark.parametrize("fmt,ext", [("JPEG", "jpg"), ("PNG", "png"), ("WEBP", "webp"), ("TIFF", "tif")])
def test_write_metadata_xmp_readable_by_pillow_pixels_unchanged(tmp_path, fmt, ext):
    path = make_photo(tmp_path / f"ph oto 猫.{ext}", fmt=fmt)
    os.chmod(path, 0o640)
    before = pixels(path)
    report = export.write_metadata(path, ["cat", "café ☕", "a, b"], "Ein Titel – 猫",
                                   'A "long" description & more')
    meta = xmp_of(path)
    assert meta["tags"] == ["cat", "café ☕", "a, b"]
    assert meta["container"] == "Bag"  # dc:subject is an unordered Bag in the XMP spec
    assert meta["title"] == "Ein Titel – 猫"
    assert meta["description"] == 'A "long" description & more'
    assert np.array_equal(before, pixels(path))
    assert stat.S_IMODE(path.stat().st_mode) == 0o640  # the atomic replace kept the permissions
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert report.sha256 == hashlib.sha256(path.read_bytes()).hexdigest() and report.kept == []


def test_write_metadata_jpeg_iptc_keywords_merge_and_keep_existing_title(tmp_path):
    path = make_photo(tmp_path / "x.jpg")
    export.write_metadata(path, ["cat", "sofa"], "First title", "First description")
    export.write_metadata(path, ["sofa", "indoor", "x" * 100], "Second title", "Second description")
    meta = xmp_of(path)
    assert meta["tags"] == ["cat", "sofa", "indoor", "x" * 100]  # the photographer's keywords stay
    assert meta["title"] == "First title"  # not replaced without overwrite
    with Image.open(path) as im:
        iptc = IptcImagePlugin.getiptcinfo(im)
    keywords = [k.decode("utf-8") for k in iptc[(2, 25)]]
    assert keywords == ["cat", "sofa", "indoor", "x" * 64]  # IPTC caps a keyword at 64 bytes
    assert iptc[(1, 90)] == b"\x1b%G"  # declared UTF-8
    assert iptc[(2, 5)].decode() == "First title"
    assert iptc[(2, 120)].decode() == "First description"

    export.write_metadata(path, [], "Second title", "Second description", overwrite=True)
    assert xmp_of(path)["title"] == "Second title"
    with Image.open(path) as im:
        assert IptcImagePlugin.getiptcinfo(im)[(2, 5)] == b"Second title"


def iptc_of(path: Path) -> dict:
    with Image.open(path) as im:
        iptc = IptcImagePlugin.getiptcinfo(im)
    kw = iptc.get((2, 25), [])
    return {"keywords": [k.decode() for k in (kw if isinstance(kw, list) else [kw])],
            "title": iptc[(2, 5)].decode(), "description": iptc[(2, 120)].decode()}


def test_write_metadata_second_language_is_a_language_alternative(tmp_path):
    path = make_photo(tmp_path / "x.jpg")
    first = export.write_metadata(path, ["cat", "sofa"], "A cat", "A cat on a sofa", lang="en")
    assert first.kept == []
    second = export.write_metadata(path, ["Katze", "Sofa"], "Eine Katze", "Eine Katze auf dem Sofa", lang="de")
    assert second.kept == ["keywords: those in en", "title: the existing default",
                           "description: the existing default"]
    meta = xmp_of(path)  # Pillow's own XMP parser, not the library that wrote it
    assert meta["titles"] == {"x-default": "A cat", "en": "A cat", "de": "Eine Katze"}
    assert meta["descriptions"] == {"x-default": "A cat on a sofa", "en": "A cat on a sofa",
                                    "de": "Eine Katze auf dem Sofa"}
    assert meta["tags"] == ["cat", "sofa"]  # keywords stay in one language, not a mix
    assert iptc_of(path) == {"keywords": ["cat", "sofa"], "title": "A cat", "description": "A cat on a sofa"}
    back = export.read_metadata(path)  # the exiv2 binding reads the same
    assert back["titles"] == meta["titles"] and back["tags_lang"] == "en" and back["our_tags"] == ["cat", "sofa"]
    # The same language again changes nothing and keeps nothing worth saying.
    assert export.write_metadata(path, ["Katze", "Sofa"], "Eine Katze", "Eine Katze auf dem Sofa",
                                 lang="de").kept == ["keywords: those in en", "title: the existing default",
                                                     "description: the existing default"]
    assert xmp_of(path)["titles"] == meta["titles"]


def test_write_metadata_overwrite_switches_our_language_never_the_photographers(tmp_path):
    import exiv2

    path = make_photo(tmp_path / "x.jpg")
    image = exiv2.ImageFactory.open(path.read_bytes())  # what a photo manager wrote before us
    image.readMetadata()
    xmp = image.xmpData()
    xmp["Xmp.dc.subject"] = exiv2.XmpArrayValue(["Urlaub 2024"], exiv2.TypeId.xmpBag)
    xmp["Xmp.dc.title"] = exiv2.LangAltValue({"x-default": "Mein Foto"})
    image.writeMetadata()
    io = image.io()
    path.write_bytes(bytes(io.mmap()))
    io.munmap()

    en = export.write_metadata(path, ["cat", "sofa"], "A cat", "A cat on a sofa", lang="en")
    assert en.kept == ["title: the existing default"]
    assert xmp_of(path)["titles"] == {"x-default": "Mein Foto", "en": "A cat"}
    assert xmp_of(path)["tags"] == ["Urlaub 2024", "cat", "sofa"]
    assert iptc_of(path)["title"] == "Mein Foto"  # IPTC has one language: it mirrors x-default

    de = export.write_metadata(path, ["Katze", "Sofa"], "Eine Katze", "Eine Katze auf dem Sofa", lang="de",
                               overwrite=True)
    assert de.kept == []
    meta = xmp_of(path)
    assert meta["tags"] == ["Urlaub 2024", "Katze", "Sofa"]  # ours replaced, the photographer's kept
    assert meta["titles"] == {"x-default": "Eine Katze", "en": "A cat", "de": "Eine Katze"}
    assert iptc_of(path) == {"keywords": ["Urlaub 2024", "Katze", "Sofa"], "title": "Eine Katze",
                             "description": "Eine Katze auf dem Sofa"}
    assert export.read_metadata(path)["tags_lang"] == "de"


def test_write_metadata_keeps_exif(tmp_path):
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"  # Make
    exif[0x0112] = 6  # Orientation: the pixels must not be rotated by us
    path = make_photo(tmp_path / "exif.jpg", exif=exif.tobytes())
    before = pixels(path)
    export.write_metadata(path, ["a"], "t", "d")
    with Image.open(path) as im:
        assert im.getexif()[0x010F] == "CameraMaker" and im.getexif()[0x0112] == 6
    assert np.array_equal(before, pixels(path))


@pytest.mark.parametrize("kind", ["gif", "corrupt"])
def test_write_metadata_refuses_cleanly_and_leaves_the_file_alone(tmp_path, kind):
    if kind == "gif":
        path = make_photo(tmp_path / "anim.gif", fmt="GIF")
        match = "cannot hold XMP"
    else:
        path = tmp_path / "broken.jpg"
        path.write_bytes(b"\xff\xd8\xff\xe0 truncated")
        match = "broken.jpg"
    original = path.read_bytes()
    with pytest.raises(MetadataError, match=match):
        export.write_metadata(path, ["a"], "t", "d")
    assert path.read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


# --------------------------------------------------------------------------- alt text

PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Café</title>
<style>img { border: 0 } /* <img src="style.jpg"> */</style></head>
<body>\r\n<p>Old Mac line\rbreak</p>
  <!-- <img src="commented.jpg"> -->
  <IMG SRC="img/cat%20one.jpg" class=hero>
  <img src='img/dog.png' alt="" data-x="1"/>
  <img
     src="img/cat%20one.jpg?v=2#frag"   title="Kept title">
  <img src=img/bird.webp>
  <img src="https://example.com/remote.jpg">
  <img src="data:image/png;base64,iVBORw0KGgo=">
  <img src="/static/logo.png" alt="Logo" title="Logo">
  <img src="/static/root.jpg">
  <img src="img/missing.jpg">
  <script>document.write('<img src="script.jpg">')</script>
  <p>Ünïcödé text stays &amp; so do entities &nbsp; and\r\nCRLF lines.</p>
</body></html>
"""


_ADDED = re.compile(rb'(?i)(<img)((?: alt="[^"<>]*")?(?: title="[^"<>]*")?)')


def _strip_added(new: bytes) -> tuple[bytes, list[bytes]]:
    """The page with the attributes we add right after "<img" removed, and those attributes.

    The sample pages have no attribute of their own right after "<img " that
    looks like ours, so equality with the original proves that nothing but
    those insertions changed, byte for byte.
    """
    added: list[bytes] = []

    def drop(m: re.Match[bytes]) -> bytes:
        if m.group(2):
            added.append(m.group(2))
        return m.group(1)

    return _ADDED.sub(drop, new), added


def test_fill_alt_text_inserts_only_missing_attributes(tmp_path, api):
    site = tmp_path / "my site"
    make_photo(site / "img" / "cat one.jpg", seed=1)
    make_photo(site / "img" / "dog.png", seed=2, fmt="PNG")
    make_photo(site / "img" / "bird.webp", seed=3, fmt="WEBP")
    make_photo(site / "static" / "root.jpg", seed=4)
    page = site / "index.html"
    page.write_bytes(PAGE.encode("utf-8"))
    original = page.read_bytes()

    report = export.fill_alt_text(page, site / "out.html", backend="imagedescriber", api_key=API_KEY,
                                  base_url=api.url, progress=False, rate_limit="100/s")
    assert page.read_bytes() == original  # out_path given: the page itself untouched
    new = (site / "out.html").read_bytes()
    assert new == report.html
    stripped, added = _strip_added(new)
    assert stripped == original
    # In page order: cat (alt+title), cat again (has a title: alt only), bird, /static/root.jpg.
    assert len(added) == 4
    assert all(a.startswith(b' alt="A fake description in en."') for a in added)
    assert [b' title="Image ' in a for a in added] == [True, False, True, True]
    assert added[0] == added[2].replace(added[2][-8:], added[0][-8:])  # same shape, other image
    assert report.filled == 4  # cat, cat again (alt only), bird, /static/root.jpg
    assert report.remote == 2 and report.already_done == 1 and report.decorative == 1
    assert [src for src, _ in report.failed] == ["img/missing.jpg"]
    assert report.images == 9  # not the commented or scripted ones
    # alt="" (decorative: no title either) and the existing title are respected.
    assert b"<img src='img/dog.png' alt=\"\" data-x=\"1\"/>" in new
    assert new.count(b'title="Kept title"') == 1


def test_fill_alt_text_root_relative_sources_and_non_utf8_pages(tmp_path, api):
    site = tmp_path / "site"
    make_photo(site / "static" / "root.jpg", seed=4)
    page = site / "blog" / "post.html"
    page.parent.mkdir(parents=True)
    text = '<meta charset="iso-8859-1"><p>Déjà vu \xff</p><img src="/static/root.jpg">\n'
    page.write_bytes(text.encode("latin-1"))
    original = page.read_bytes()
    report = export.fill_alt_text(page, page, root=site, backend="imagedescriber", api_key=API_KEY,
                                  base_url=api.url, progress=False, rate_limit="100/s")
    assert report.filled == 1 and not report.failed
    new = page.read_bytes()
    stripped, added = _strip_added(new)
    assert stripped == original
    assert len(added) == 1 and added[0].startswith(b' alt="A fake description in en." title="Image ')


SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"


@pytest.mark.parametrize("name", ["chelsea_cat.jpg", "grace_hopper.jpg", "coins.png"])
def test_write_metadata_on_real_photos(tmp_path, name):
    src = SAMPLES / name
    path = tmp_path / f"copy of {name}"
    path.write_bytes(src.read_bytes())
    before = pixels(path)
    export.write_metadata(path, ["photo", "sample"], f"Title of {name}", "A real photograph")
    assert np.array_equal(before, pixels(path))
    meta = xmp_of(path)
    assert meta["tags"] == ["photo", "sample"] and meta["title"] == f"Title of {name}"
    assert export.read_metadata(path)["tags"] == ["photo", "sample"]
