"""The offline tagger's parts on their own: vocabulary merging, colours, box decoding, grammar."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from imagetags_df._constants import LANGUAGES
from imagetags_df.backends.local import colors
from imagetags_df.backends.local.compose import _cap, _ko_has_final, color_words, compose
from imagetags_df.backends.local.models import _STRIDES, DETECTOR_SIZE, Detection, decode_detections
from imagetags_df.backends.local.tags import Analysis, Scored, analyse, with_text
from imagetags_df.backends.local.vocab import ClassInfo, get_vocabulary, load_vocabulary


def _term(en: str, **over: str) -> dict:
    base = {"en": en, "zh": "中" + en[:1], "fr": "fr-" + en, "de": "De-" + en, "es": "es-" + en,
            "ja": "日" + en[:1], "ko": "한" + en[:1], "g": {"fr": "m", "de": "n", "es": "m"}}
    base.update(over)
    return base


def test_vocabulary_merge_order_first_term_wins_and_overrides_apply(tmp_path: Path) -> None:
    (tmp_path / "attributes.json").write_text(json.dumps(
        {"classes": {}, "terms": {"cat": _term("cat", fr="chat"), "animal": _term("animal")}}))
    (tmp_path / "coco.json").write_text(json.dumps(
        {"classes": {"15": {"name": "cat", "tag": "cat", "broader": ["animal"], "kind": "animal", "indoor": None}},
         "terms": {"cat": _term("cat", fr="CHAT-LOSES")}}))
    (tmp_path / "imagenet_0000_0499.json").write_text(json.dumps(
        {"classes": {"281": {"name": "tabby", "tag": "tabby cat", "broader": ["cat", "animal"], "kind": "animal"},
                     "665": {"name": "moped", "tag": "moped", "broader": ["vehicle"], "kind": "vehicle"}},
         "terms": {"tabby cat": _term("tabby cat"), "moped": _term("moped"), "vehicle": _term("vehicle")}}))
    overrides = tmp_path / "over.json"
    overrides.write_text(json.dumps({"imagenet": {"665": {"add_broader": ["motorcycle"],
                                                           "remove_broader": ["vehicle"]}},
                                     "terms": {"motorcycle": _term("motorcycle")}}))
    v = load_vocabulary(tmp_path, overrides)
    assert v.missing == ["imagenet_0500_0999.json"]  # a missing file leaves gaps, it does not fail
    assert v.word("cat", "fr") == "chat"
    assert v.coco[15] == ClassInfo("cat", ("animal",), "animal", None)
    assert v.imagenet[281] is not None and v.imagenet[281].broader == ("cat", "animal")
    assert v.imagenet[665] is not None and v.imagenet[665].broader == ("motorcycle",)
    assert v.imagenet[0] is None
    assert v.has("motorcycle", "ko")
    with pytest.raises(KeyError):
        v.word("nowhere", "de")  # never falls back to English outside English
    assert v.word("nowhere", "en") == "nowhere"
    before = v.digest
    overrides.write_text(json.dumps({}))
    assert load_vocabulary(tmp_path, overrides).digest != before  # cache identities follow edits


def test_shipped_vocabulary_is_complete() -> None:
    v = get_vocabulary()
    assert not v.missing
    assert all(c is not None for c in v.imagenet) and all(c is not None for c in v.coco)
    used = {t for c in (*v.imagenet, *v.coco) if c for t in (c.tag, *c.broader)}
    for term in used | {"black and white", "dark", "bright", "people", "crowd", "text"}:
        for lang in LANGUAGES:
            assert v.has(term, lang), (term, lang)


@pytest.mark.parametrize("rgb,name", [((250, 250, 250), "white"), ((10, 10, 12), "black"), ((128, 128, 130), "gray"),
                                      ((200, 20, 20), "red"), ((30, 60, 200), "blue"), ((40, 160, 50), "green"),
                                      ((240, 200, 20), "yellow"), ((120, 70, 30), "brown"), ((240, 130, 20), "orange"),
                                      ((140, 40, 180), "purple"), ((240, 150, 190), "pink")])
def test_colour_names(rgb: tuple[int, int, int], name: str) -> None:
    px = np.full((4, 4, 3), rgb, dtype=np.uint8)
    assert set(colors.name_pixels(px)) == {name}


def test_pixel_stats_black_and_white_and_light() -> None:
    gray = np.repeat(np.linspace(0, 60, 48 * 48).reshape(48, 48, 1), 3, axis=2).astype(np.uint8)
    st = colors.pixel_stats(gray)
    assert st.black_and_white and st.brightness < colors.DARK_BELOW
    bands = np.zeros((48, 48, 3), np.uint8)
    palette = [(220, 20, 20), (20, 180, 30), (30, 40, 220), (240, 220, 20), (150, 30, 190), (250, 250, 250)]
    for i, c in enumerate(palette):
        bands[i * 8:(i + 1) * 8] = c
    st = colors.pixel_stats(bands)
    assert not st.black_and_white and st.colorful
    assert {n for n, _ in st.colors} <= {"red", "green", "blue", "yellow", "purple", "white"}


def _heads(cells_per_stride: dict[int, tuple[np.ndarray, np.ndarray]]) -> tuple[dict, list]:
    outs, heads = {}, []
    for stride, (scores, boxes) in cells_per_stride.items():
        outs[f"s{stride}"], outs[f"b{stride}"] = scores[None], boxes[None]
        heads.append((stride, {"scores": f"s{stride}", "boxes": f"b{stride}"}))
    return outs, heads


def test_detection_decoding_nms_and_box_geometry() -> None:
    grids = {s: DETECTOR_SIZE // s for s in _STRIDES}
    data = {s: (np.zeros((g * g, 80), np.float32), np.zeros((g * g, 44), np.float32)) for s, g in grids.items()}
    scores, boxes = data[32]
    g = grids[32]
    # Two neighbouring cells see the same person; one cell far away sees a cup.
    for cell, score in ((g * 5 + 4, 0.8), (g * 5 + 5, 0.6)):
        scores[cell, 0] = score
        boxes[cell] = -10.0
        for side in range(4):
            boxes[cell, side * 11 + 2] = 10.0  # 2 strides to every side
    scores[0, 41] = 0.7
    boxes[0] = -10.0
    boxes[0, [0, 11, 22, 33]] = 10.0  # zero-size box at the cell centre
    outs, heads = _heads(data)
    found = decode_detections(outs, heads)
    assert [d.cls for d in found] == [0, 41]
    person = found[0]
    assert person.score == pytest.approx(0.8)
    cx = (4 + 0.5) * 32 / DETECTOR_SIZE
    assert person.box[0] == pytest.approx(cx - 64 / DETECTOR_SIZE, abs=1e-3)
    assert person.box[2] == pytest.approx(cx + 64 / DETECTOR_SIZE, abs=1e-3)


def test_ko_particle_follows_the_last_syllable() -> None:
    assert _ko_has_final("검은색") and not _ko_has_final("사과") and not _ko_has_final("abc")


def _analysis(subject: str | None, others: list[tuple[str, int]], count: int = 1, **kw) -> Analysis:
    base = dict(tags=[Scored(subject, 0.9, "object")] if subject else [], subject=subject,
                subject_count=count, others=others, colors=["blue", "white"], light=None, black_and_white=False,
                portrait=False)
    base.update(kw)
    return Analysis(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_compose_counts_and_no_english_leak(lang: str) -> None:
    v = get_vocabulary()
    a = _analysis("dog", [("person", 3), ("cup", 1), ("bicycle", 2)])
    tags, scores, title, desc = compose(a, v, lang)
    assert tags[0] == v.word("dog", lang) and len(tags) == len(scores)
    assert v.word("dog", lang).lower() in title.lower()
    assert "3" in desc and "2" in desc
    if lang in ("fr", "de", "es"):
        assert v.plural("person", lang) in desc and v.plural("bicycle", lang) in desc
    if lang in ("zh", "ja", "ko"):
        assert not re.search(r"[A-Za-z]", title + desc + "".join(tags))
    if lang == "en":
        assert desc.startswith("A photo of a dog.") and "3 people" in desc and "a cup" in desc and "2 bicycles" in desc
    group = compose(_analysis("people", [], count=4, light="dark"), v, lang)
    assert "4" in group[2] and "4" in group[3]
    # Nothing recognised: no failure sentence and no "Photo" title (it may be a drawing or
    # a screen capture); found text is still reported.
    nothing = compose(_analysis(None, [], black_and_white=True, colors=[]), v, lang)
    assert nothing[2] == "" and nothing[3] == ""
    with_text = compose(_analysis(None, [], text="OPEN 24H"), v, lang)
    assert with_text[2] == _cap(v.word("text", lang)) and "OPEN 24H" in with_text[3]


def test_analyse_pools_breeds_into_one_confident_term() -> None:
    v = get_vocabulary()
    probs = np.zeros(1000, np.float32)
    cats = [i for i, c in enumerate(v.imagenet) if c and "cat" in c.broader and c.kind == "animal"][:3]
    for i, p in zip(cats, (0.38, 0.36, 0.17)):
        probs[i] = p
    stats = colors.PixelStats(colors=[("brown", 0.5)], brightness=0.5, saturation=0.3, black_and_white=False,
                              colorful=False)
    a = analyse(probs, [], stats, 400, 300, v)
    terms = {t.term: t.score for t in a.tags}
    assert terms.get("cat", 0) == pytest.approx(0.91, abs=0.01)
    assert not any(v.imagenet[i].tag in terms for i in cats)  # no breed is sure enough alone
    assert a.subject == "cat"
    # Scattered unrelated guesses make no "animal".
    probs[:] = 0
    probs[cats[0]] = 0.3
    fish = next(i for i, c in enumerate(v.imagenet) if c and "fish" in c.broader)
    probs[fish] = 0.3
    assert "animal" not in {t.term for t in analyse(probs, [], stats, 400, 300, v).tags}


def test_a_detected_object_is_not_narrowed_without_near_certainty() -> None:
    """The sample sport bike: detector "motorcycle" .56, classifier moped .52 + motor scooter
    .17. "Scooter" only narrows the detected motorcycle and .69 is not enough for that."""
    v = get_vocabulary()
    moped, scooter = (next(i for i, c in enumerate(v.imagenet) if c and c.tag == t) for t in ("moped", "motor scooter"))
    motorcycle = next(i for i, c in enumerate(v.coco) if c and c.tag == "motorcycle")
    stats = colors.PixelStats(colors=[("gray", 0.9)], brightness=0.5, saturation=0.1, black_and_white=False,
                              colorful=False)
    bike = [Detection(motorcycle, 0.56, (0.1, 0.1, 0.9, 0.9))]
    probs = np.zeros(1000, np.float32)
    probs[moped], probs[scooter] = 0.52, 0.17
    terms = [t.term for t in analyse(probs, bike, stats, 400, 300, v).tags]
    assert terms[:2] == ["motorcycle", "vehicle"]
    assert not {"scooter", "moped", "motor scooter"} & set(terms)
    # A classifier that is sure keeps the narrower name next to the detector's.
    probs[moped], probs[scooter] = 0.90, 0.05
    terms = [t.term for t in analyse(probs, bike, stats, 400, 300, v).tags]
    assert {"motorcycle", "scooter", "moped"} <= set(terms)
    # Without the detector the same .69 is the classifier's own claim and stands as before.
    probs[moped], probs[scooter] = 0.52, 0.17
    assert "scooter" in {t.term for t in analyse(probs, [], stats, 400, 300, v).tags}


def test_objects_lead_colours_even_when_one_colour_fills_the_picture() -> None:
    v = get_vocabulary()
    rocket = next(i for i, c in enumerate(v.imagenet) if c and c.tag == "rocket")
    probs = np.zeros(1000, np.float32)
    probs[rocket] = 0.7
    stats = colors.PixelStats(colors=[("blue", 1.0)], brightness=0.5, saturation=0.6, black_and_white=False,
                              colorful=False)
    a = analyse(probs, [], stats, 400, 300, v)
    # Colours, light and orientation are not content: they are kept apart from the tags.
    assert [t.term for t in a.tags] == ["rocket"]
    assert a.colors == ["blue"] and a.orientation == "landscape"
    assert color_words(a, v, "fr") == [v.word("blue", "fr")]


def _probs(v, **by_tag: float) -> np.ndarray:
    probs = np.zeros(1000, np.float32)
    for tag, p in by_tag.items():
        probs[next(i for i, c in enumerate(v.imagenet) if c and c.tag == tag.replace("_", " "))] = p
    return probs


_PLAIN = colors.PixelStats(colors=[("gray", 0.6)], brightness=0.5, saturation=0.2, black_and_white=False,
                           colorful=False)


def _coco(v, tag: str) -> int:
    return next(i for i, c in enumerate(v.coco) if c and c.tag == tag)


def test_a_detector_animal_the_classifier_does_not_back_is_only_an_animal() -> None:
    """Calibration photo: a quokka boxed as "cat" (.67) while the classifier says wombat .36."""
    v = get_vocabulary()
    a = analyse(_probs(v, wombat=0.36, wallaby=0.05, marmot=0.03), [Detection(_coco(v, "cat"), 0.67, (0.1, 0.1, 0.9, 0.9))],
                _PLAIN, 640, 480, v)
    terms = {t.term for t in a.tags}
    assert "animal" in terms and not terms & {"cat", "pet"}
    assert a.subject == "animal"


def test_pet_needs_the_classifier_to_be_sure_of_a_domestic_species() -> None:
    v = get_vocabulary()
    box = [Detection(_coco(v, "dog"), 0.8, (0.1, 0.1, 0.9, 0.9))]
    sure = analyse(_probs(v, labrador_retriever=0.7), box, _PLAIN, 640, 480, v)
    unsure = analyse(_probs(v, labrador_retriever=0.3), box, _PLAIN, 640, 480, v)
    assert {"dog", "pet"} <= {t.term for t in sure.tags}
    assert "dog" in {t.term for t in unsure.tags} and "pet" not in {t.term for t in unsure.tags}


def test_a_weak_detection_needs_the_classifier_to_name_the_same_thing() -> None:
    """A marigold: bird box .33 while the classifier sees bee and butterfly ("animal" only)."""
    v = get_vocabulary()
    a = analyse(_probs(v, bee=0.17, sulphur_butterfly=0.17, daisy=0.13),
                [Detection(_coco(v, "bird"), 0.33, (0.2, 0.2, 0.6, 0.6))], _PLAIN, 640, 480, v)
    terms = {t.term for t in a.tags}
    assert not terms & {"bird", "animal"}
    # ...and the flowers' visitors are evidence of the flower itself.
    assert {"flower", "plant"} <= terms and a.subject == "flower"


def test_a_flower_from_the_classes_seen_with_flowers_only_above_its_minimum() -> None:
    v = get_vocabulary()
    weak = analyse(_probs(v, bee=0.08, daisy=0.08), [], _PLAIN, 640, 480, v)
    assert "flower" not in {t.term for t in weak.tags}
    # A classifier sure of the butterfly names it as the subject; the flower is context
    # (and, resting on the butterfly alone, needs petals' colours: see test_tag_rules.py).
    petals = replace(_PLAIN, colors=[("yellow", 0.4), ("green", 0.3)])
    a = analyse(_probs(v, monarch_butterfly=0.75, cabbage_white=0.05), [], petals, 640, 480, v)
    terms = [t.term for t in a.tags]
    assert {"butterfly", "flower"} <= set(terms) and terms.index("butterfly") < terms.index("flower")
    assert a.subject in ("monarch butterfly", "butterfly")


def test_a_broader_term_one_class_carries_alone_needs_the_specific_minimum() -> None:
    """Calibration photo: a toy brick as "joystick" .57 made it "electronics"."""
    v = get_vocabulary()
    assert "electronics" not in {t.term for t in analyse(_probs(v, joystick=0.57), [], _PLAIN, 640, 480, v).tags}
    # Pooled from several classes, the broader term keeps its lower minimum.
    birds = analyse(_probs(v, brambling=0.25, robin=0.22, chickadee=0.18), [], _PLAIN, 640, 480, v)
    assert "bird" in {t.term for t in birds.tags}


def test_a_screenshot_is_called_so_and_not_a_laptop() -> None:
    v = get_vocabulary()
    a = analyse(_probs(v, screenshot=0.9), [Detection(_coco(v, "laptop"), 0.6, (0, 0, 1, 1))], _PLAIN, 1280, 800, v)
    assert [t.term for t in a.tags] == ["screenshot"] and a.subject == "screenshot"
    for lang in LANGUAGES:
        tags, _scores, title, desc = compose(a, v, lang)
        assert tags == [v.word("screenshot", lang)] and title == _cap(v.word("screenshot", lang))
        assert v.word("screenshot", lang).lower() in desc.lower() and "photo" not in desc.lower()


def test_a_colourless_page_of_print_is_a_document_with_text() -> None:
    """A scanned diagram: crossword puzzle .65 + menu .09 + web site .05 and no colour. It is a
    document with text; not a "crossword puzzle" or "puzzle", and a drawn figure boxed as a
    person at .47 is no person on such a page."""
    v = get_vocabulary()
    page = colors.PixelStats(colors=[("white", 0.9)], brightness=0.94, saturation=0.0, black_and_white=True,
                             colorful=False)
    probs = _probs(v, crossword_puzzle=0.70, menu=0.09, screenshot=0.05)
    figure = [Detection(_coco(v, "person"), 0.47, (0.1, 0.6, 0.2, 0.7))]
    a = analyse(probs, figure, page, 700, 560, v)
    assert {t.term for t in a.tags} == {"document", "text"} and a.subject == "document" and a.confidence >= 0.5
    for lang in LANGUAGES:
        tags, _scores, title, _desc = compose(a, v, lang)
        assert set(tags) == {v.word("document", lang), v.word("text", lang)}
        assert title == _cap(v.word("document", lang))
    # The same classes on a colourful picture are no evidence of print: nothing changes.
    colourful = colors.PixelStats(colors=[("blue", 0.5)], brightness=0.6, saturation=0.3, black_and_white=False,
                                  colorful=False)
    terms = {t.term for t in analyse(probs, figure, colourful, 700, 560, v).tags}
    assert "crossword puzzle" in terms and not {"document", "text"} & terms
    # A colourless screen capture keeps its name and gains "text", not "document".
    shot = analyse(_probs(v, screenshot=0.9), [], page, 1280, 800, v)
    assert [t.term for t in shot.tags] == ["screenshot", "text"] and shot.subject == "screenshot"


def test_ocr_of_a_colourless_page_full_of_text_makes_a_document() -> None:
    """OCR read 797-1,021 letters on scanned diagrams the classifier calls an oscilloscope:
    such a page is a document (and its subject, the classifier being unsure); a little text,
    colour, or a screen capture are no page of print."""
    v = get_vocabulary()
    page = "Hello, hello, how are you, " * 20
    unsure = _analysis("electronics", [], tags=[Scored("electronics", 0.52, "category")], black_and_white=True)
    a = with_text(unsure, page, v)
    assert {t.term for t in a.tags} == {"document", "text", "electronics"} and a.subject == "document"
    for lang in LANGUAGES:
        assert compose(a, v, lang)[2].startswith(_cap(v.word("document", lang)))
    assert "document" not in {t.term for t in with_text(unsure, "Hello, hello " * 4, v).tags}
    coloured = replace(unsure, black_and_white=False)
    assert "document" not in {t.term for t in with_text(coloured, page, v).tags}
    shot = _analysis("screenshot", [], black_and_white=True)
    b = with_text(shot, page, v)
    assert "document" not in {t.term for t in b.tags} and b.subject == "screenshot"
    sure = _analysis("dog", [], black_and_white=True)  # a surer subject stays the subject
    assert with_text(sure, page, v).subject == "dog"


def test_scenes_from_pooled_classes_and_open_sky_from_the_top_rows() -> None:
    v = get_vocabulary()
    sky = colors.PixelStats(colors=[("blue", 0.6)], brightness=0.6, saturation=0.4, black_and_white=False,
                            colorful=False, sky_blue=0.95, sky_texture=0.01)
    a = analyse(_probs(v, sandbar=0.40, beach=0.19, lakeshore=0.10), [], sky, 1920, 1080, v)
    terms = [t.term for t in a.tags]
    assert {"landscape", "sea", "water", "sky", "outdoor"} <= set(terms)
    assert a.subject == "landscape"  # the picture the sea is part of; "a photo of a water" never
    assert compose(a, v, "fr")[3].startswith("Une photo d’un paysage.")
    by_water = analyse(_probs(v, pier=0.40), [], _PLAIN, 640, 480, v)
    assert [t.term for t in by_water.tags] == ["water"] and by_water.subject is None
    assert compose(by_water, v, "en")[2:] == ("Water", "")
    for lang in LANGUAGES:  # every new scene word exists in every language
        for term in ("landscape", "sea", "water", "sky", "mountain", "screenshot", "illustration"):
            assert v.has(term, lang), (term, lang)
    # A textured top (foliage) is no sky, and a drawing's blue top is not one either.
    leafy = colors.PixelStats(colors=[("green", 0.6)], brightness=0.5, saturation=0.4, black_and_white=False,
                              colorful=False, sky_blue=0.95, sky_texture=0.1)
    assert "sky" not in {t.term for t in analyse(_probs(v), [], leafy, 640, 480, v).tags}
    drawn = analyse(_probs(v, illustration=0.5), [], sky, 640, 480, v)
    assert "sky" not in {t.term for t in drawn.tags} and "illustration" in {t.term for t in drawn.tags}
    # Nor is the smooth blue top of an abstract wallpaper, where the classifier sees nothing
    # that stands outdoors (a held-out wallpaper: honeycomb .57, jigsaw puzzle .03...).
    rendered = analyse(_probs(v, honeycomb=0.57, jigsaw_puzzle=0.03), [], sky, 1920, 1080, v)
    assert not {t.term for t in rendered.tags} & {"sky", "outdoor"}
    dune = analyse(_probs(v, ear_of_wheat=0.12, corn=0.03, hay=0.02, bittern=0.02, sandbar=0.06), [], sky,
                   1920, 1080, v)
    assert "sky" in {t.term for t in dune.tags}


def test_sky_share_is_measured_on_the_top_rows() -> None:
    img = np.zeros((48, 48, 3), np.uint8)
    img[:14] = (90, 150, 230)  # smooth blue sky
    img[14:] = (40, 120, 40)
    stats = colors.pixel_stats(img)
    assert stats.sky_blue == 1.0 and stats.sky_texture < 0.01
    img[:14:2] = (200, 200, 200)  # striped: not smooth
    assert colors.pixel_stats(img).sky_texture > 0.03 or colors.pixel_stats(img).sky_blue < 0.8


def test_a_found_face_makes_a_person_and_drops_guesses_at_clothes() -> None:
    """Where NanoDet-m boxes no one, a face found by the cascade is a person; the classifier's
    unsure guess at what they wear (sombrero .43 on a close crop of Grace Hopper) goes."""
    v = get_vocabulary()
    probs = _probs(v, sombrero=0.70)
    without = {t.term for t in analyse(probs, [], _PLAIN, 300, 400, v).tags}
    assert "sombrero" in without and "person" not in without
    a = analyse(probs, [], _PLAIN, 300, 400, v, faces=[(0.2, 0.2, 0.7, 0.6)])
    assert [t.term for t in a.tags] == ["person"] and a.subject == "person" and a.portrait


def test_a_picture_drawn_in_flat_colour_is_an_illustration() -> None:
    from PIL import Image, ImageDraw

    v = get_vocabulary()
    drawing = Image.new("RGB", (224, 224), (250, 250, 250))
    pen = ImageDraw.Draw(drawing)
    pen.rectangle((20, 30, 200, 190), fill=(200, 120, 40))
    pen.ellipse((60, 60, 160, 160), fill=(40, 90, 200))
    pen.polygon([(0, 224), (112, 150), (224, 224)], fill=(30, 160, 60))
    crop = np.asarray(drawing)
    rng = np.random.default_rng(0)
    photo = np.clip(crop.astype(np.int16) + rng.integers(-3, 4, crop.shape), 0, 255).astype(np.uint8)
    assert colors.flat_share(crop) > 0.9 and colors.flat_share(photo) < 0.05
    # A white page around the drawing does not count either way.
    assert colors.flat_share(np.full((50, 50, 3), 255, np.uint8)) == 0.0
    drawn = analyse(_probs(v), [], colors.pixel_stats(crop[::4, ::4], crop), 640, 480, v)
    assert [t.term for t in drawn.tags] == ["illustration"] and drawn.subject == "illustration"
    shot = analyse(_probs(v), [], colors.pixel_stats(photo[::4, ::4], photo), 640, 480, v)
    assert "illustration" not in {t.term for t in shot.tags}


def test_buildings_and_water_from_the_classes_seen_with_them() -> None:
    """Calibration photos: a brick warehouse as castle .15 + tile roof .07 + ...; a lake
    as great egret .10 + lakeshore .09 + sandbar .05 + black stork .05 + ..."""
    v = get_vocabulary()
    house = analyse(_probs(v, castle=0.15, tile_roof=0.12, mobile_home=0.11, palace=0.05, church=0.05),
                    [], _PLAIN, 640, 480, v)
    assert [t.term for t in house.tags] == ["building"] and house.subject == "building"
    lake = analyse(_probs(v, great_egret=0.12, lakeshore=0.12, sandbar=0.08, black_stork=0.05, goose=0.05),
                   [], _PLAIN, 640, 480, v)
    # Water only: not the "structure" and "landscape" that piers and shores would imply.
    assert [t.term for t in lake.tags] == ["water"]
    # A boat on a white page is no evidence of water; a stage is no building.
    assert "water" not in {t.term for t in analyse(_probs(v, ocean_liner=0.41, yawl=0.1), [], _PLAIN, 640, 480, v).tags}
    stage = analyse(_probs(v, home_theater=0.36, stage=0.1, window_shade=0.1), [], _PLAIN, 640, 480, v)
    assert "building" not in {t.term for t in stage.tags}
