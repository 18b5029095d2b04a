"""Hugging Face ``datasets``: an ImageFolder on disk, or a ``Dataset`` in memory.

An ImageFolder is the images plus a ``metadata.jsonl`` whose ``file_name`` is each
image's path relative to it; ``datasets.load_dataset("imagefolder", data_dir=...)``
reads it (and ``push_to_hub`` publishes it) with ``tags`` as a list of strings.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from .. import analysis
from .._exceptions import ConfigurationError
from .._install import pip_install
from .atomic import write_bytes_atomic

METADATA_FILE = "metadata.jsonl"
#: Columns holding a list of labels per image, written as lists of strings.
LIST_COLUMNS = ("tags", "learned")
#: Columns holding one text per image.
TEXT_COLUMNS = ("title", "description")


def _datasets() -> Any:
    try:
        import datasets
    except ImportError:
        raise ConfigurationError(
            f"Hugging Face datasets are made with the datasets library: {pip_install('hf')}") from None
    return datasets


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and pd.isna(value))


def _tagged(df: pd.DataFrame) -> pd.DataFrame:
    """Rows whose tagging worked: a dataset row without its labels would teach nothing."""
    if "error" in df.columns:
        return df[df["error"].isna()]
    return df


def _records(df: pd.DataFrame) -> dict[str, list[Any]]:
    """Every label column of ``df`` that a dataset carries, as plain Python lists."""
    columns: dict[str, list[Any]] = {}
    for name in LIST_COLUMNS:
        if name in df.columns:
            columns[name] = [[str(t) for t in tags] if tags is not None else []
                             for tags in analysis.tag_lists(df, col=name)]
    if "tag_scores" in df.columns:
        # A dataset's column needs one type: the scores in tag order, beside the tags column.
        tags = analysis.tag_lists(df, col="tags") if "tags" in df.columns else [None] * len(df)
        columns["tag_scores"] = [None if (m := analysis.score_map(s, t)) is None else list(m.values())
                                 for s, t in zip(df["tag_scores"], tags)]
    for name in TEXT_COLUMNS:
        if name in df.columns:
            columns[name] = ["" if _missing(v) else str(v) for v in df[name]]
    return columns


def to_hf_imagefolder(df: pd.DataFrame, out_dir: str | os.PathLike[str], col: str = "path", *,
                      copy: bool = False) -> Path:
    """Write an ImageFolder dataset: the images (symlinked, or copied with ``copy=True``)
    and ``metadata.jsonl`` with ``file_name``, ``tags``, ``title``, ``description``,
    ``tag_scores`` and ``learned`` where present.

    Images keep their folders relative to the deepest folder holding them all, so
    two ``cat.jpg`` in different folders stay apart. Rows whose tagging failed are
    left out. Returns ``out_dir``.

    >>> df.imagetags.to_hf_imagefolder("dataset")  # doctest: +SKIP
    PosixPath('dataset')
    >>> datasets.load_dataset("imagefolder", data_dir="dataset", split="train").features["tags"]  # doctest: +SKIP
    List(Value('string'))
    """
    if col not in df.columns:
        raise ConfigurationError(f"column {col!r} not found; pass col= the column of image paths")
    rows = _tagged(df)
    sources: list[Path] = []
    for label, value in rows[col].items():
        if not isinstance(value, (str, os.PathLike)):
            raise ConfigurationError(f"row {label!r}: {col!r} holds {type(value).__name__}, not a file path; "
                                     "use to_hf_dataset() for images held in memory")
        source = Path(value).expanduser().resolve()
        if not source.is_file():
            raise ConfigurationError(f"row {label!r}: {value} is not a file; an ImageFolder needs every image")
        sources.append(source)
    out = Path(out_dir).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    base = Path(os.path.commonpath([str(s.parent) for s in sources])) if sources else out
    columns = _records(rows)
    lines: list[str] = []
    for i, source in enumerate(sources):
        name = source.relative_to(base).as_posix()
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink() or target.exists():
            if target.resolve() == source:
                pass  # already linked (or the dataset is built in place)
            else:
                target.unlink()
        if not target.exists():
            if copy:
                shutil.copy2(source, target)
            else:
                target.symlink_to(source)
        record: dict[str, Any] = {"file_name": name}
        record.update({k: v[i] for k, v in columns.items()})
        lines.append(json.dumps(record, ensure_ascii=False) + "\n")
    write_bytes_atomic(out / METADATA_FILE, "".join(lines).encode("utf-8"))
    return out


def to_hf_dataset(df: pd.DataFrame, col: str = "path") -> Any:
    """A ``datasets.Dataset`` with an ``image`` column (``Image`` feature: paths, bytes or
    PIL images) and the label columns of :func:`to_hf_imagefolder`. Rows whose tagging
    failed are left out.

    >>> ds = df.imagetags.to_hf_dataset()  # doctest: +SKIP
    >>> ds.features["image"], ds[0]["tags"]  # doctest: +SKIP
    (Image(mode=None, decode=True), ['cat', 'animal', 'pet'])
    """
    datasets = _datasets()
    if col not in df.columns:
        raise ConfigurationError(f"column {col!r} not found; pass col= the column of images")
    rows = _tagged(df)
    images: list[Any] = []
    for label, value in rows[col].items():
        if isinstance(value, (str, os.PathLike)):
            images.append(os.fspath(Path(value).expanduser()))
        elif isinstance(value, (bytes, bytearray, memoryview)):
            images.append({"bytes": bytes(value), "path": None})
        elif hasattr(value, "mode") and hasattr(value, "size"):  # a PIL image: the feature encodes it
            images.append(value)
        else:
            raise ConfigurationError(f"row {label!r}: {col!r} holds {type(value).__name__}, not an image "
                                     "(a path, bytes or a PIL image)")
    columns = _records(rows)
    string_list = datasets.List(datasets.Value("string")) if hasattr(datasets, "List") else \
        datasets.Sequence(datasets.Value("string"))
    features: dict[str, Any] = {"image": datasets.Image()}
    for name in columns:
        if name in LIST_COLUMNS:
            features[name] = string_list
        elif name == "tag_scores":
            features[name] = (datasets.List if hasattr(datasets, "List") else datasets.Sequence)(
                datasets.Value("float32"))
        else:
            features[name] = datasets.Value("string")
    return datasets.Dataset.from_dict({"image": images, **columns}, features=datasets.Features(features))
