"""FiftyOne: a dataset built in FiftyOne, or files its importer reads.

FiftyOne reserves ``tags`` on every sample for the user's own workflow marks
("validated", "hard"), so our tags go in ``ai_tags`` and learned labels in
``learned``, both ``Classifications`` with a confidence per tag; ``title`` and
``description`` are string fields.

Without FiftyOne installed (it needs a MongoDB it fetches at install time),
:func:`write_fiftyone` writes the same labels as a FiftyOne image classification
dataset (``fo.types.FiftyOneImageClassificationDataset``): a ``data.json``
manifest of the image files, ``labels.json`` for ``ai_tags`` and
``learned.json`` for the learned labels, each ``{"labels": {path: [{"label",
"confidence"}, ...]}}``, plus ``fields.json`` for titles and descriptions. The
docstring of :func:`write_fiftyone` shows the three lines that load it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from .. import analysis
from .._exceptions import ConfigurationError
from .atomic import write_bytes_atomic

TAGS_FIELD = "ai_tags"
LEARNED_FIELD = "learned"
TEXT_FIELDS = ("title", "description")
#: Files of an export, by what they hold.
DATA_FILE, TAGS_FILE, LEARNED_FILE, FIELDS_FILE = "data.json", "labels.json", "learned.json", "fields.json"


def _fiftyone() -> Any:
    try:
        import fiftyone
    except ImportError:
        raise ConfigurationError(
            "building a FiftyOne dataset needs FiftyOne: pip install fiftyone (or write files it imports "
            "with imagetags_df.export.write_fiftyone)") from None
    return fiftyone


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and pd.isna(value))


def _scored(tags: Any, scores: Any) -> list[dict[str, Any]]:
    """``[{"label": tag, "confidence": score}]``; confidence None where unknown."""
    if tags is None:
        return []
    known = analysis.score_map(scores, tags) or {}
    return [{"label": str(t), "confidence": known.get(str(t))} for t in tags]


def sample_fields(df: pd.DataFrame, col: str = "path") -> list[dict[str, Any]]:
    """Per tagged row, its file (absolute) and what each FiftyOne field holds.

    >>> df = pd.DataFrame({"path": ["/p/cat.jpg"], "tags": [["cat", "pet"]], "tag_scores": [{"cat": 0.9, "pet": 0.7}],
    ...                    "title": ["Cat"], "description": ["A cat."], "error": [None]})
    >>> sample_fields(df)[0]["ai_tags"]
    [{'label': 'cat', 'confidence': 0.9}, {'label': 'pet', 'confidence': 0.7}]
    """
    if col not in df.columns:
        raise ConfigurationError(f"column {col!r} not found; pass col= the column of image paths")
    rows = df[df["error"].isna()] if "error" in df.columns else df
    tag_lists = analysis.tag_lists(rows, col="tags") if "tags" in rows.columns else [None] * len(rows)
    learned = analysis.tag_lists(rows, col=LEARNED_FIELD) if LEARNED_FIELD in rows.columns else None
    out: list[dict[str, Any]] = []
    for pos, (label, row) in enumerate(rows.iterrows()):
        value = row[col]
        if not isinstance(value, (str, os.PathLike)):
            raise ConfigurationError(f"row {label!r}: {col!r} holds {type(value).__name__}, not a file path; "
                                     "FiftyOne samples are image files")
        fields: dict[str, Any] = {"filepath": str(Path(value).expanduser().resolve()),
                                  TAGS_FIELD: _scored(tag_lists[pos], row.get("tag_scores"))}
        if learned is not None:
            fields[LEARNED_FIELD] = _scored(learned[pos], row.get("learned_scores"))
        for name in TEXT_FIELDS:
            if name in rows.columns:
                fields[name] = "" if _missing(row[name]) else str(row[name])
        out.append(fields)
    return out


def to_fiftyone(df: pd.DataFrame, name: str, col: str = "path", *, overwrite: bool = False) -> Any:
    """A FiftyOne dataset named ``name``: one sample per tagged image, with ``ai_tags``
    (and ``learned``) as ``Classifications`` carrying each tag's confidence, and
    ``title``/``description`` as string fields. ``overwrite`` replaces a dataset of
    that name.

    >>> fo_ds = df.imagetags.to_fiftyone("holiday")  # doctest: +SKIP
    >>> fo_ds.count_values("ai_tags.classifications.label")  # doctest: +SKIP
    {'cat': 1, 'animal': 1, 'pet': 1}
    """
    fo = _fiftyone()
    samples = []
    for fields in sample_fields(df, col):
        values: dict[str, Any] = {}
        for key, value in fields.items():
            if key in (TAGS_FIELD, LEARNED_FIELD):
                value = fo.Classifications(classifications=[fo.Classification(**c) for c in value])
            values[key] = value
        samples.append(fo.Sample(**values))
    dataset = fo.Dataset(name, overwrite=overwrite)
    dataset.add_samples(samples)
    return dataset


def write_fiftyone(df: pd.DataFrame, out_dir: str | os.PathLike[str], col: str = "path") -> Path:
    """Write files FiftyOne imports as an image classification dataset (see the module).

    >>> write_fiftyone(df, "fo_export")  # doctest: +SKIP
    >>> import fiftyone as fo  # doctest: +SKIP
    >>> ds = fo.Dataset.from_dir(data_path="fo_export/data.json", labels_path="fo_export/labels.json",
    ...     dataset_type=fo.types.FiftyOneImageClassificationDataset, label_field="ai_tags", name="holiday")  # doctest: +SKIP
    >>> ds.merge_dir(data_path="fo_export/data.json", labels_path="fo_export/learned.json",
    ...     dataset_type=fo.types.FiftyOneImageClassificationDataset, label_field="learned")  # doctest: +SKIP
    >>> fields = json.load(open("fo_export/fields.json")); ds.set_values("title", [fields[p]["title"] for p in ds.values("filepath")])  # doctest: +SKIP
    """
    samples = sample_fields(df, col)
    out = Path(out_dir).expanduser()
    out.mkdir(parents=True, exist_ok=True)

    # The importer looks a sample's image up by the label's key in data.json; an
    # absolute path as the key is taken as the image path itself, so no copies.
    def dump(name: str, data: Any) -> None:
        write_bytes_atomic(out / name, json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8"))

    dump(DATA_FILE, {s["filepath"]: s["filepath"] for s in samples})
    dump(TAGS_FILE, {"classes": None, "labels": {s["filepath"]: s[TAGS_FIELD] for s in samples}})
    if samples and LEARNED_FIELD in samples[0]:
        dump(LEARNED_FILE, {"classes": None, "labels": {s["filepath"]: s[LEARNED_FIELD] for s in samples}})
    dump(FIELDS_FILE, {s["filepath"]: {k: s[k] for k in TEXT_FIELDS if k in s} for s in samples})
    return out
