"""Look-alikes: similar images, duplicates, clusters, a map and image-quality flags.

Every answer is columns in your own DataFrame, computed offline from the cached embeddings
(:mod:`imagetags_df.learn.embeddings`) and the pixels:

- :func:`similar` (``similar.py``): the k rows nearest a query, through :mod:`.index` for large frames;
- :func:`duplicates` (``duplicates.py``): exact and near copies, verified pair by pair (:mod:`.match`);
- :func:`clusters` (``clusters.py``): k-means groups named by their tags;
- :func:`quality` (``quality.py``): cleanvision's flags and scores;
- :func:`plot_map` (``map.py``): thumbnails in 2-D.

>>> import pandas as pd
>>> from imagetags_df.lookalikes import quality
>>> bool(quality(pd.DataFrame({"path": ["data/samples/coffee.jpg"]}), cache_dir=False).loc[0, "dark"])
False
"""

from .clusters import clusters
from .duplicates import duplicates
from .map import plot_map
from .quality import quality
from .similar import similar

__all__ = ["similar", "duplicates", "clusters", "quality", "plot_map"]
