"""Hostile paths: FIFOs, devices, huge sparse files. Each is a per-row error, at no cost."""

from __future__ import annotations

import os
import resource
import threading

import pandas as pd
import pytest
from conftest import API_KEY, make_photo

from imagetags_df import images
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
