"""AI image tags, titles and descriptions for pandas DataFrames.

>>> import pandas as pd
>>> import imagetags_df                        # registers DataFrame.imagetags
>>> df = pd.DataFrame({"path": ["data/samples/chelsea_cat.jpg"]})
>>> out = df.imagetags.generate(col="path", lang="en", progress=False)
>>> "cat" in out.loc[0, "tags"]
True

Backends: the ImageDescriber API (``backend="imagedescriber"``, needs a key),
the embedded offline tagger (``backend="local"``), or a vision-language model behind
any OpenAI-compatible server (``backend="openai"`` / ``"ollama"``, with ``model=``);
``"auto"`` picks the API when a key is set. Results are cached on disk by image content.
"""

from __future__ import annotations

from . import accessor as _accessor  # noqa: F401  (registers the pandas accessors)
from . import cluster as _cluster
from ._constants import LANGUAGES
from ._exceptions import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BudgetExceededError,
    ConfigurationError,
    ContentBlockedError,
    CorruptImageError,
    ImageError,
    ImageNotFoundError,
    ImageTagsError,
    ImageTooLargeError,
    InsufficientCreditsError,
    InternalServerError,
    InvalidImageFormatError,
    InvalidOutputError,
    InvalidParameterError,
    ModelCapabilityError,
    ModelNotFoundError,
    RateLimitError,
    ServerUnreachableError,
    UnsupportedImageError,
    UploadFailedError,
)
from ._types import Estimate, PreparedImage, RateLimit, TagResult
from .backends import Backend, register_backend, resolve_backend
from .backends.imagedescriber import AsyncImageDescriberClient, ImageDescriberClient
from .backends.openai import OpenAICompatibleBackend
from .engine import RESULT_COLUMNS, estimate, generate
from .export.label_studio import from_label_studio
from .learn import LabelModel

_cluster.install_accessor()  # DataFrame.imagetags on Dask, when and if dask.dataframe is imported

__version__ = "0.1.0"

__all__ = [
    "generate", "estimate", "RESULT_COLUMNS", "LANGUAGES", "LabelModel", "from_label_studio",
    "ImageDescriberClient", "AsyncImageDescriberClient",
    "Backend", "register_backend", "resolve_backend",
    "TagResult", "PreparedImage", "RateLimit", "Estimate",
    "ImageTagsError", "ConfigurationError", "BudgetExceededError",
    "ImageError", "ImageNotFoundError", "UnsupportedImageError", "CorruptImageError", "ImageTooLargeError",
    "APIError", "AuthenticationError", "RateLimitError", "InvalidParameterError",
    "InsufficientCreditsError", "ContentBlockedError", "InvalidImageFormatError", "UploadFailedError",
    "InternalServerError", "APIConnectionError", "APITimeoutError",
    "OpenAICompatibleBackend", "ModelNotFoundError", "ModelCapabilityError", "InvalidOutputError",
    "ServerUnreachableError",
]
