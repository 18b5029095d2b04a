"""The offline tagger on the real sample photos, in every language, with the network blocked."""

from __future__ import annotations

import asyncio
import io
import re
import socket
from pathlib import Path

import pandas as pd
import pytest
from conftest import prepared

from imagetags_df._constants import LANGUAGES
from imagetags_df._exceptions import ConfigurationError, CorruptImageError
from imagetags_df._types import PreparedImage, TagResult
from imagetags_df.backends.local import LocalBackend, describe_image
from imagetags_df.backends.local.vocab import get_vocabulary

COLOR_TERMS = ("black", "white", "gray", "red", "orange", "yellow", "green", "blue", "purple", "pink",
               "brown", "beige")

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"

#: photo -> (terms of which at least one must be a tag, terms that must never be tags)
EXPECTED: dict[str, tuple[set[str], set[str]]] = {
    "chelsea_cat.jpg": ({"cat"}, {"dog", "toilet", "computer mouse", "person", "lynx", "tiger"}),
    "coffee.jpg": ({"coffee", "cup"}, {"toilet", "soup", "person", "dog"}),
    "astronaut.jpg": ({"person"}, {"football helmet", "sink", "toothbrush", "bowl", "bobsleigh", "cat", "dog"}),
    "motorcycle.jpg": ({"motorcycle"}, {"vase", "houseplant", "toilet", "bottle", "person"}),
    "rocket.jpg": ({"rocket"}, {"weapon", "toilet", "missile"}),
    "grace_hopper.jpg": ({"person"}, {"academic gown", "graduation cap", "dog", "cat"}),
    "cameraman.jpg": ({"person", "tripod"}, {"harmonica", "dog"}),
    "coins.png": (set(), {"orange fruit", "banana", "fruit", "food"}),
    "retina.jpg": (set(), {"table", "sink", "person", "lampshade", "mask", "jellyfish"}),
    "china_temple.jpg": ({"building"}, {"boat", "person", "dog", "cat"}),
    "flower.jpg": ({"flower"}, {"vase", "bee", "mushroom", "sea anemone", "food", "bird"}),
}


