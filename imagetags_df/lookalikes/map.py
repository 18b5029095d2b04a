"""A map of the collection: thumbnails placed in 2-D by embedding, framed in a column's colour.

The 2-D layout is the first two principal components of the unit-length embeddings (cosine
geometry; no extra dependency). A frame larger than ``max_points`` is drawn from a random
sample, and the title says so.

>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import pandas as pd
>>> df = pd.DataFrame({"path": ["data/samples/chelsea_cat.jpg", "data/samples/coffee.jpg"], "kind": ["a", "b"]})
>>> plot_map(df, color="kind", cache_dir=False).get_title()
'2 images by embedding (coloured by kind)'
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._exceptions import ConfigurationError
from . import frame as _frame

if TYPE_CHECKING:
    from matplotlib.axes import Axes

#: Thumbnails drawn at most (a map of 100k thumbnails is a grey smear and minutes of drawing).
MAX_POINTS = 300
THUMB = 48


def layout(vectors: np.ndarray) -> np.ndarray:
    """(n, 2) coordinates: the first two principal components."""
    centred = vectors - vectors.mean(axis=0)
    if len(vectors) < 2:
        return np.zeros((len(vectors), 2))
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    xy = centred @ vt[:2].T
    return xy if xy.shape[1] == 2 else np.pad(xy, ((0, 0), (0, 2 - xy.shape[1])))


def plot_map(df: pd.DataFrame, col: str = "path", color: str | None = "cluster", *,
             cache_dir: str | os.PathLike[str] | bool | None = None, max_points: int = MAX_POINTS,
             ax: Axes | None = None, seed: int = 0) -> Axes:
    """Thumbnails in 2-D by embedding, each framed in the colour of its ``color`` value (a
    column; None or a missing ``"cluster"`` column: no colours). Returns the matplotlib Axes.

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> ax = plot_map(pd.DataFrame({"path": ["data/samples/coffee.jpg"]}), color=None, cache_dir=False)
    """
    try:
        import matplotlib.pyplot as plt
        from matplotlib.offsetbox import AnnotationBbox, OffsetImage
    except ImportError as exc:
        raise ConfigurationError("plot_map needs matplotlib: pip install 'imagetags-df[widgets]'") from exc
    if color is not None and color not in df.columns:
        if color != "cluster":
            raise ConfigurationError(f"color column {color!r} is not in the frame; columns: {list(df.columns)}")
        color = None
    total = len(df)
    rng = np.random.default_rng(seed)
    picked = np.sort(rng.choice(total, size=max_points, replace=False)) if total > max_points else np.arange(total)
    part = df.iloc[picked]
    settings = _frame.settings_for(cache_dir)
    try:
        rows = _frame.rows_of(part, col, settings)
        vectors, valid = _frame.embeddings(rows)
        keep = np.nonzero(valid)[0]
        xy = layout(vectors[keep])
        thumbs: list[Any] = []
        for p in keep:
            im = _frame.open_image(rows, int(p)).convert("RGB")
            im.thumbnail((THUMB, THUMB))
            thumbs.append(np.asarray(im))
    finally:
        _frame.close(settings)
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 8))
    values = part[color].iloc[keep].astype(str).tolist() if color else ["" for _ in keep]
    palette = plt.get_cmap("tab20")
    levels = {v: palette(i % 20) for i, v in enumerate(dict.fromkeys(values))}
    for (x, y), thumb, v in zip(xy, thumbs, values):
        box = AnnotationBbox(OffsetImage(thumb, zoom=1.0), (x, y), frameon=bool(color), pad=0.15,
                             bboxprops={"edgecolor": levels[v], "linewidth": 2.5})
        ax.add_artist(box)
    if len(xy):
        pad = (np.ptp(xy, axis=0) + 1e-6) * 0.08
        ax.set_xlim(xy[:, 0].min() - pad[0], xy[:, 0].max() + pad[0])
        ax.set_ylim(xy[:, 1].min() - pad[1], xy[:, 1].max() + pad[1])
    if color:
        for v, c in list(levels.items())[:20]:
            ax.scatter([], [], color=c, label=v)
        ax.legend(loc="best", fontsize="small", title=color)
    ax.set_xticks([])
    ax.set_yticks([])
    what = f"sample of {len(keep)} of {total} images" if total > max_points else f"{len(keep)} images"
    ax.set_title(f"{what} by embedding" + (f" (coloured by {color})" if color else ""))
    return ax
