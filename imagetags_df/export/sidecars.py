"""JSON sidecar files beside each image."""

from __future__ import annotations

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


def sidecar_path(image: str | os.PathLike[str]) -> Path:
    """Where the sidecar of ``image`` goes: ``photo.jpg`` -> ``photo.json``, as in the seed.

    The seed's ``image_path.with_suffix('.json')`` gives ``a.jpg`` and ``a.png``
    the same sidecar; when another image with the same stem sits in the folder,
    the full name is kept instead (``a.jpg.json``), so neither overwrites the other.
    """
    p = Path(image)
    plain = p.with_suffix(".json")
    try:
        siblings = [q for q in p.parent.glob(_glob_escape(p.stem) + ".*")
                    if q.name != p.name and q.stem == p.stem and q.suffix.lower() in IMAGE_SUFFIXES]
    except OSError:
        siblings = []
    if siblings or plain == p:
        return p.with_name(p.name + ".json")
    return plain


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
    """Write ``<image>.json`` beside each image of a :func:`imagetags_df.generate` result.

    The JSON holds ``tags``, ``title`` and ``description`` (the seed's keys, in its
    order) plus ``generator: "imagetags_df"`` and ``backend``. A sidecar that
    already exists and was not written by us is left alone unless ``force``; ours
    are replaced. Rows that failed get no sidecar.

    >>> report = write_sidecars(out, "path")  # doctest: +SKIP
    >>> report.written[0].name  # doctest: +SKIP
    'chelsea.json'
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
        }
        write_bytes_atomic(target, (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8"))
        report.written.append(target)
    return report