def _prepared(path: Path) -> PreparedImage:
    return prepared(path.read_bytes(), str(path))


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test here runs with outgoing connections refused: the tagger must not need them."""

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the offline tagger tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.fixture(scope="module")
def results() -> dict[str, dict[str, TagResult]]:
    backend = LocalBackend()
    images = [_prepared(SAMPLES / name) for name in EXPECTED]
    out: dict[str, dict[str, TagResult]] = {name: {} for name in EXPECTED}
    for lang in LANGUAGES:
        for name, res in zip(EXPECTED, backend.tag_many(images, lang)):
            assert isinstance(res, TagResult), res
            out[name][lang] = res
    return out


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("name", list(EXPECTED))
def test_expected_subjects_and_no_wrong_tags(results: dict[str, dict[str, TagResult]], name: str, lang: str) -> None:
    vocab = get_vocabulary()
    want, never = EXPECTED[name]
    res = results[name][lang]
    tags = set(res.tags)
    if want:
        wanted_words = {vocab.word(t, lang) for t in want}
        assert tags & wanted_words, f"{name} [{lang}]: none of {sorted(wanted_words)} in {res.tags}"
    # Compare by English key (two keys can share one word in some languages, e.g. 人).
    en_tags = set(results[name]["en"].tags)
    assert not (en_tags & never), f"{name}: wrong tags {sorted(en_tags & never)}"
    for bad in never:
        if vocab.has(bad, lang) and vocab.word(bad, lang) not in {vocab.word(t, lang) for t in en_tags}:
            assert vocab.word(bad, lang) not in tags, f"{name} [{lang}]: wrong tag {bad!r} in {res.tags}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_result_shape(results: dict[str, dict[str, TagResult]], lang: str) -> None:
    vocab = get_vocabulary()
    look = {vocab.word(t, lang) for t in (*COLOR_TERMS, "black and white", "dark", "bright", "colorful",
                                          "landscape orientation", "portrait orientation", "square")}
    for name, per_lang in results.items():
        res = per_lang[lang]
        assert len(res.tags) <= 15
        assert not set(res.tags) & look, f"{name} [{lang}]: colour/light/shape words in the tags {res.tags}"
        assert len(res.tags) == len(set(res.tags)), res.tags
        assert res.tag_scores is not None and len(res.tag_scores) == len(res.tags)
        assert all(0.0 < s <= 1.0 for s in res.tag_scores)
        assert res.tag_scores == sorted(res.tag_scores, reverse=True)
        assert res.backend == "local" and res.credits_used == 0.0
        assert res.orientation in ("landscape", "portrait", "square") and res.colors is not None
        assert res.confidence is not None and 0.0 <= res.confidence <= 1.0
        if not res.tags:  # nothing recognised: nothing claimed, and the row says so
            assert (res.title, res.description, res.confidence) == ("", "", 0.0), (name, res)
            continue
        assert res.confidence <= max(res.tag_scores) and len(res.title) <= 60
        assert res.title or res.confidence == 0.0
        if res.description:
            n_sentences = len(re.findall(r"[.。!?](?:\s|$)|[。]", res.description))
            assert 1 <= n_sentences <= 3, res.description


@pytest.mark.parametrize("lang", ["zh", "ja", "ko"])
def test_no_english_in_cjk_output(results: dict[str, dict[str, TagResult]], lang: str) -> None:
    for name, per_lang in results.items():
        res = per_lang[lang]
        text = " ".join([*res.tags, res.title, res.description])
        assert not re.search(r"[A-Za-z]{2,}", text), f"{name} [{lang}]: ASCII letters in {text!r}"


@pytest.mark.parametrize("lang", ["fr", "de", "es"])
def test_no_english_words_in_european_output(results: dict[str, dict[str, TagResult]], lang: str) -> None:
    for name, per_lang in results.items():
        en = per_lang["en"]
        res = per_lang[lang]
        text = " ".join([*res.tags, res.title, res.description]).lower()
        for word in ("photo of", "also in the picture", "dominant color", "portrait of", " and "):
            assert word not in text, f"{name} [{lang}]: English {word!r} in {text!r}"
        assert res.description != en.description or not en.description


def test_subject_is_named_in_title_and_description(results: dict[str, dict[str, TagResult]]) -> None:
    vocab = get_vocabulary()
    for name, subject in (("chelsea_cat.jpg", "cat"), ("motorcycle.jpg", "motorcycle"), ("rocket.jpg", "rocket")):
        for lang in LANGUAGES:
            res = results[name][lang]
            word = vocab.word(subject, lang)
            assert word.lower() in res.title.lower(), (name, lang, res.title)
            assert word.lower() in res.description.lower(), (name, lang, res.description)


def test_people_are_counted_from_the_detector(results: dict[str, dict[str, TagResult]]) -> None:
    res = results["astronaut.jpg"]["en"]
    assert res.tags[0] == "person" and res.tag_scores and res.tag_scores[0] >= 0.5
    assert "person" in res.description


def test_black_and_white_photo_is_said_so() -> None:
    res = describe_image(SAMPLES / "coins.png", lang="de")
    assert res.colors is not None and get_vocabulary().word("black and white", "de") in res.colors
    assert get_vocabulary().word("black and white", "de") not in res.tags


def test_unknown_language_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        LocalBackend().tag(_prepared(SAMPLES / "coffee.jpg"), "it")


def test_corrupt_image_fails_alone_and_names_its_source() -> None:
    good = _prepared(SAMPLES / "coffee.jpg")
    data = good.data[: len(good.data) // 3]
    bad = prepared(data, "row 7 (bytes)")
    out = asyncio.run(LocalBackend().tag_batch([bad, good], "en"))
    assert isinstance(out[0], CorruptImageError) and "row 7" in str(out[0])
    assert isinstance(out[1], TagResult) and out[1].tags
    with pytest.raises(CorruptImageError):
        LocalBackend().tag(PreparedImage(data=b"not an image", mime="image/png", sha256="0", source="x.png"), "en")


def test_same_image_same_answer_in_batch_and_alone() -> None:
    backend = LocalBackend()
    img = _prepared(SAMPLES / "chelsea_cat.jpg")
    alone = backend.tag(img, "es")
    batch = backend.tag_many([_prepared(SAMPLES / "coffee.jpg"), img], "es")[1]
    assert isinstance(batch, TagResult)
    assert alone.tags == batch.tags and alone.title == batch.title


def test_cache_identity_is_stable_and_says_what_matters() -> None:
    a, b = LocalBackend(), LocalBackend()
    assert a.cache_identity() == b.cache_identity()
    assert a.cache_identity().startswith("local:") and a.cache_identity().endswith("ocr=0")
    assert a.max_concurrency == 1 and a.max_batch >= 1 and a.rate_limit is None and not a.costs_credits


def test_registry_builds_the_local_backend() -> None:
    from imagetags_df.backends import resolve_backend

    backend = resolve_backend("local")
    assert backend.name == "local"


def _side_by_side(names: list[str], height: int = 400) -> PreparedImage:
    """A wide picture of several sample portraits next to each other (a real multi-person photo)."""
    import io

    from PIL import Image

    parts = []
    for name in names:
        im = Image.open(SAMPLES / name).convert("RGB")
        parts.append(im.resize((round(im.width * height / im.height), height)))
    canvas = Image.new("RGB", (sum(p.width for p in parts), height))
    x = 0
    for p in parts:
        canvas.paste(p, (x, 0))
        x += p.width
    buf = io.BytesIO()
    canvas.save(buf, format="JPEG", quality=90)
    data = buf.getvalue()
    return prepared(data, "group")


@pytest.mark.parametrize("names", [["astronaut.jpg", "grace_hopper.jpg", "cameraman.jpg"],
                                   ["astronaut.jpg", "grace_hopper.jpg"]])
def test_people_are_counted_in_a_wide_group_picture(names: list[str]) -> None:
    backend = LocalBackend()
    vocab = get_vocabulary()
    img = _side_by_side(names)
    en = backend.tag(img, "en")
    assert {"person", "people"} <= set(en.tags), en.tags
    # A wide picture squeezed into the square detector input used to read as a surfboard,
    # and the classifier's centre crop of a helmet as a football helmet.
    assert not set(en.tags) & {"surfboard", "football helmet", "sports equipment", "helmet"}, en.tags
    n = str(len(names))
    for lang in LANGUAGES:
        res = backend.tag(img, lang)
        assert n in res.title and n in res.description, (lang, res.title, res.description)
        assert vocab.word("people", lang) in res.tags


def _encode(transform: str) -> bytes:
    import io

    import numpy as np
    from PIL import Image

    src = Image.open(SAMPLES / "chelsea_cat.jpg")
    buf = io.BytesIO()
    if transform == "cmyk":
        src.convert("CMYK").save(buf, "JPEG")
    elif transform == "rgba":
        src.convert("RGBA").save(buf, "PNG")
    elif transform == "palette":
        src.convert("P").save(buf, "PNG")
    elif transform == "16-bit":
        Image.fromarray(np.asarray(src.convert("L")).astype(np.uint16) * 257).save(buf, "PNG")
    elif transform == "webp":
        src.save(buf, "WEBP")
    elif transform == "exif-rotated":
        exif = Image.Exif()
        exif[0x0112] = 6  # "rotate 90° clockwise to display"
        src.rotate(90, expand=True).save(buf, "JPEG", exif=exif.tobytes())
    elif transform == "huge-png":
        src.resize((4000, 2667)).save(buf, "PNG")
    return buf.getvalue()


@pytest.mark.parametrize("transform", ["cmyk", "rgba", "palette", "16-bit", "webp", "exif-rotated", "huge-png"])
def test_every_input_format_gives_the_same_subject(transform: str) -> None:
    data = _encode(transform)
    img = prepared(data, transform)
    res = LocalBackend().tag(img, "en")
    assert "cat" in res.tags, (transform, res.tags)
    assert "dog" not in res.tags
    if transform == "exif-rotated":
        assert res.orientation == "landscape"  # displayed upright, as the viewer sees it


def test_other_languages_reuse_the_analysis(monkeypatch: pytest.MonkeyPatch) -> None:
    backend = LocalBackend()
    img = _prepared(SAMPLES / "coffee.jpg")
    en = backend.tag(img, "en")

    def no_models(*_a: object) -> None:
        raise AssertionError("the models ran again for an image already analysed")

    monkeypatch.setattr(backend, "_analyse_uncached", no_models)
    fr = backend.tag(img, "fr")
    assert fr.tag_scores == en.tag_scores and fr.tags != en.tags


_SECOND_LANGUAGE_RUN = """
import json, sys
import pandas as pd
import imagetags_df
from imagetags_df.backends.local import LocalBackend
backend = LocalBackend()
out = pd.DataFrame({"path": sys.argv[2:]}).imagetags.generate(
    col="path", lang="fr", backend=backend, cache_dir=sys.argv[1], progress=False)
