"""The built wheel, installed (not editable) into a fresh venv, tags a photo offline.

An editable install reads everything from the source tree, so package data left
out of the wheel (the ONNX models, the vocabulary, py.typed) or a dependency
missing from pyproject would go unnoticed by every other test. This one builds
the wheel from a copy of the sources, installs it with its dependencies into a
new virtual environment (pip's cache keeps that quick), and runs the installed
``imagetags`` command from a folder outside the repository.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "samples" / "chelsea_cat.jpg"

#: Top-level entries a wheel build does not need (the package's own folders are all copied).
_NOT_NEEDED = {".git", ".venv", ".ci", "build", "dist", "tests", "bench", "notebooks", "data", "docs", "tools"}


def _copy_sources(dst: Path) -> None:
    def ignore(folder: str, names: list[str]) -> set[str]:
        skip = {n for n in names if n in ("__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache")
                or n.endswith(".egg-info")}
        if Path(folder) == ROOT:
            skip |= _NOT_NEEDED & set(names)
        return skip

    shutil.copytree(ROOT, dst, ignore=ignore)


def _run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, capture_output=True, text=True, **kwargs)
    assert proc.returncode == 0, f"{args[:4]} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    return proc


@pytest.mark.slow
@pytest.mark.timeout(900)  # dependencies come from pip's cache, or PyPI on a cold machine
def test_wheel_installed_in_a_fresh_venv_tags_offline(tmp_path):
    import pillow_heif

    src, dist, venv, work = tmp_path / "src", tmp_path / "dist", tmp_path / "venv", tmp_path / "elsewhere"
    _copy_sources(src)
    # A copy, so the build's own build/ and egg-info never land in the working tree.
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(src)], timeout=600)
    (wheel,) = dist.glob("imagetags_df-*.whl")

    _run([sys.executable, "-m", "venv", str(venv)], timeout=120)
    bindir = venv / ("Scripts" if os.name == "nt" else "bin")
    _run([str(bindir / "python"), "-m", "pip", "install", "-q", "--prefer-binary", str(wheel)], timeout=840)

    work.mkdir()
    shutil.copy(SAMPLE, work / "cat.jpg")
    pillow_heif.register_heif_opener()
    with Image.open(SAMPLE) as im:  # a phone's HEIC: needs the pillow-heif dependency the wheel declares
        im.save(work / "cat.heic", format="HEIF", quality=85)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "IMAGEDESCRIBER_API_KEY")}
    env["IMAGETAGS_CACHE_DIR"] = str(tmp_path / "cache")
    where, hint = _run([str(bindir / "python"), "-c", "import imagetags_df; print(imagetags_df.__file__); "
                        "from imagetags_df._install import pip_install; print(pip_install('widgets'))"],
                       cwd=work, env=env, timeout=120).stdout.strip().splitlines()
    assert Path(where).is_relative_to(venv) and not Path(where).is_relative_to(ROOT)
    assert hint == 'pip install "imagetags-df[widgets]"'  # installed from a wheel: the index's name

    proc = _run([str(bindir / "imagetags"), "tag", "cat.jpg", "cat.heic", "--backend", "local", "--out", "-",
                 "--no-progress"], cwd=work, env=env, timeout=300)
    rows = {r["path"]: r for r in map(json.loads, proc.stdout.splitlines())}
    assert set(rows) == {"cat.jpg", "cat.heic"}
    for row in rows.values():
        assert row["error"] is None and row["backend"] == "local", row
        assert "cat" in row["tags"], row
