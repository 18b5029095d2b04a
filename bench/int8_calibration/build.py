"""Build the pictures the int8 models are calibrated on (``tools/build_models.py quantize``).

Static quantization fixes, once, the range of every activation of the classifier and the
detector from what they see on a set of pictures; pictures unlike the user's give ranges
that clip or waste the 256 levels. This set is built for that alone, from registry packages
that none of the tagger's quality sets use (``bench/calibration``: its photos and its
held-out pictures; nor gcompris-qt-data, opencv-doc or kphotoalbum, the independent check):

* real photos: Debian ``palapeli-data`` (a jigsaw game's five photos: a chameleon, a bee,
  citrus fruits, a bridge, a castle) and ``hugin-data`` (the panorama stitcher's manual:
  streets, a station hall, a lamp, rivers and buildings, some through fisheye lenses), each
  whole and as two crops;
* objects in scenes: Debian ``tuxpaint-stamps-default`` (Tux Paint's stamps, most of them
  cut out of photos: animals, food, vehicles, plants, people, household things), pasted at
  varied sizes and places on crops of those photos or on plain and gradient grounds, one to
  three at a time, so the detector sees objects at the scales it finds them in photos.

Everything random is seeded: a rebuild writes the same pictures. Output: ``images/*.jpg``
and ``manifest.json`` (source package, version and path of every piece, and the pictures'
SHA-256), both beside this file; the downloads are kept in ``bench/calibration/.downloads``.

    python bench/int8_calibration/build.py      # ~170 MB of downloads the first time
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
from pathlib import Path

from PIL import Image, ImageOps

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

from bench.calibration.build import _deb, _deb_licence  # noqa: E402

IMAGES = HERE / "images"
MANIFEST = HERE / "manifest.json"
SEED = 20261208

PALAPELI = [f"usr/share/palapeli/collection/{n}.jpg" for n in (
    "castle-maintenon", "cincinnati-bridge", "citrus-fruits", "european-honey-bee", "panther-chameleon-female")]
_HUGIN_DIR = "usr/share/hugin/xrc/data/help_en_EN/"
#: The manual's photographs, not its screenshots, diagrams or repeated projections of one view.
HUGIN = [_HUGIN_DIR + n for n in (
    "800px-C_Marchi-GrandCentral-adj.jpg", "600px-Tuebingen_Neckarfront_small15_2006-06-11.jpg",
    "360px-Pantheon-150x100-rect-panini.jpg", "300px-Lamp_enfuse.jpg", "300px-2125768589_b.jpg",
    "Medinet_habu_horizontal_fisheye.jpg", "Big_ben_rectilinear.jpg",
    "250px-Little_planet.jpg", "180px-LagardePont-fish.jpg",
    "250px-LagardePont-defish.jpg", "Vertical-fisheye.jpg")]
#: Stamp folders with things a photo shows (symbols, space and seasonal stamps are drawings).
STAMP_FOLDERS = ("animals", "food", "vehicles", "plants", "household", "people", "sports", "town", "clothes",
                 "hobbies", "military")
#: Stamps under this many bytes are mostly flat drawings, not cut-out photographs.
STAMP_MIN_BYTES = 30_000
STAMP_SCENES = 150
SIZES = ((640, 480), (480, 640), (800, 533), (600, 600), (1024, 576))


def _photo(root: Path, member: str) -> Image.Image:
    return ImageOps.exif_transpose(Image.open(root / member)).convert("RGB")


def _crop(rng: random.Random, im: Image.Image) -> Image.Image:
    w, h = im.size
    share = rng.uniform(0.5, 0.85)
    cw, ch = int(w * share), int(h * rng.uniform(0.5, 0.85))
    x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
    out = im.crop((x, y, x + cw, y + ch))
    return ImageOps.mirror(out) if rng.random() < 0.5 else out


def _ground(rng: random.Random, size: tuple[int, int], photos: list[Image.Image]) -> Image.Image:
    kind = rng.random()
    if kind < 0.6:
        return _crop(rng, rng.choice(photos)).resize(size, Image.Resampling.BILINEAR)
    a = tuple(rng.randint(0, 255) for _ in range(3))
    if kind < 0.8:
        return Image.new("RGB", size, a)
    b = tuple(rng.randint(0, 255) for _ in range(3))
    top = Image.new("RGB", size, a)
    mask = Image.linear_gradient("L").resize(size)
    return Image.composite(top, Image.new("RGB", size, b), mask)


def _stamp_scene(rng: random.Random, stamps: list[Path], photos: list[Image.Image]) -> tuple[Image.Image, list[Path]]:
    size = rng.choice(SIZES)
    canvas = _ground(rng, size, photos)
    used = rng.sample(stamps, rng.choice((1, 1, 2, 3)))
    for path in used:
        stamp = Image.open(path).convert("RGBA")
        if rng.random() < 0.5:
            stamp = ImageOps.mirror(stamp)
        share = rng.uniform(0.2, 0.9)  # of the canvas' short side
        scale = share * min(size) / max(stamp.size)
        stamp = stamp.resize((max(1, round(stamp.width * scale)), max(1, round(stamp.height * scale))),
                             Image.Resampling.BILINEAR)
        x = rng.randint(0, max(0, size[0] - stamp.width))
        y = rng.randint(0, max(0, size[1] - stamp.height))
        canvas.paste(stamp, (x, y), stamp)
    return canvas, used


def build() -> list[dict[str, object]]:
    rng = random.Random(SEED)
    IMAGES.mkdir(parents=True, exist_ok=True)
    for old in IMAGES.glob("*.jpg"):
        old.unlink()
    manifest: list[dict[str, object]] = []
    pieces: dict[str, dict[str, str]] = {}

    def piece(pkg: str, root: Path, version: str, member: str) -> str:
        pieces[f"{pkg}:{member}"] = {"package": pkg, "version": version, "path": member,
                                    "licence": _deb_licence(root, pkg, member)}
        return f"{pkg}:{member}"

    def save(name: str, im: Image.Image, sources: list[str]) -> None:
        path = IMAGES / name
        im.save(path, quality=90)
        manifest.append({"file": name, "from": sources, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()})

    photos: list[Image.Image] = []
    for pkg, members in (("palapeli-data", PALAPELI), ("hugin-data", HUGIN)):
        root, version = _deb(pkg)
        for member in members:
            key = piece(pkg, root, version, member)
            im = _photo(root, member)
            photos.append(im)
            stem = f"{pkg.split('-')[0]}_{Path(member).stem}"
            save(f"{stem}.jpg", im, [key])
            for k in range(2):
                save(f"{stem}_crop{k}.jpg", _crop(rng, im), [key])

    root, version = _deb("tuxpaint-stamps-default")
    base = root / "usr/share/tuxpaint/stamps"
    stamps = sorted(p for folder in STAMP_FOLDERS for p in (base / folder).rglob("*.png")
                    if p.stat().st_size >= STAMP_MIN_BYTES)
    for k in range(STAMP_SCENES):
        scene, used = _stamp_scene(rng, stamps, photos)
        keys = [piece("tuxpaint-stamps-default", root, version, str(p.relative_to(root))) for p in used]
        save(f"stamps_{k:03d}.jpg", scene, keys)
    MANIFEST.write_text(json.dumps({"pieces": pieces, "pictures": manifest}, indent=1, ensure_ascii=False) + "\n")
    return manifest


def images() -> list[Path]:
    """The built pictures, in a fixed order (run :func:`build` first)."""
    found = sorted(IMAGES.glob("*.jpg"))
    if not found:
        raise SystemExit(f"no pictures in {IMAGES}: run `python bench/int8_calibration/build.py` first")
    return found


def main() -> None:
    manifest = build()
    print(f"{len(manifest)} pictures in {IMAGES} (sources in {MANIFEST.name})")


if __name__ == "__main__":
    main()