print(json.dumps({"analysed": backend.times.images, "tags": out["tags"].tolist(),
                  "descriptions": out["description"].tolist(), "errors": out["error"].notna().sum().item()}))
"""


def test_another_language_in_a_later_process_runs_no_model(tmp_path: Path) -> None:
    """generate() keeps the language-free analyses in its cache: French after English, in a
    new process, composes from them (no decode, no model) and says exactly what a run from
    scratch says. A damaged entry is a miss, analysed again."""
    import json
    import subprocess
    import sys

    import pandas as pd

    import imagetags_df  # noqa: F401 - registers the accessor
    from imagetags_df.infra.cache import Cache, analysis_key, result_key

    names = ["chelsea_cat.jpg", "coffee.jpg", "astronaut.jpg", "motorcycle.jpg"]
    paths = [str(SAMPLES / n) for n in names]
    cache_dir = tmp_path / "cache"
    first = LocalBackend()
    pd.DataFrame({"path": paths}).imagetags.generate(col="path", lang="en", backend=first,
                                                     cache_dir=cache_dir, progress=False)
    assert first.times.images == len(names)

    def french_in_new_process() -> dict:
        run = subprocess.run([sys.executable, "-c", _SECOND_LANGUAGE_RUN, str(cache_dir), *paths],
                             capture_output=True, text=True, timeout=120, check=True)
        return json.loads(run.stdout.strip().splitlines()[-1])

    again = french_in_new_process()
    fresh = pd.DataFrame({"path": paths}).imagetags.generate(col="path", lang="fr", backend=LocalBackend(),
                                                             cache_dir=False, progress=False)
    assert again["analysed"] == 0 and again["errors"] == 0
    assert again["tags"] == fresh["tags"].tolist()
    assert again["descriptions"] == fresh["description"].tolist()

    # Damage one stored analysis and drop the French results: only that image is analysed again.
    cache = Cache(cache_dir)
    identity = first.cache_identity()
    cache.set_json(analysis_key(identity, _prepared(SAMPLES / "coffee.jpg").sha256), {"tags": "not a list"})
    for name in names:
        del cache.store[result_key(identity, "fr", _prepared(SAMPLES / name).sha256)]
    cache.close()
    again = french_in_new_process()
    assert again["analysed"] == 1
    assert again["tags"] == fresh["tags"].tolist()


def test_a_cache_that_cannot_keep_analyses_costs_no_tags(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A full disk cannot be made here (the tests run as root), so a cache that refuses
    writes stands in for one."""
    from imagetags_df.infra.cache import Cache

    class FullDisk(Cache):
        def set_json(self, key: str, value: object) -> None:
            raise OSError(28, "No space left on device")

    backend = LocalBackend()
    backend.attach_cache(FullDisk(tmp_path / "cache"))
    res = backend.tag_many([_prepared(SAMPLES / "chelsea_cat.jpg")], "en")[0]
    assert isinstance(res, TagResult) and "cat" in res.tags
    assert "could not keep an analysis" in caplog.text


