"""``dask.dataframe.DataFrame.imagetags``: a thin adapter over :mod:`imagetags_df.cluster.door`."""

from __future__ import annotations

from typing import Any

from dask.dataframe.extensions import register_dataframe_accessor

from .._types import Estimate
from . import door


@register_dataframe_accessor("imagetags")
class DaskImageTagsAccessor:
    """Tag the images of a Dask DataFrame on the cluster.

    >>> out = ddf.imagetags.generate(col="path", lang="en", rate_limit="30/min")  # doctest: +SKIP
    """

    def __init__(self, ddf: Any) -> None:
        self._obj = ddf

    def generate(self, col: str = "path", lang: str = "en", **options: Any) -> Any:
        """Lazy tags for every row; see :func:`imagetags_df.cluster.generate`."""
        return door.generate(self._obj, col=col, lang=lang, **options)

    def embed(self, col: str = "path", cache_dir: Any = None, **options: Any) -> Any:
        """Lazy embeddings for every row; see :func:`imagetags_df.cluster.embed.embed`."""
        from .embed import embed

        return embed(self._obj, col=col, cache_dir=cache_dir, **options)

    def estimate(self, col: str = "path", lang: str = "en", **options: Any) -> Estimate:
        """What :meth:`generate` would cost; see :func:`imagetags_df.cluster.estimate`."""
        return door.estimate(self._obj, col=col, lang=lang, **options)
