"""The labelled photo set as a DataFrame, for benches that measure learning and look-alikes.

    import sys; sys.path.insert(0, "bench/photoset")
    from load import load
    df = load()            # columns path (absolute) and label (the class a person saw)
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
PHOTOS = HERE / "photos"
LABELS = HERE / "labels.json"


def load(min_per_class: int = 0) -> pd.DataFrame:
    """Every labelled photo with its class, sorted by file name.

    ``min_per_class`` leaves out the classes with fewer photos than that.

    >>> df = load()
    >>> sorted(df.columns)
    ['label', 'path']
    """
    labels: dict[str, str] = json.loads(LABELS.read_text())["photos"]
    missing = [name for name in labels if not (PHOTOS / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{len(missing)} of {len(labels)} photos are not in {PHOTOS} (first: {missing[0]}): "
            "run 'python bench/photoset/build.py' to fetch them")
    df = pd.DataFrame({"path": [str(PHOTOS / name) for name in sorted(labels)],
                       "label": [labels[name] for name in sorted(labels)]})
    if min_per_class:
        counts = df["label"].value_counts()
        df = df[df["label"].isin(counts[counts >= min_per_class].index)].reset_index(drop=True)
    return df