def test_concurrent_single_image_batches_do_not_deadlock() -> None:
    """The engine may run several one-image batches at once (e.g. with a rate limit set)."""
    backend = LocalBackend()
    names = ["chelsea_cat.jpg", "coffee.jpg", "rocket.jpg", "motorcycle.jpg", "astronaut.jpg"]

    async def run_all() -> list[list[TagResult | BaseException]]:
        calls = [backend.tag_batch([_prepared(SAMPLES / n)], "en") for n in names]
        return await asyncio.wait_for(asyncio.gather(*calls), timeout=60)

    results = asyncio.run(run_all())
    assert all(isinstance(r[0], TagResult) and r[0].tags for r in results)
    asyncio.run(backend.aclose())


def test_generate_gives_confidence_colors_and_orientation_columns(tmp_path: Path) -> None:
    """Callers filter on ``confidence``; the look of the picture has its own columns."""
    paths = [str(SAMPLES / "chelsea_cat.jpg"), str(SAMPLES / "brick.jpg"), str(SAMPLES / "grace_hopper.jpg")]
    out = pd.DataFrame({"path": paths}).imagetags.generate(col="path", lang="fr", backend="local",
                                                           cache_dir=tmp_path, progress=False)
    cat, brick, hopper = out.to_dict("records")
    assert cat["confidence"] >= 0.6 and "chat" in cat["tags"]
    assert brick["confidence"] == 0.0 and brick["tags"] == [] and brick["title"] == brick["description"] == ""
    assert brick["colors"] == [get_vocabulary().word("black and white", "fr")]
    assert hopper["orientation"] == "portrait" and cat["orientation"] == "landscape"
    assert list(out[out.confidence >= 0.6].path) == [paths[0], paths[2]]


