"""Hostile paths: FIFOs, devices, huge sparse files. Each is a per-row error, at no cost."""

from __future__ import annotations

import os
import resource
import threading

import pandas as pd
import pytest
from conftest import API_KEY, make_photo

from imagetags_df import ConfigurationError, images
from imagetags_df import _constants as C
from imagetags_df._exceptions import ImageTooLargeError, UnsupportedImageError


def _sparse(path, size: int):
    with open(path, "wb") as fh:
        fh.truncate(size)  # no blocks written: costs nothing on disk
    return path


def _in_thread(fn, timeout: float = 10.0):
    """Call fn in a daemon thread; a hang fails the test instead of wedging pytest."""
    box: dict = {}

    def target():
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001
            box["error"] = exc

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(timeout)
    assert not t.is_alive(), "reading the path hung"
    if "error" in box:
        raise box["error"]
    return box["value"]


def test_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "x.jpg"
    os.mkfifo(fifo)  # nobody ever writes to it: opening it for reading would block forever
    with pytest.raises(UnsupportedImageError, match=r"x\.jpg: is a named pipe"):
        _in_thread(lambda: images.read_bytes(str(fifo)))


def test_device_is_refused(tmp_path):
    zero = tmp_path / "zero.jpg"
    zero.symlink_to("/dev/zero")  # endless: read whole, it ends in MemoryError
    with pytest.raises(UnsupportedImageError, match=r"zero\.jpg: is a character device"):
        _in_thread(lambda: images.read_bytes(str(zero)))


def test_huge_sparse_file_is_refused_before_reading(tmp_path):
    big = _sparse(tmp_path / "big.jpg", 200 * 1024 * 1024)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ImageTooLargeError, match=r"big\.jpg: the file is 209,715,200 bytes, over the "
                                                  r"67,108,864-byte limit"):
        images.read_bytes(str(big))
    # Peak RSS (KiB on Linux) did not grow by anything like the file's size.
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50 * 1024


def test_size_cap_is_configurable(tmp_path):
    photo = make_photo(tmp_path / "p.jpg")
    size = photo.stat().st_size
    with pytest.raises(ImageTooLargeError, match=f"p.jpg: the file is {size:,} bytes"):
        images.read_bytes(str(photo), max_file_bytes=size - 1)
    assert len(images.read_bytes(str(photo), max_file_bytes=size)) == size
    assert images.load(str(photo), max_file_bytes=size).width == 320


def test_hostile_paths_are_row_errors_and_the_run_goes_on(tmp_path, api, cache_dir):
    good = make_photo(tmp_path / "good.jpg")
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    zero = tmp_path / "zero.jpg"
    zero.symlink_to("/dev/zero")
    big = _sparse(tmp_path / "sparse.jpg", 2 * 1024 ** 3)
    df = pd.DataFrame({"path": [str(p) for p in (good, fifo, zero, big)]})
    out = _in_thread(lambda: df.imagetags.generate(
        backend="imagedescriber", api_key=API_KEY, base_url=api.url, cache_dir=cache_dir,
        rate_limit="600/min", progress=False), timeout=60)
    assert out.error[0] is None and out.tags[0]
    for i, (name, words) in enumerate([("pipe.jpg", "named pipe"), ("zero.jpg", "character device"),
                                        ("sparse.jpg", "2,147,483,648 bytes")], 1):
        assert name in out.error[i] and words in out.error[i], out.error[i]
    assert api.count() == 1


def test_max_file_bytes_is_an_option_of_the_run(tmp_path, api, cache_dir, monkeypatch):
    small = make_photo(tmp_path / "small.jpg", size=(64, 48))
    big = make_photo(tmp_path / "big.jpg", size=(640, 480), seed=3)
    cap = (small.stat().st_size + big.stat().st_size) // 2
    df = pd.DataFrame({"path": [str(small), str(big)]})
    opts = dict(backend="imagedescriber", api_key=API_KEY, base_url=api.url, cache_dir=cache_dir,
                rate_limit="600/min", progress=False)
    out = df.imagetags.generate(max_file_bytes=cap, **opts)
    assert out.ok.tolist() == [True, False]
    assert f"big.jpg: the file is {big.stat().st_size:,} bytes, over the {cap:,}-byte limit" in out.error[1]
    est = df.imagetags.estimate(max_file_bytes=cap, **opts)
    assert est.invalid == 1 and "big.jpg" in est.errors[1]
    monkeypatch.setenv("IMAGETAGS_MAX_FILE_BYTES", str(cap))  # the environment, when no argument
    assert df.imagetags.generate(**opts).ok.tolist() == [True, False]
    assert df.imagetags.generate(max_file_bytes=10 ** 6, **opts).ok.all()  # the argument wins
    for bad in (0, -5, "big", 1.5):
        with pytest.raises(ConfigurationError, match="max_file_bytes"):
            df.imagetags.generate(max_file_bytes=bad, **opts)
    monkeypatch.setenv("IMAGETAGS_MAX_FILE_BYTES", "64MB")
    with pytest.raises(ConfigurationError, match="IMAGETAGS_MAX_FILE_BYTES"):
        df.imagetags.generate(**opts)


@pytest.mark.parametrize("keep", [True, False])
def test_each_file_is_read_once(tmp_path, api, cache_dir, monkeypatch, keep):
    photos = [make_photo(tmp_path / f"p{i}.jpg", seed=i) for i in range(6)]
    reads: list[str] = []
    real = images.read_file

    def counting(path, **kw):  # the real read, counted
        reads.append(os.fspath(path))
        return real(path, **kw)

    monkeypatch.setattr(images, "read_file", counting)
    if not keep:  # no room to keep bytes: the tag phase reads again, and checks nothing changed
        monkeypatch.setattr(C, "READ_ONCE_BYTES", 0)
    df = pd.DataFrame({"path": [str(p) for p in photos] + [str(photos[0])]})
    out = df.imagetags.generate(backend="imagedescriber", api_key=API_KEY, base_url=api.url,
                                cache_dir=cache_dir, rate_limit="600/min", progress=False)
    assert out.ok.all() and api.count() == 6
    assert sorted(reads) == sorted([str(p) for p in photos] * (1 if keep else 2))
