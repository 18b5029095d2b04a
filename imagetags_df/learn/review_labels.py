"""A review widget's saved file as training labels.

The review widget (:func:`imagetags_df.widgets.review`) saves each edited row as an entry with
the row's image, its tags as the person left them, whether they marked it reviewed, and the
tags they removed (``rejected``). :func:`labels_from_review` turns that file into the frame
:func:`imagetags_df.learn.learn` takes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from .._exceptions import ConfigurationError

__all__ = ["labels_from_review"]


def labels_from_review(path: str | os.PathLike, image_column: str | None = None) -> pd.DataFrame:
    """One row per reviewed or edited image: the image (a path, or ``sha256:...`` for images
    given as bytes), ``label`` (its tags when the row was marked reviewed, else the learned labels
    accepted in the widget, else None: unconfirmed tags teach nothing) and ``rejected`` (the tags the person removed: negative examples).

    The image column is named as in the reviewed frame (``path`` unless ``image_column``).

    >>> import pandas as pd, imagetags_df
    >>> df = pd.DataFrame({"path": ["data/samples/coffee.jpg"], "tags": [["coffee", "cake"]]})
    >>> rv = imagetags_df.widgets.review(df, path="review.json")
    >>> rv.remove_tag(0, "cake"); rv.set_reviewed(0)
    >>> labels_from_review("review.json")
                          path     label rejected
    0  data/samples/coffee.jpg  [coffee]   [cake]
    """
    file = Path(path)
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(f"{file}: no such review file (the review widget writes it on the first edit)"
                                 ) from None
    except ValueError as exc:
        raise ConfigurationError(f"{file} is not a review file ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("edits"), dict):
        raise ConfigurationError(f"{file} is not a review file (no 'edits')")
    col = image_column or str(data.get("image_column") or "path")
    rows = []
    for entry in data["edits"].values():
        if not isinstance(entry, dict) or not entry.get("image") or entry.get("image") == "none":
            continue
        tags = [str(t) for t in entry.get("tags") or []]
        rejected = [str(t) for t in entry.get("rejected") or [] if t not in tags]
        # A learned label accepted in the widget is a label even before the row is marked reviewed.
        accepted = [str(t) for t in entry.get("accepted") or [] if t not in rejected]
        if not entry.get("reviewed") and not rejected and not accepted:
            continue
        label = tags if entry.get("reviewed") and tags else accepted or None
        rows.append({col: str(entry["image"]), "label": label, "rejected": rejected})
    return pd.DataFrame(rows, columns=[col, "label", "rejected"])
