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

    # --- tagging ----------------------------------------------------------
    def generate(self, col: str = "path", lang: str = "en", **options: Any) -> pd.DataFrame:
        """Tag every image in ``col``; see :func:`imagetags_df.generate` for the options."""
        return engine.generate(self._obj, col=col, lang=lang, **options)

    def estimate(self, col: str = "path", lang: str = "en", **options: Any):
        """What :meth:`generate` would cost; see :func:`imagetags_df.estimate`."""
        return engine.estimate(self._obj, col=col, lang=lang, **options)

    # --- analysis and widgets ---------------------------------------------
    # Imports are local: matplotlib and ipywidgets are optional extras and analysis
    # must not slow down `import imagetags_df`.
    def onehot(self, min_count: int = 1, prefix: str = "tag_", sparse: bool | None = None,
               col: str = "tags") -> pd.DataFrame:
        """One boolean column per tag joined to the frame; see :func:`imagetags_df.analysis.onehot`."""
        from . import analysis
        return analysis.onehot(self._obj, min_count=min_count, prefix=prefix, sparse=sparse, col=col)

    def tag_counts(self, normalize: bool = False, col: str = "tags") -> pd.Series:
        """Images per tag, most common first; see :func:`imagetags_df.analysis.tag_counts`."""
        from . import analysis
        return analysis.tag_counts(self._obj, normalize=normalize, col=col)

    def cooccurrence(self, top: int | None = 30, measure: str = "count",
                     col: str = "tags") -> pd.DataFrame:
        """Square tag x tag frame (count, jaccard or lift); see :func:`imagetags_df.analysis.cooccurrence`."""
        from . import analysis
        return analysis.cooccurrence(self._obj, top=top, measure=measure, col=col)  # type: ignore[arg-type]

    def filter(self, all_of: Any = None, any_of: Any = None, none_of: Any = None,
               col: str = "tags") -> pd.DataFrame:
        """Rows by tags; see :func:`imagetags_df.analysis.filter_tags`."""
        from . import analysis
        return analysis.filter_tags(self._obj, all_of=all_of, any_of=any_of, none_of=none_of, col=col)

    def plot_tags(self, top: int = 20, ax: Any = None, **kwargs: Any) -> Any:
        """Bar chart of the most common tags (returns the Axes); see :func:`imagetags_df.analysis.plot_tags`."""
        from . import analysis
        return analysis.plot_tags(self._obj, top=top, ax=ax, **kwargs)

    def plot_cooccurrence(self, top: int = 20, measure: str = "count", ax: Any = None,
                          **kwargs: Any) -> Any:
        """Co-occurrence heat map (returns the Axes); see :func:`imagetags_df.analysis.plot_cooccurrence`."""
        from . import analysis
        return analysis.plot_cooccurrence(self._obj, top=top, measure=measure, ax=ax, **kwargs)  # type: ignore[arg-type]

    def preview(self, n: int = 24, tags: Any = None, page: int = 0, col: str | None = None,
                **kwargs: Any) -> Any:
        """Thumbnail gallery with tags (a ``widgets.Gallery``); see :func:`imagetags_df.widgets.preview`."""
        from . import widgets
        return widgets.preview(self._obj, n=n, tags=tags, page=page, col=col, **kwargs)

    def review(self, path: Any, col: str | None = None, **kwargs: Any) -> Any:
        """Labeling widget saving every edit to ``path`` (a ``widgets.Review``); see :func:`imagetags_df.widgets.review`."""
        from . import widgets
        return widgets.review(self._obj, path=path, col=col, **kwargs)
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
