"""Finding image files among the paths and folders a user names."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from .._exceptions import ImageNotFoundError

#: File name endings :func:`find_images` picks up in folders: what the API takes
#: (JPEG, PNG, WebP) and the photo formats Pillow reads, which the library converts.
IMAGE_SUFFIXES: frozenset[str] = frozenset({
    ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp",
    ".gif", ".bmp", ".dib", ".tif", ".tiff", ".avif", ".apng", ".jp2", ".j2k", ".jpf", ".jpx",
    ".tga", ".ppm", ".pgm", ".pbm", ".pnm", ".qoi",
})


def _is_hidden(name: str) -> bool:
    return name.startswith(".")


def find_images(paths: Iterable[str | os.PathLike[str]], recursive: bool = False) -> list[Path]:
    """Image files named by ``paths``: files as given, folders by extension.

    Files named explicitly are kept whatever their extension (the library sniffs
    formats from the bytes and reports a non-image as a row error). In folders,
    only files with an image extension (:data:`IMAGE_SUFFIXES`) are taken; hidden
    files and folders are skipped, and so are our own sidecars (they are ``.json``).
    ``recursive`` descends into sub-folders. Order is stable (sorted by name within
    each folder) and each file appears once.

    >>> find_images(["data/samples"])[:1]  # doctest: +SKIP
    [PosixPath('data/samples/chelsea.jpg')]
    """
    found: list[Path] = []
    seen: set[str] = set()

    def add(p: Path) -> None:
        key = os.path.normcase(os.path.realpath(p))
        if key not in seen:
            seen.add(key)
            found.append(p)

    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            for folder, dirs, files in os.walk(path):
                # Prune in place so os.walk neither enters hidden folders nor,
                # without --recursive, any folder at all.
                dirs[:] = sorted(d for d in dirs if not _is_hidden(d)) if recursive else []
                for name in sorted(files):
                    if not _is_hidden(name) and os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES:
                        add(Path(folder) / name)
        elif path.exists():
            add(path)
        else:
            raise ImageNotFoundError(f"{path}: no such file or folder; check the path", source=str(path))
    return found