def test_a_face_that_fills_the_frame_is_a_person() -> None:
    """A close crop of the astronaut's face: NanoDet-m boxes no person (no body to see), the
    shipped face cascade finds the face, so every language says "person" and "portrait"."""
    from PIL import Image

    from imagetags_df.backends.local import imaging
    from imagetags_df.backends.local.models import get_models
    from imagetags_df.backends.local.tags import DET_MIN, PERSON

    buf = io.BytesIO()
    Image.open(SAMPLES / "astronaut.jpg").convert("RGB").crop((170, 40, 300, 190)).save(buf, "JPEG", quality=92)
    data = buf.getvalue()
    decoded = imaging.decode(data)
    boxes = get_models().detect(decoded.detector_input, decoded.detector_extent)
    assert not [d for d in boxes if d.cls == PERSON and d.score >= DET_MIN[PERSON]]
    img = prepared(data, "face.jpg")
    vocab = get_vocabulary()
    backend = LocalBackend()
    for lang in LANGUAGES:
        res = backend.tag(img, lang)
        assert vocab.word("person", lang) in res.tags, (lang, res)
        assert res.confidence is not None and res.confidence >= 0.6
    assert backend.tag(img, "en").title == "Portrait of a person"


def test_a_typed_page_says_text_without_ocr() -> None:
    """A page of black words on white, drawn here: the classifier pools it into the classes of
    printed paper and the page has no colour, so every language says "text" (no OCR needed)."""
    import random

    from PIL import Image, ImageDraw, ImageFont

    rng = random.Random(1)
    words = "the of and to in is that for it as with was on be by this are from at or an which have not".split()
    im = Image.new("RGB", (850, 1100), "white")
    draw = ImageDraw.Draw(im)
    font = ImageFont.load_default(size=18)
    for y in range(60, 1040, 28):
        draw.text((70, y), " ".join(rng.choice(words) for _ in range(14)), fill="black", font=font)
    buf = io.BytesIO()
    im.save(buf, "PNG")
    data = buf.getvalue()
    img = prepared(data, "page.png")
    vocab = get_vocabulary()
    backend = LocalBackend()
    for lang in LANGUAGES:
        res = backend.tag(img, lang)
        assert vocab.word("text", lang) in res.tags, (lang, res)
