"""Which unlabelled rows to label next: the ones the model is least sure of, spread out.

Uncertainty alone picks near-duplicates (ten shots of the same odd scene are equally
puzzling), and a label from the tenth teaches nothing the first did not. So the pick is
greedy: first the most uncertain row, then each time the row whose uncertainty times its
distance to everything already picked is largest (cosine distance between embeddings). A copy
of a picked image has distance 0 and is never picked again.

A row's uncertainty is high when no label is clearly ahead: 1 minus the gap between its two
highest label probabilities, after dividing each by its threshold's difficulty (a label with
a high threshold needs a high score to count as "sure"). A row no label claims at all (every
score low) is uncertain too: it may be a class nobody has labelled yet.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .embeddings import ROWS_PER_STEP, embed_values
from .embeddings import _frame_column as frame_column
from .embeddings import _settings as embed_settings
from .model import label_sets, normalise

if TYPE_CHECKING:
    from .model import LabelModel

#: Rows kept for the diversity step, per row asked for (the most uncertain ones).
POOL_PER_PICK = 10
MIN_POOL = 200

__all__ = ["suggest", "uncertainty"]


def uncertainty(probs: np.ndarray) -> np.ndarray:
    """Per row, in [0, 1]: 1 when two labels tie or none is likely, near 0 when one label is
    clearly it.

    >>> uncertainty(np.array([[0.99, 0.01], [0.5, 0.5], [0.05, 0.04]])).round(2).tolist()
    [0.02, 1.0, 0.99]
    """
    if probs.shape[1] == 0:
        return np.ones(len(probs), dtype=np.float64)
    ranked = -np.sort(-probs, axis=1)
    top = ranked[:, 0]
    second = ranked[:, 1] if probs.shape[1] > 1 else 1.0 - top
    return np.clip(1.0 - (top - second), 0.0, 1.0).astype(np.float64)


def suggest(model: LabelModel, df: pd.DataFrame, n: int = 20, col: str = "path",
            cache_dir: str | os.PathLike | bool | None = None) -> pd.DataFrame:
    """The ``n`` unlabelled rows of ``df`` to label next, most useful first, with their
    ``uncertainty`` and the model's current ``learned_guess`` (its most likely label).

    Unlabelled means an empty cell in the model's labels column when ``df`` has it (else every
    row); rows whose image fails are left out. Uncertain *and* varied: see the module notes.

    >>> import pandas as pd
    >>> from imagetags_df.learn import learn
    >>> names = ["coffee", "chelsea_cat", "rocket", "motorcycle", "astronaut"]
    >>> df = pd.DataFrame({"path": [f"data/samples/{n}.jpg" for n in names],
    ...                    "label": ["drink", "animal", None, None, None]})
    >>> picks = learn(df, progress=False).suggest(df, n=2)
    >>> len(picks), bool(picks["label"].isna().all()), set(picks.columns) >= {"uncertainty", "learned_guess"}
    (2, True, True)
    """
    series = frame_column(df, col)
    n = max(0, int(n))
    if model.label_column in df.columns:
        open_rows = np.array([not x for x in label_sets(df[model.label_column].tolist())], dtype=bool)
    else:
        open_rows = np.ones(len(df), dtype=bool)
    positions = np.nonzero(open_rows)[0]
    values, index = series.tolist(), list(df.index)
    settings = embed_settings(cache_dir, None)
    pool_size = max(MIN_POOL, POOL_PER_PICK * n)
    pool_pos: list[np.ndarray] = []
    pool_u: list[np.ndarray] = []
    pool_x: list[np.ndarray] = []
    pool_guess: list[np.ndarray] = []
    try:
        for start in range(0, len(positions), ROWS_PER_STEP):
            part = positions[start:start + ROWS_PER_STEP]
            got = embed_values([values[i] for i in part], [index[i] for i in part], col, settings)
            ok = np.nonzero(got.valid)[0]
            x = normalise(got.matrix[ok])
            probs = model.scores(got.matrix[ok])
            u = uncertainty(probs)
            # Keep only the best candidates of every slice: bounded memory at any size.
            keep = np.argsort(-u, kind="stable")[:pool_size]
            pool_pos.append(part[ok[keep]])
            pool_u.append(u[keep])
            pool_x.append(x[keep])
            pool_guess.append(probs[keep].argmax(axis=1) if probs.shape[1] else np.zeros(len(keep), dtype=int))
    finally:
        settings.cache.close()
    if not pool_pos or n == 0:
        return _frame(df, np.array([], dtype=int), np.array([]), [])
    pos = np.concatenate(pool_pos)
    u = np.concatenate(pool_u)
    x = np.concatenate(pool_x)
    guess = np.concatenate(pool_guess)
    keep = np.argsort(-u, kind="stable")[:pool_size]
    pos, u, x, guess = pos[keep], u[keep], x[keep], guess[keep]
    picked = _spread(x, u, n)
    names = [model.labels[g] if model.labels else None for g in guess[picked]]
    return _frame(df, pos[picked], u[picked], names)


def _spread(x: np.ndarray, u: np.ndarray, n: int) -> list[int]:
    """Greedy picks maximising uncertainty x distance to the picks so far."""
    if len(x) == 0:
        return []
    picked = [int(np.argmax(u))]
    nearest = 1.0 - x @ x[picked[0]]
    while len(picked) < min(n, len(x)):
        gain = u * np.clip(nearest, 0.0, None)
        gain[picked] = -1.0
        best = int(np.argmax(gain))
        if gain[best] <= 1e-6:
            break  # only copies of what was picked are left
        picked.append(best)
        nearest = np.minimum(nearest, 1.0 - x @ x[best])
    return picked


def _frame(df: pd.DataFrame, positions: np.ndarray, u: np.ndarray, guesses: list[str | None]) -> pd.DataFrame:
    out = df.iloc[positions].copy()
    out["uncertainty"] = np.round(np.asarray(u, dtype=float), 4)
    out["learned_guess"] = pd.Series(guesses, index=out.index, dtype=object)
    return out
