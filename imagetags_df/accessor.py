"""``DataFrame.imagetags`` and ``Series.imagetags``: thin adapters.

Everything here is a one-line call into a plain function that works without the
accessor (``imagetags_df.generate(df, ...)``, ``imagetags_df.analysis.tag_counts(df)``).
The accessor keeps no state and always returns new objects.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from . import engine


@pd.api.extensions.register_dataframe_accessor("imagetags")
class ImageTagsAccessor:
    """Tag, explore and label images referenced by a DataFrame.

    >>> import imagetags_df, pandas as pd
    >>> df = pd.DataFrame({"path": ["data/samples/chelsea.jpg"]})
    >>> out = df.imagetags.generate(col="path", backend="local", progress=False)  # doctest: +SKIP
    """

    def __init__(self, pandas_obj: pd.DataFrame) -> None:
        self._obj = pandas_obj

    # --- tagging (issue 2) -------------------------------------------------
    def generate(self, col: str = "path", lang: str = "en", **options: Any) -> pd.DataFrame:
        """Tag every image in ``col``; see :func:`imagetags_df.generate` for the options."""
        return engine.generate(self._obj, col=col, lang=lang, **options)

    def estimate(self, col: str = "path", lang: str = "en", **options: Any):
        """What :meth:`generate` would cost; see :func:`imagetags_df.estimate`."""
        return engine.estimate(self._obj, col=col, lang=lang, **options)

    # --- analysis & widgets (issue 5) ------------------------------------
    # --- end analysis & widgets ------------------------------------------


@pd.api.extensions.register_series_accessor("imagetags")
class ImageTagsSeriesAccessor:
    """``series.imagetags.generate()`` tags a Series of images (paths, bytes or PIL images)."""

    def __init__(self, pandas_obj: pd.Series) -> None:
        self._obj = pandas_obj

    def generate(self, lang: str = "en", **options: Any) -> pd.DataFrame:
        name = self._obj.name if self._obj.name is not None else "image"
        return engine.generate(self._obj.to_frame(name=name), col=name, lang=lang, **options)

    def estimate(self, lang: str = "en", **options: Any):
        name = self._obj.name if self._obj.name is not None else "image"
        return engine.estimate(self._obj.to_frame(name=name), col=name, lang=lang, **options)
