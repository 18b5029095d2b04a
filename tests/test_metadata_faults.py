"""``--write-metadata`` under faults: nothing paid twice, no photo given another's tags.

Real ``imagetags`` processes against a real loopback API that counts what it
charges, real JPEG files, real signals (SIGKILL mid-pass), a real unprivileged
user (``setpriv``) facing a read-only photo, a real immutable file (``chattr +i``)
and real symbolic links.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import API_KEY, make_photo
from PIL import Image

from imagetags_df import cli, export
from imagetags_df.testing import FakeImageDescriber

FAST = ["--rate-limit", "100/s", "--no-progress", "--backend", "imagedescriber"]


def _env(api: FakeImageDescriber, cache: Path) -> dict[str, str]:
    return dict(os.environ, IMAGEDESCRIBER_BASE_URL=api.url, IMAGEDESCRIBER_API_KEY=API_KEY,
                IMAGETAGS_CACHE_DIR=str(cache))


def _cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "imagetags_df", *args]


def run(args: list[str], api: FakeImageDescriber, cache: Path, *, user: str | None = None
        ) -> subprocess.CompletedProcess:
    prefix = ["setpriv", "--reuid", user, "--regid", "nogroup", "--clear-groups"] if user else []
    return subprocess.run([*prefix, *_cmd(*args)], env=_env(api, cache), capture_output=True, text=True,
                          timeout=120)


def _big_photos(folder: Path, n: int) -> list[Path]:
    """Noisy 1024x768 JPEGs (~0.5 MB): each rewrite takes long enough to be caught mid-pass."""
    rnd = np.random.default_rng(7)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        pixels = rnd.integers(0, 256, (768, 1024, 3), dtype=np.uint8)
        path = folder / f"p{i:03d}.jpg"
        Image.fromarray(pixels).save(path, quality=92)
        out.append(path)
    return out


@pytest.mark.slow
def test_a_rerun_after_a_sigkilled_metadata_pass_pays_nothing(tmp_path):
    photos = _big_photos(tmp_path / "album", 60)
    cache = tmp_path / "cache"
    with FakeImageDescriber(keys={API_KEY}) as api:
        first = run(["tag", str(tmp_path / "album"), "--out", str(tmp_path / "t.csv"), *FAST], api, cache)
        assert first.returncode == 0, first.stderr
        assert api.count("ok") == len(photos)
        before = {p: p.stat().st_mtime_ns for p in photos}
        proc = subprocess.Popen(_cmd("tag", str(tmp_path / "album"), "--write-metadata", *FAST),
                                env=_env(api, cache), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        rewritten = 0
        while time.monotonic() < deadline and proc.poll() is None:
            rewritten = sum(p.stat().st_mtime_ns != before[p] for p in photos)
            if rewritten >= 5:
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.002)
        proc.wait(timeout=30)
        rewritten = sum(p.stat().st_mtime_ns != before[p] for p in photos)
        assert proc.returncode == -signal.SIGKILL and 0 < rewritten < len(photos), (proc.returncode, rewritten)
        # A kill can leave the hidden temporary file of the write it cut: the next runs pass over it.

        again = run(["tag", str(tmp_path / "album"), "--out", str(tmp_path / "again.csv"), *FAST], api, cache)
        assert again.returncode == 0, again.stderr
        assert f"{len(photos)} tagged ({len(photos)} from cache)" in again.stderr
        finish = run(["tag", str(tmp_path / "album"), "--write-metadata", *FAST], api, cache)
        assert finish.returncode == 0, finish.stderr
        assert api.count("ok") == len(photos)  # the interrupted pass and both reruns paid nothing
    assert all(export.read_metadata(p)["tags"] for p in photos)


def _shared_dir() -> Path:
    """A folder an unprivileged user can work in (pytest's own tmp is root's alone)."""
    folder = Path(tempfile.mkdtemp(prefix="imagetags-nobody-"))
    folder.chmod(0o777)
    return folder


def test_a_read_only_photo_is_named_and_the_pass_goes_on_as_an_unprivileged_user():
    probe = subprocess.run(["setpriv", "--reuid", "nobody", "--regid", "nogroup", "--clear-groups",
                            sys.executable, "-c", "import imagetags_df"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"user nobody cannot run this interpreter here: {probe.stderr.decode()[-200:]}")
    top = _shared_dir()
    try:
        album = top / "album"
        photos = [make_photo(album / f"p{i}.jpg", seed=i) for i in range(4)]
        cache = top / "cache"
        for path in (album, *photos):
            shutil.chown(path, "nobody", "nogroup")
        photos[1].chmod(0o444)
        locked = photos[1].read_bytes()
        with FakeImageDescriber(keys={API_KEY}) as api:
            proc = run(["tag", str(album), "--write-metadata", *FAST], api, cache, user="nobody")
            assert proc.returncode == cli.EXIT_PARTIAL, proc.stderr
            assert f"{photos[1]}: the file is read-only; not written" in proc.stderr
            assert "imagetags-tmp" not in proc.stderr
            assert "wrote metadata into 3 image(s)" in proc.stderr
            assert photos[1].read_bytes() == locked
            assert [bool(export.read_metadata(p)["tags"]) for p in photos] == [True, False, True, True]
            again = run(["tag", str(album), *FAST, "--out", str(top / "again.csv")], api, cache, user="nobody")
            assert again.returncode == 0, again.stderr
            assert api.count("ok") == 4  # the rewritten photos are answered from the cache
    finally:
        shutil.rmtree(top, ignore_errors=True)


def test_an_immutable_photo_is_named_and_the_rest_are_written(tmp_path, cache_dir):
    photos = [make_photo(tmp_path / "album" / f"p{i}.jpg", seed=i) for i in range(3)]
    if subprocess.run(["chattr", "+i", str(photos[0])], capture_output=True).returncode != 0:
        pytest.skip("this file system has no immutable attribute (chattr +i)")
    try:
        with FakeImageDescriber(keys={API_KEY}) as api:
            proc = run(["tag", str(tmp_path / "album"), "--write-metadata", *FAST], api, cache_dir)
            assert proc.returncode == cli.EXIT_PARTIAL, proc.stderr
            assert f"metadata not written: {photos[0]}: the file is read-only; not written" in proc.stderr
            assert "imagetags-tmp" not in proc.stderr
            assert "wrote metadata into 2 image(s)" in proc.stderr
            again = run(["tag", str(tmp_path / "album"), "--out", str(tmp_path / "o.csv"), *FAST], api, cache_dir)
            assert "3 tagged (3 from cache)" in again.stderr and api.count("ok") == 3
    finally:
        subprocess.run(["chattr", "-i", str(photos[0])], check=True)


def test_a_photo_replaced_after_tagging_gets_no_tags_and_poisons_no_cache(tmp_path, cache_dir):
    coffee = make_photo(tmp_path / "coffee.jpg", seed=1)
    other = make_photo(tmp_path / "motorcycle.jpg", seed=2)
    with FakeImageDescriber(keys={API_KEY}) as api:
        out = pd.DataFrame({"path": [str(coffee)]}).imagetags.generate(
            backend="imagedescriber", api_key=API_KEY, base_url=api.url, cache_dir=cache_dir,
            rate_limit="6000/min", progress=False)
        tagged = hashlib.sha256(coffee.read_bytes()).hexdigest()
        assert out.loc[0, "sha256"] == tagged
        shutil.copyfile(other, coffee)  # swapped between tagging and writing
        from imagetags_df import engine

        with engine.ResultMemory("en", backend="imagedescriber", api_key=API_KEY, base_url=api.url,
                                 cache_dir=cache_dir) as memory:
            done = export.write_metadata_rows(out, "path", lang="en", memory=memory)
            assert memory.stored == 0
        assert done.written == [] and len(done.changed) == 1
        assert done.changed[0].startswith(f"{coffee}: the file changed after it was tagged")
        assert coffee.read_bytes() == other.read_bytes()
        again = pd.DataFrame({"path": [str(coffee)]}).imagetags.generate(
            backend="imagedescriber", api_key=API_KEY, base_url=api.url, cache_dir=cache_dir,
            rate_limit="6000/min", progress=False)
    assert not again.loc[0, "cached"]  # the new picture is tagged, not given the old one's tags
    assert again.loc[0, "tags"] != out.loc[0, "tags"]


def test_cli_skips_a_replaced_photo_with_a_message(tmp_path, cache_dir):
    """The CLI's own pass: a file changed between the run's scan and its write is skipped."""
    photo = make_photo(tmp_path / "a.jpg", seed=3)
    with FakeImageDescriber(keys={API_KEY}, latency=1.5) as api:
        proc = subprocess.Popen(_cmd("tag", str(photo), "--write-metadata", *FAST), env=_env(api, cache_dir),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while api.in_flight() < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        make_photo(photo, seed=4)  # replaced while its old bytes are being tagged
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == cli.EXIT_PARTIAL, err
    assert f"{photo}: the file changed after it was tagged" in err
    assert export.read_metadata(photo)["tags"] == []


def test_metadata_keeps_confidence_colors_and_orientation_for_cached_rows(tmp_path, cache_dir):
    """The offline tagger's whole answer survives a --write-metadata pass and the cache."""
    samples = Path(__file__).resolve().parent.parent / "data" / "samples"
    album = tmp_path / "album"
    album.mkdir()
    shutil.copyfile(samples / "chelsea_cat.jpg", album / "cat.jpg")
    env = dict(os.environ, IMAGETAGS_CACHE_DIR=str(cache_dir))
    first = subprocess.run(_cmd("tag", str(album), "--write-metadata", "--backend", "local", "--no-progress"),
                           env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    out = tmp_path / "o.jsonl"
    second = subprocess.run(_cmd("tag", str(album), "--backend", "local", "--no-progress", "--out", str(out)),
                            env=env, capture_output=True, text=True, timeout=300)
    assert "1 tagged (1 from cache)" in second.stderr
    row = pd.read_json(out, lines=True).iloc[0]
    assert row["confidence"] > 0.3 and row["orientation"] == "landscape" and row["colors"]
    assert row["tag_scores"] and len(row["tag_scores"]) == len(row["tags"])


def test_a_symlink_stays_a_link_and_its_target_gets_the_metadata(tmp_path, cache_dir):
    target = make_photo(tmp_path / "store" / "real.jpg", seed=5)
    link = tmp_path / "album" / "link.jpg"
    link.parent.mkdir()
    link.symlink_to(target)
    with FakeImageDescriber(keys={API_KEY}) as api:
        proc = run(["tag", str(link.parent), "--write-metadata", *FAST], api, cache_dir)
        assert proc.returncode == 0, proc.stderr
        assert "1 symbolic link" in proc.stderr
        assert link.is_symlink() and link.resolve() == target.resolve()
        assert export.read_metadata(target)["tags"]
        again = run(["tag", str(link.parent), "--out", str(tmp_path / "o.csv"), *FAST], api, cache_dir)
        assert "1 tagged (1 from cache)" in again.stderr and api.count("ok") == 1


def test_photos_without_tags_are_left_alone_and_counted(tmp_path, cache_dir):
    tagged = make_photo(tmp_path / "a.jpg", seed=6)
    empty = make_photo(tmp_path / "b.jpg", seed=7)
    before = empty.read_bytes()
    rows = pd.DataFrame({"path": [str(tagged), str(empty)], "tags": [["cat"], []], "title": ["A cat", ""],
                         "description": ["", ""], "ok": [True, True], "error": [None, None]})
    done = export.write_metadata_rows(rows, "path", lang="en")
    assert done.written == [str(tagged)] and done.untagged == [str(empty)]
    assert empty.read_bytes() == before
