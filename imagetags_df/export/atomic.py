"""Writing files atomically: a temporary file beside the target, then ``os.replace``.

A crash or a full disk never leaves a half-written image, sidecar or table behind.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """A temporary path beside ``target`` that replaces it only if the block succeeds.

    Same folder, so ``os.replace`` is a rename on one file system (atomic on POSIX
    and Windows); the name starts with a dot so :func:`find_images` and photo
    managers skip it if a crash leaves it behind.
    """
    if not target.parent.is_dir():
        raise FileNotFoundError(errno.ENOENT, "the folder does not exist", str(target.parent))
    # Created like any new file (0o666 less the umask), unlike mkstemp's private 0o600.
    while True:
        tmp = target.with_name(f".{target.name[:120]}.{secrets.token_hex(4)}.imagetags-tmp")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            break
        except FileExistsError:
            continue
    try:
        if target.exists():
            # Keep the original's permission bits across the rename.
            with contextlib.suppress(OSError):
                os.chmod(tmp, target.stat().st_mode & 0o7777)
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def write_bytes_atomic(target: Path, data: bytes,
                       before_replace: Callable[[os.stat_result], None] | None = None) -> os.stat_result:
    """Write ``data`` to ``target`` atomically; returns the new file's stat.

    ``before_replace`` gets that stat once the bytes are on disk and before they
    replace the target: what must be known about the new file (its digest, say) is
    recorded before the old one is gone, so a crash in between loses nothing.
    """
    with atomic_path(target) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
            st = os.fstat(fh.fileno())  # the rename keeps inode, size and mtime
        if before_replace is not None:
            before_replace(st)
    return st


