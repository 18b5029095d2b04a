"""Teach it your own labels: embeddings, a label model, and which rows to label next.

- :mod:`.embeddings`: every image's 1280-number summary from the offline classifier, cached by
  image content (``embed``, ``embedding_matrix``);
- :mod:`.model`: :class:`LabelModel`, learned from a labels column by :func:`learn`, right or
  silent per label (cross-validated thresholds), saved as JSON plus arrays;
- :mod:`.suggest`: the unlabelled rows that would teach it most;
- :mod:`.review_labels`: a review widget's saved file as a labels column.

>>> import pandas as pd
>>> from imagetags_df.learn import embed
>>> embed(pd.DataFrame({"path": ["data/samples/coffee.jpg"]}), progress=False).loc[0, "embedding"].shape
(1280,)
"""

from .embeddings import embed, embedding_matrix
from .model import LabelModel, learn
from .review_labels import labels_from_review

__all__ = ["embed", "embedding_matrix", "learn", "LabelModel", "labels_from_review"]
