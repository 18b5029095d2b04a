"""JSON sidecar files beside each image."""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .._exceptions import ConfigurationError
from .atomic import write_bytes_atomic
from .find import IMAGE_SUFFIXES
from .tables import jsonable

#: Written into every sidecar we create; a sidecar without it is someone else's.
GENERATOR = "imagetags_df"


@dataclass
class SidecarReport:
    """What :func:`write_sidecars` did."""

    written: list[Path] = field(default_factory=list)
    #: Sidecars left alone because they exist and are not ours (pass ``force=True``).
    refused: list[Path] = field(default_factory=list)
    #: Rows without a result (their ``error`` is set): no sidecar written.
    skipped: int = 0
    #: Sidecars an earlier version named ``photo.json``, removed once ``photo.jpg.json`` was written.
    migrated: list[Path] = field(default_factory=list)


def sidecar_path(image: str | os.PathLike[str]) -> Path:
    """Where the sidecar of ``image`` goes: its full file name plus ``.json``.

    One rule for every image: ``photo.jpg`` -> ``photo.jpg.json``. Keeping the
    extension means ``IMG_0001.HEIC`` and ``IMG_0001.JPG`` side by side (as phones
    export them) never share a sidecar, and the name alone says which image a
    sidecar belongs to, as darktable's ``photo.jpg.xmp`` and Google Takeout's
    ``photo.jpg.json`` do. (The seed's bulk example used ``with_suffix('.json')``,
    which makes ``a.jpg`` and ``a.png`` overwrite each other.)

    >>> sidecar_path("photos/coffee.tiff").name
    'coffee.tiff.json'
    """
    p = Path(image)
    return p.with_name(p.name + ".json")


def _old_sidecar(image: Path) -> Path | None:
    """The ``photo.json`` an earlier version wrote for ``photo.jpg``, if it is ours and only its."""
    old = image.with_suffix(".json")
    if old == image or not old.is_file() or not _is_ours(old):
        return None
    try:
        others = [q for q in image.parent.glob(_glob_escape(image.stem) + ".*")
                  if q.name != image.name and q.stem == image.stem and q.suffix.lower() in IMAGE_SUFFIXES]
    except OSError:
        return None
    return None if others else old


def _glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


def _is_ours(sidecar: Path) -> bool:
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("generator") == GENERATOR


def has_result(row: Any) -> bool:
    """True when a result row (a dict or a namedtuple) carries tags rather than an error."""
    err = row.get("error") if isinstance(row, dict) else getattr(row, "error", None)
    return err is None or (isinstance(err, float) and math.isnan(err))


def write_sidecars(df: pd.DataFrame, col: str = "path", force: bool = False) -> SidecarReport:
    """Write ``<image>.json`` (``cat.jpg`` -> ``cat.jpg.json``) beside each image of a result.

    The JSON holds ``tags``, ``title`` and ``description`` (the seed's keys, in its
    order) plus ``generator: "imagetags_df"``, ``backend`` and ``image`` (the file
    it describes), and ``learned`` when the frame has that column (a label model's labels).
    A sidecar that already exists and was not written by us is left
    alone unless ``force``; ours are replaced. Rows that failed get no sidecar. A
    ``cat.json`` that an earlier version of ours wrote for ``cat.jpg`` is removed
    once ``cat.jpg.json`` is written, so no image keeps two.

    >>> report = write_sidecars(out, "path")  # doctest: +SKIP
    >>> report.written[0].name  # doctest: +SKIP
    'chelsea.jpg.json'
    """
    if col not in df.columns:
        raise ConfigurationError(f"column {col!r} not found; columns are {list(df.columns)}")
    report = SidecarReport()
    for image, rec in zip(df[col].tolist(), df.to_dict("records")):
        if not isinstance(image, (str, os.PathLike)) or not has_result(rec):
            report.skipped += 1
            continue
        target = sidecar_path(image)
        if target.exists() and not force and not _is_ours(target):
            report.refused.append(target)
            continue
        doc = {
            "tags": jsonable(list(rec["tags"])) if rec.get("tags") is not None else [],
            "title": rec.get("title") or "",
            "description": rec.get("description") or "",
            "generator": GENERATOR,
            "backend": rec.get("backend"),
            "image": Path(image).name,
        }
        if isinstance(rec.get("learned"), list):  # a label model's labels ('imagetags tag --learned')
            doc["learned"] = jsonable(list(rec["learned"]))
        write_bytes_atomic(target, (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8"))
        report.written.append(target)
        old = _old_sidecar(Path(image))
        if old is not None:
            with contextlib.suppress(FileNotFoundError):
                old.unlink()
            report.migrated.append(old)
    return report


