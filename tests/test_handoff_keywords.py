"""Photo managers: hierarchical keywords and IPTC limits, read back by exiftool (another tool than ours)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from imagetags_df.cli import main
from imagetags_df.export import keyword_paths, write_metadata

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"
EXIFTOOL = shutil.which("exiftool")
pytestmark = pytest.mark.skipif(EXIFTOOL is None, reason="exiftool (Debian: libimage-exiftool-perl) is in the "
                                                         "README's system packages and .ci/run installs it")


def _exiftool(path: Path) -> dict:
    out = subprocess.run([EXIFTOOL, "-j", "-charset", "iptc=UTF8", "-XMP-lr:HierarchicalSubject",
                          "-XMP-digiKam:TagsList", "-XMP-dc:Subject", "-IPTC:Keywords", "-b", str(path)],
                         capture_output=True, check=True, text=True, encoding="utf-8")
    record = json.loads(out.stdout)[0]

    def as_list(value):
        return [] if value is None else [str(v) for v in value] if isinstance(value, list) else [str(value)]

    return {k: as_list(record.get(k)) for k in ("HierarchicalSubject", "TagsList", "Subject", "Keywords")}


def test_tag_write_metadata_gives_lightroom_and_digikam_paths(tmp_path):
    for name in ("chelsea_cat.jpg", "coffee.jpg"):
        shutil.copy(SAMPLES / name, tmp_path / name)
    result = CliRunner().invoke(main, ["tag", str(tmp_path), "--backend", "local", "--write-metadata", "--no-progress",
                                       "--cache-dir", str(tmp_path / "cache")])
    assert result.exit_code == 0, result.output
    cat = _exiftool(tmp_path / "chelsea_cat.jpg")
    assert sorted(cat["Subject"]) == ["animal", "cat", "pet"]
    assert cat["HierarchicalSubject"] == ["animal|pet|cat"]
    assert cat["TagsList"] == ["animal/pet/cat"]
    coffee = _exiftool(tmp_path / "coffee.jpg")
    assert coffee["HierarchicalSubject"] == ["drink|coffee|espresso"]
    assert coffee["TagsList"] == ["drink/coffee/espresso"]
    assert coffee["Keywords"] == coffee["Subject"] and sorted(coffee["Subject"]) == ["coffee", "drink", "espresso"]


def test_german_paths_and_the_photographers_own_paths_stay(tmp_path):
    photo = shutil.copy(SAMPLES / "chelsea_cat.jpg", tmp_path / "cat.jpg")
    subprocess.run([EXIFTOOL, "-q", "-overwrite_original", "-XMP-lr:HierarchicalSubject=Trips|Italy 2024",
                    "-XMP-digiKam:TagsList=Trips/Italy 2024", str(photo)], check=True)
    paths = keyword_paths(["Katze", "Tier", "Haustier"], lang="de", backend="local")
    write_metadata(photo, ["Katze", "Tier", "Haustier"], "Katze", None, lang="de", hierarchy=paths)
    got = _exiftool(Path(photo))
    assert got["HierarchicalSubject"] == ["Trips|Italy 2024", "Tier|Haustier|Katze"]
    assert got["TagsList"] == ["Trips/Italy 2024", "Tier/Haustier/Katze"]


def test_other_backends_write_flat_paths_and_iptc_keywords_fit_64_bytes(tmp_path):
    photo = shutil.copy(SAMPLES / "coffee.jpg", tmp_path / "coffee.jpg")
    long_tag = "ラテアート" * 6  # 30 characters, 90 bytes of UTF-8
    tags = ["dog", long_tag, "a/b"]
    write_metadata(photo, tags, None, None, hierarchy=keyword_paths(tags, backend="openai"))
    got = _exiftool(Path(photo))
    assert got["HierarchicalSubject"] == ["dog", long_tag, "a-b"]
    assert got["TagsList"] == ["dog", long_tag, "a-b"]  # a '/' inside a tag would make it two levels
    assert got["Subject"] == tags  # XMP has no length limit: all of it
    for keyword in got["Keywords"]:
        assert len(keyword.encode("utf-8")) <= 64
    assert got["Keywords"] == ["dog", "ラテアート" * 4 + "ラ", "a/b"]  # cut at a character boundary
