"""Finding image files among the paths and folders a user names."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .._exceptions import ImageNotFoundError

#: File name endings :func:`find_images` picks up in folders: what the API takes
#: (JPEG, PNG, WebP) and the photo formats Pillow reads, which the library converts.
IMAGE_SUFFIXES: frozenset[str] = frozenset({
    ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp",
    ".gif", ".bmp", ".dib", ".tif", ".tiff", ".avif", ".apng", ".jp2", ".j2k", ".jpf", ".jpx",
    ".tga", ".ppm", ".pgm", ".pbm", ".pnm", ".qoi", ".heic", ".heif", ".hif",
})


@dataclass
class ImageSearch:
    """What :func:`search_images` found, and what it passed over in the folders it read."""

    images: list[Path] = field(default_factory=list)
    #: For each image, how to show it: its path relative to the folder it was found
    #: in (``trip/beach.jpg``); a file named explicitly, as given (by name if absolute).
    labels: list[str] = field(default_factory=list)
    #: Files in those folders without an image extension (hidden files and our own
    #: sidecars, ``<image>.json``, aside).
    not_images: list[Path] = field(default_factory=list)
    #: Sub-folders that were not entered because ``recursive`` was off (hidden ones aside).
    subfolders: list[Path] = field(default_factory=list)
    #: Image files whose names are not valid UTF-8 (bytes from another system's encoding):
    #: no table, CSV or Parquet file can hold such a name, so they are passed over.
    bad_names: list[Path] = field(default_factory=list)

    def bad_names_summary(self) -> str | None:
        """One line naming the files passed over for their names (escaped), or None.

        >>> ImageSearch(bad_names=[Path(os.fsdecode(b"a/\\xff.jpg"))]).bad_names_summary()
        'skipped 1 file whose name is not UTF-8 (rename it to tag it): a/\\\\xff.jpg'
        """
        if not self.bad_names:
            return None
        n = len(self.bad_names)
        names = ", ".join(shown_name(p) for p in self.bad_names)
        return (f"skipped {n} file{'s' if n != 1 else ''} whose name is not UTF-8 (rename "
                f"{'them' if n != 1 else 'it'} to tag {'them' if n != 1 else 'it'}): {names}")

    def skipped_summary(self, recursive_hint: str = "--recursive", examples: int = 3) -> str | None:
        """One line naming what was passed over, or None when nothing was.

        >>> ImageSearch(not_images=[Path("a/notes.txt")], subfolders=[Path("a/trip")]).skipped_summary()
        'skipped 1 file that is not an image (notes.txt) and 1 sub-folder (trip; use --recursive to include it)'
        """
        parts = []
        if self.not_images:
            n = len(self.not_images)
            names = ", ".join(p.name for p in self.not_images[:examples]) + (", ..." if n > examples else "")
            what = "file that is not an image" if n == 1 else "files that are not images"
            parts.append(f"{n} {what} ({names})")
        if self.subfolders:
            n = len(self.subfolders)
            names = ", ".join(p.name for p in self.subfolders[:examples]) + (", ..." if n > examples else "")
            parts.append(f"{n} sub-folder{'s' if n != 1 else ''} ({names}; use {recursive_hint} to include "
                         f"{'them' if n != 1 else 'it'})")
        return "skipped " + " and ".join(parts) if parts else None


def shown_name(path: str | os.PathLike[str]) -> str:
    """A file name as one line of text: bytes that are not UTF-8 as ``\\xff``, control
    characters (a newline in a name) as escapes, everything else as it is.

    >>> shown_name(os.fsdecode(b"caf\\xc3\\xa9 \\xff\\nx.jpg"))
    'café \\\\xff\\\\nx.jpg'
    """
    text = os.fspath(path)
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if "\udc80" <= ch <= "\udcff":  # an undecodable byte, as os.fsdecode keeps it
            out.append(f"\\x{ord(ch) - 0xdc00:02x}")
        elif ch.isprintable():
            out.append(ch)
        else:
            out.append(ch.encode("unicode_escape").decode("ascii"))
    return "".join(out)


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _is_hidden(name: str) -> bool:
    return name.startswith(".")


def find_images(paths: Iterable[str | os.PathLike[str]], recursive: bool = False) -> list[Path]:
    """Image files named by ``paths``: files as given, folders by extension.

    Files named explicitly are kept whatever their extension (the library sniffs
    formats from the bytes and reports a non-image as a row error). In folders,
    only files with an image extension (:data:`IMAGE_SUFFIXES`) are taken; hidden
    files and folders are skipped, and so are our own sidecars (they are ``.json``).
    ``recursive`` descends into sub-folders. Order is stable (sorted by name within
    each folder) and each file appears once. :func:`search_images` also says what
    was passed over.

    >>> find_images(["data/samples"])[:1]  # doctest: +SKIP
    [PosixPath('data/samples/chelsea.jpg')]
    """
    return search_images(paths, recursive).images


def search_images(paths: Iterable[str | os.PathLike[str]], recursive: bool = False) -> ImageSearch:
    """Like :func:`find_images`, and also the non-image files and sub-folders it passed over."""
    result = ImageSearch()
    seen: set[str] = set()

    def add(p: Path, label: str) -> None:
        key = os.path.normcase(os.path.realpath(p))
        if not _utf8(str(p)):
            if key not in seen:
                seen.add(key)
                result.bad_names.append(p)
            return
        if key not in seen:
            seen.add(key)
            result.images.append(p)
            result.labels.append(label)

    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            for folder, dirs, files in os.walk(path):
                visible = sorted(d for d in dirs if not _is_hidden(d))
                if not recursive:
                    result.subfolders.extend(Path(folder) / d for d in visible)
                # Prune in place so os.walk neither enters hidden folders nor,
                # without --recursive, any folder at all.
                dirs[:] = visible if recursive else []
                names = [n for n in sorted(files) if not _is_hidden(n)]
                images = {n for n in names if os.path.splitext(n)[1].lower() in IMAGE_SUFFIXES}
                for name in names:
                    if name in images:
                        add(Path(folder) / name, os.path.relpath(os.path.join(folder, name), path))
                    elif not (name.endswith(".json") and name[:-5] in images):  # our sidecars
                        result.not_images.append(Path(folder) / name)
        elif path.exists():
            # A file named explicitly: as typed, unless that is a long absolute path.
            add(path, path.name if path.is_absolute() else os.fspath(raw))
        else:
            raise ImageNotFoundError(f"{path}: no such file or folder; check the path", source=str(path))
    return result
