"""``DataFrame.imagetags`` and ``Series.imagetags``: thin adapters.

Every method is a one-line call into a plain function that works without the accessor
(``imagetags_df.generate(df, ...)``, ``imagetags_df.analysis.tag_counts(df)``). The
methods spell out the function's parameters, so ``df.imagetags.generate?`` and tab
completion show them, and carry the function's documentation below their own example
(tests/test_accessor.py keeps the two in step). The accessor keeps no state
and always returns new objects.
"""

from __future__ import annotations

import doctest
import inspect
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import pandas as pd

# analysis and widgets import only numpy and pandas at load time (matplotlib and
# ipywidgets, the optional extras, are imported when a chart or widget is made).
from . import _constants as C
from . import analysis, engine, learn, lookalikes, widgets
from .export import fiftyone as _fiftyone
from .export import hf as _hf
from .export import label_studio as _label_studio
from .lookalikes.duplicates import CANDIDATES as DUP_CANDIDATES
from .lookalikes.duplicates import DEFAULT_THRESHOLD as DUP_THRESHOLD
from .lookalikes.map import MAX_POINTS as MAP_POINTS

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from ._types import Estimate, RateLimit
    from .backends import Backend
    from .learn import LabelModel

F = TypeVar("F", bound=Callable[..., Any])

#: For each accessor method, the plain function it calls (the signature test reads this).
DATAFRAME_METHODS: dict[str, Callable[..., Any]] = {}
SERIES_METHODS: dict[str, Callable[..., Any]] = {}


def _prose(func: Callable[..., Any]) -> str:
    """``func``'s docstring without its examples (they call ``func``, not the accessor)."""
    parts = doctest.DocTestParser().parse(inspect.getdoc(func) or "")
    text = "".join(p for p in parts if isinstance(p, str))
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def _public_name(func: Callable[..., Any]) -> str:
    """Where users import ``func`` from: ``imagetags_df.generate``, ``imagetags_df.widgets.preview``."""
    module = func.__module__
    if module == "imagetags_df.engine":
        module = "imagetags_df"
    elif module.startswith("imagetags_df.widgets."):
        module = "imagetags_df.widgets"
    elif module.startswith("imagetags_df.learn."):
        module = "imagetags_df.learn"
    elif module.startswith("imagetags_df.export."):
        module = "imagetags_df.export"
    elif module.startswith("imagetags_df.lookalikes."):
        module = "imagetags_df.lookalikes"
    return f"{module}.{func.__qualname__}"


def _adapts(func: Callable[..., Any], registry: dict[str, Callable[..., Any]]) -> Callable[[F], F]:
    """Record that the method calls ``func`` and append ``func``'s documentation."""

    def mark(method: F) -> F:
        registry[method.__name__] = func
        own = inspect.cleandoc(method.__doc__ or "")
        method.__doc__ = f"{own}\n\nFrom :func:`{_public_name(func)}`:\n\n{_prose(func)}\n"
        return method

    return mark


@pd.api.extensions.register_dataframe_accessor("imagetags")
class ImageTagsAccessor:
    """Tag, explore and label the images referenced by a DataFrame.

    >>> import pandas as pd
    >>> import imagetags_df
    >>> df = pd.DataFrame({"path": ["data/samples/chelsea_cat.jpg", "data/samples/coffee.jpg"]})
    >>> out = df.imagetags.generate(col="path", backend="local", progress=False)
    >>> "cat" in out.loc[0, "tags"], "coffee" in out.loc[1, "tags"]
    (True, True)
    >>> int(out.imagetags.filter(any_of="CAT").index[0])
    0
    """

    def __init__(self, pandas_obj: pd.DataFrame) -> None:
        self._obj = pandas_obj

    # --- tagging -----------------------------------------------------------------------

    @_adapts(engine.generate, DATAFRAME_METHODS)
    def generate(self, col: str = "path", lang: str = C.DEFAULT_LANG, *,
                 backend: str | Backend = "auto", api_key: str | None = None,
                 base_url: str | None = None,
                 cache_dir: str | os.PathLike | bool | None = None,
                 max_concurrency: int | None = None,
                 rate_limit: float | str | RateLimit | None = None,
                 max_retries: int | None = None, max_credits: float | None = None,
                 on_error: Literal["record", "raise"] = "record", progress: bool = True,
                 timeout: float | None = None, ocr: bool | None = None, model: str | None = None,
                 labels: Sequence[str] | None = None, instructions: str | None = None,
                 max_side: int | None = None, max_tokens_budget: int | None = None,
                 max_file_bytes: int | None = None, precision: str | None = None) -> pd.DataFrame:
        """Tag every image in ``df[col]``: ``df.imagetags.generate(...)`` is
        ``imagetags_df.generate(df, ...)``.

        >>> df = pd.DataFrame({"path": ["data/samples/chelsea_cat.jpg"]})
        >>> out = df.imagetags.generate(backend="local", progress=False)
        >>> "cat" in out.loc[0, "tags"], out.loc[0, "backend"]
        (True, 'local')
        """
        return engine.generate(
            self._obj, col=col, lang=lang, backend=backend, api_key=api_key, base_url=base_url,
            cache_dir=cache_dir, max_concurrency=max_concurrency, rate_limit=rate_limit,
            max_retries=max_retries, max_credits=max_credits, on_error=on_error,
            progress=progress, timeout=timeout, ocr=ocr, model=model, labels=labels,
            instructions=instructions, max_side=max_side, max_tokens_budget=max_tokens_budget,
            max_file_bytes=max_file_bytes, precision=precision)

    @_adapts(engine.estimate, DATAFRAME_METHODS)
    def estimate(self, col: str = "path", lang: str = C.DEFAULT_LANG, *,
                 backend: str | Backend = "auto", api_key: str | None = None,
                 base_url: str | None = None,
                 cache_dir: str | os.PathLike | bool | None = None, rate_limit: Any = None,
                 ocr: bool | None = None, model: str | None = None,
                 labels: Sequence[str] | None = None, instructions: str | None = None,
                 max_side: int | None = None, check_images: bool = True, time_sample: int = 0,
                 max_file_bytes: int | None = None, **_ignored: Any) -> Estimate:
        """What :meth:`generate` would cost, calling nothing: ``df.imagetags.estimate(...)``
        is ``imagetags_df.estimate(df, ...)``.

        >>> df = pd.DataFrame({"path": ["data/samples/coffee.jpg", "data/samples/coffee.jpg"]})
        >>> est = df.imagetags.estimate(backend="local", cache_dir=False)
        >>> est.rows, est.unique_images, est.calls_needed, est.credits_needed
        (2, 1, 1, 0.0)
        """
        return engine.estimate(
            self._obj, col=col, lang=lang, backend=backend, api_key=api_key, base_url=base_url,
            cache_dir=cache_dir, rate_limit=rate_limit, ocr=ocr, model=model, labels=labels,
            instructions=instructions, max_side=max_side, check_images=check_images,
            time_sample=time_sample, max_file_bytes=max_file_bytes, **_ignored)

    # --- learning your labels -----------------------------------------------------------

    @_adapts(learn.embed, DATAFRAME_METHODS)
    def embed(self, col: str = "path", cache_dir: str | os.PathLike | bool | None = None, *,
              progress: bool = True, max_file_bytes: int | None = None) -> pd.DataFrame:
        """The frame plus ``embedding`` (1-D float32 array per row): ``df.imagetags.embed(...)``
        is ``imagetags_df.learn.embed(df, ...)``.

        >>> df = pd.DataFrame({"path": ["data/samples/coffee.jpg"]})
        >>> df.imagetags.embed(progress=False).loc[0, "embedding"].shape
        (1280,)
        """
        return learn.embed(self._obj, col=col, cache_dir=cache_dir, progress=progress,
                           max_file_bytes=max_file_bytes)

    # --- look-alikes -------------------------------------------------------------------

    @_adapts(lookalikes.similar, DATAFRAME_METHODS)
    def similar(self, query: Any, k: int = 10, col: str = "path", *,
                cache_dir: str | os.PathLike | bool | None = None) -> pd.DataFrame:
        """The ``k`` rows most like ``query`` (row label, path or PIL image), plus ``similarity``.

        >>> df = pd.DataFrame({"path": ["data/samples/chelsea_cat.jpg", "data/samples/coffee.jpg"]})
        >>> df.imagetags.similar(0, k=1, cache_dir=False).index.tolist()
        [1]
        """
        return lookalikes.similar(self._obj, query, k=k, col=col, cache_dir=cache_dir)

    @_adapts(lookalikes.duplicates, DATAFRAME_METHODS)
    def duplicates(self, col: str = "path", *, threshold: float = DUP_THRESHOLD,
                   cache_dir: str | os.PathLike | bool | None = None, tags_col: str | None = "tags",
                   candidates: int = DUP_CANDIDATES) -> pd.DataFrame:
        """The frame plus ``dup_group``, ``dup_kind``, ``dup_keep`` and ``tags_disagree``.

        >>> df = pd.DataFrame({"path": ["data/samples/coffee.jpg"] * 2})
        >>> df.imagetags.duplicates(cache_dir=False)["dup_kind"].tolist()
        ['exact', 'exact']
        """
        return lookalikes.duplicates(self._obj, col=col, threshold=threshold, cache_dir=cache_dir,
                                     tags_col=tags_col, candidates=candidates)

    @_adapts(lookalikes.clusters, DATAFRAME_METHODS)
    def clusters(self, n: int | None = None, col: str = "path", *,
                 cache_dir: str | os.PathLike | bool | None = None, names_from: str | None = "tags",
                 seed: int = 0) -> pd.DataFrame:
        """The frame plus ``cluster`` and ``cluster_name``.

        >>> df = pd.DataFrame({"path": ["data/samples/coffee.jpg"] * 2, "tags": [["coffee"]] * 2})
        >>> df.imagetags.clusters(n=1, cache_dir=False)["cluster_name"].tolist()
        ['coffee', 'coffee']
        """
        return lookalikes.clusters(self._obj, n=n, col=col, cache_dir=cache_dir, names_from=names_from, seed=seed)

    @_adapts(lookalikes.quality, DATAFRAME_METHODS)
    def quality(self, col: str = "path", *, cache_dir: str | os.PathLike | bool | None = None) -> pd.DataFrame:
        """The frame plus cleanvision's quality flags and their scores.

        >>> df = pd.DataFrame({"path": ["data/samples/coffee.jpg"]})
        >>> bool(df.imagetags.quality(cache_dir=False).loc[0, "blurry"])
        False
        """
        return lookalikes.quality(self._obj, col=col, cache_dir=cache_dir)

    @_adapts(lookalikes.plot_map, DATAFRAME_METHODS)
    def plot_map(self, col: str = "path", color: str | None = "cluster", *,
                 cache_dir: str | os.PathLike | bool | None = None, max_points: int = MAP_POINTS,
                 ax: Axes | None = None, seed: int = 0) -> Axes:
        """Thumbnails in 2-D by embedding, coloured by ``color``.

        >>> import matplotlib; matplotlib.use("Agg")
        >>> df = pd.DataFrame({"path": ["data/samples/coffee.jpg"]})
        >>> df.imagetags.plot_map(color=None, cache_dir=False).get_title()
        '1 images by embedding'
        """
        return lookalikes.plot_map(self._obj, col=col, color=color, cache_dir=cache_dir, max_points=max_points,
                                   ax=ax, seed=seed)

    @_adapts(learn.learn, DATAFRAME_METHODS)
    def learn(self, labels: str = "label", col: str = "path",
              cache_dir: str | os.PathLike | bool | None = None, *, min_precision: float = 0.9,
              rejected: str | None = "rejected", progress: bool = True) -> LabelModel:
        """A :class:`~imagetags_df.LabelModel` learned from ``df[labels]``:
        ``df.imagetags.learn(...)`` is ``imagetags_df.learn.learn(df, ...)``.

        >>> df = pd.DataFrame({"path": ["data/samples/coffee.jpg", "data/samples/rocket.jpg"],
        ...                    "label": ["drink", "space"]})
        >>> df.imagetags.learn(progress=False).labels
        ['drink', 'space']
        """
        return learn.learn(self._obj, labels=labels, col=col, cache_dir=cache_dir,
                           min_precision=min_precision, rejected=rejected, progress=progress)

    # --- analysis ----------------------------------------------------------------------

    @_adapts(analysis.onehot, DATAFRAME_METHODS)
    def onehot(self, min_count: int = 1, prefix: str = analysis.ONEHOT_PREFIX,
               sparse: bool | None = None, col: str = "tags") -> pd.DataFrame:
        """The frame with one boolean column per tag joined on the right.

        >>> tagged = pd.DataFrame({"tags": [["cat", "pet"], ["dog", "pet"]]})
        >>> tagged.imagetags.onehot().filter(like="tag:").columns.tolist()
        ['tag:pet', 'tag:cat', 'tag:dog']
        """
        return analysis.onehot(self._obj, min_count=min_count, prefix=prefix, sparse=sparse,
                               col=col)

    @_adapts(analysis.tag_counts, DATAFRAME_METHODS)
    def tag_counts(self, normalize: bool = False, col: str = "tags") -> pd.Series:
        """Images per tag, most common first.

        >>> tagged = pd.DataFrame({"tags": [["cat", "pet"], ["dog", "pet"]]})
        >>> tagged.imagetags.tag_counts().to_dict()
        {'pet': 2, 'cat': 1, 'dog': 1}
        """
        return analysis.tag_counts(self._obj, normalize=normalize, col=col)

    @_adapts(analysis.cooccurrence, DATAFRAME_METHODS)
    def cooccurrence(self, top: int | None = 30, measure: analysis.Measure = "count",
                     col: str = "tags") -> pd.DataFrame:
        """Square tag x tag frame of how tags go together.

        >>> tagged = pd.DataFrame({"tags": [["cat", "pet"], ["dog", "pet"]]})
        >>> tagged.imagetags.cooccurrence(measure="jaccard").loc["pet", "cat"]
        np.float64(0.5)
        """
        return analysis.cooccurrence(self._obj, top=top, measure=measure, col=col)

    @_adapts(analysis.filter_tags, DATAFRAME_METHODS)
    def filter(self, all_of: str | Iterable[str] | None = None,
               any_of: str | Iterable[str] | None = None,
               none_of: str | Iterable[str] | None = None, col: str = "tags",
               case: bool = False) -> pd.DataFrame:
        """Rows by their tags (case-insensitive unless ``case=True``).

        >>> tagged = pd.DataFrame({"tags": [["cat", "pet"], ["dog", "pet"]]})
        >>> tagged.imagetags.filter(any_of=["Cat"]).index.tolist()
        [0]
        """
        return analysis.filter_tags(self._obj, all_of=all_of, any_of=any_of, none_of=none_of,
                                    col=col, case=case)

    @_adapts(analysis.tag_mask, DATAFRAME_METHODS)
    def contains(self, all_of: str | Iterable[str] | None = None,
                 any_of: str | Iterable[str] | None = None,
                 none_of: str | Iterable[str] | None = None, col: str = "tags",
                 case: bool = False) -> pd.Series:
        """A boolean Series: which rows :meth:`filter` would keep.

        >>> tagged = pd.DataFrame({"tags": [["cat", "pet"], ["dog", "pet"]]})
        >>> tagged.imagetags.contains("pet", none_of="dog").tolist()
        [True, False]
        """
        return analysis.tag_mask(self._obj, all_of=all_of, any_of=any_of, none_of=none_of,
                                 col=col, case=case)

    @_adapts(analysis.plot_tags, DATAFRAME_METHODS)
    def plot_tags(self, top: int = 20, ax: Axes | None = None, normalize: bool = False,
                  color: str | None = None, title: str | None = None,
                  col: str = "tags") -> Axes:
        """Bar chart of the most common tags; returns the matplotlib Axes.

        >>> tagged = pd.DataFrame({"tags": [["cat", "pet"], ["dog", "pet"]]})
        >>> [t.get_text() for t in tagged.imagetags.plot_tags(top=1).get_yticklabels()]
        ['pet']
        """
        return analysis.plot_tags(self._obj, top=top, ax=ax, normalize=normalize, color=color,
                                  title=title, col=col)

    @_adapts(analysis.plot_cooccurrence, DATAFRAME_METHODS)
    def plot_cooccurrence(self, top: int = 20, measure: analysis.Measure = "count",
                          ax: Axes | None = None, cmap: str = "viridis",
                          annotate: bool | None = None, col: str = "tags") -> Axes:
        """Co-occurrence heat map; returns the matplotlib Axes.

        >>> tagged = pd.DataFrame({"tags": [["cat", "pet"], ["dog", "pet"]]})
        >>> tagged.imagetags.plot_cooccurrence().get_title()
        'Tag co-occurrence (count, top 3)'
        """
        return analysis.plot_cooccurrence(self._obj, top=top, measure=measure, ax=ax, cmap=cmap,
                                          annotate=annotate, col=col)

    # --- widgets -----------------------------------------------------------------------

    @_adapts(widgets.preview, DATAFRAME_METHODS)
    def preview(self, n: int = 24, tags: str | Iterable[str] | None = None, page: int = 0,
                col: str | None = None, thumb_size: int = 160, tags_col: str = "tags",
                min_score: float = 0.0, sort: Literal["row", "score"] = "row",
                group_by: str | None = None, group: Any = None,
                cache_dir: str | os.PathLike | bool | None = None) -> widgets.Gallery:
        """Thumbnail gallery with tag chips; displays as a widget in Jupyter.

        >>> df = pd.DataFrame({"path": ["data/samples/chelsea_cat.jpg"], "tags": [["cat"]]})
        >>> df.imagetags.preview(n=12)
        <Gallery images 1–1 of 1 · page 1/1>
        """
        return widgets.preview(self._obj, n=n, tags=tags, page=page, col=col,
                               thumb_size=thumb_size, tags_col=tags_col, min_score=min_score,
                               sort=sort, group_by=group_by, group=group, cache_dir=cache_dir)

    @_adapts(widgets.review, DATAFRAME_METHODS)
    def review(self, path: str | os.PathLike[str], col: str | None = None, n: int = 12,
               thumb_size: int = 200, tags_col: str = "tags", model: Any = None,
               labels: str | None = None) -> widgets.Review:
        """Labeling widget that saves every edit at once to the JSON file ``path``; with a label
        ``model`` (or ``learned`` columns), learned labels to accept or reject (see
        :func:`imagetags_df.widgets.review`).

        >>> df = pd.DataFrame({"path": ["data/samples/chelsea_cat.jpg"], "tags": [["cat"]]})
        >>> df.imagetags.review(path="labels.json").result()[["tags_reviewed", "reviewed"]]
          tags_reviewed  reviewed
        0         [cat]     False
        """
        return widgets.review(self._obj, path=path, col=col, n=n, thumb_size=thumb_size,
                              tags_col=tags_col, model=model, labels=labels)


    # --- hand-off ---------------------------------------------------------------------

    @_adapts(_label_studio.to_label_studio, DATAFRAME_METHODS)
    def to_label_studio(self, path: str | os.PathLike[str], col: str = "path", *,
                        document_root: str | os.PathLike[str] | None = None, image_root: str | None = None,
                        tags_col: str = "tags", model_version: str | None = None) -> Path:
        """Label Studio tasks with the tags as predictions, and their labelling config.

        >>> df = pd.DataFrame({"path": ["data/samples/coffee.jpg"], "tags": [["espresso", "coffee"]]})
        >>> df.imagetags.to_label_studio("tasks.json", document_root="data")
        PosixPath('tasks.json')
        >>> import json; json.load(open("tasks.json"))[0]["data"]["image"]
        '/data/local-files/?d=samples/coffee.jpg'
        >>> '<Choice value="espresso"/>' in open("tasks.label_config.xml").read()
        True
        """
        return _label_studio.to_label_studio(self._obj, path, col=col, document_root=document_root,
                                             image_root=image_root, tags_col=tags_col, model_version=model_version)

    @_adapts(_hf.to_hf_imagefolder, DATAFRAME_METHODS)
    def to_hf_imagefolder(self, out_dir: str | os.PathLike[str], col: str = "path", *,
                          copy: bool = False) -> Path:
        """A Hugging Face ImageFolder: the images and ``metadata.jsonl``.

        >>> df = pd.DataFrame({"path": ["data/samples/coffee.jpg"], "tags": [["espresso", "coffee"]]})
        >>> df.imagetags.to_hf_imagefolder("dataset")
        PosixPath('dataset')
        >>> print(open("dataset/metadata.jsonl").read().strip())
        {"file_name": "coffee.jpg", "tags": ["espresso", "coffee"]}
        """
        return _hf.to_hf_imagefolder(self._obj, out_dir, col=col, copy=copy)

    @_adapts(_hf.to_hf_dataset, DATAFRAME_METHODS)
    def to_hf_dataset(self, col: str = "path") -> Any:
        """A ``datasets.Dataset`` with an ``Image`` feature.

        >>> df = pd.DataFrame({"path": ["data/samples/coffee.jpg"], "tags": [["espresso", "coffee"]]})
        >>> ds = df.imagetags.to_hf_dataset()
        >>> ds[0]["tags"], ds[0]["image"].size
        (['espresso', 'coffee'], (600, 400))
        """
        return _hf.to_hf_dataset(self._obj, col=col)

    @_adapts(_fiftyone.to_fiftyone, DATAFRAME_METHODS)
    def to_fiftyone(self, name: str, col: str = "path", *, overwrite: bool = False) -> Any:
        """A FiftyOne dataset (needs ``pip install fiftyone``, which is not in ``[all]``).

        >>> df = pd.DataFrame({"path": ["data/samples/coffee.jpg"], "tags": [["espresso", "coffee"]]})
        >>> df.imagetags.to_fiftyone("coffee")  # here FiftyOne is not installed
        Traceback (most recent call last):
        ...
        imagetags_df._exceptions.ConfigurationError: building a FiftyOne dataset needs FiftyOne: pip install fiftyone ...
        """
        return _fiftyone.to_fiftyone(self._obj, name, col=col, overwrite=overwrite)


@pd.api.extensions.register_series_accessor("imagetags")
class ImageTagsSeriesAccessor:
    """``Series.imagetags``: tag a Series of images, or look at a Series of tag lists.

    ``generate`` and ``estimate`` take a Series of images (paths, bytes or PIL images);
    the analysis methods take a Series of tag lists, such as ``out["tags"]``. A missing
    list (None/NaN) is a row whose tags are unknown, as in :mod:`imagetags_df.analysis`.

    >>> tags = pd.Series([["cat", "pet"], ["dog", "pet"], None])
    >>> tags.imagetags.tag_counts().to_dict()
    {'pet': 2, 'cat': 1, 'dog': 1}
    >>> tags.imagetags.contains(any_of="Cat").tolist()
    [True, False, False]
    """

    def __init__(self, pandas_obj: pd.Series) -> None:
        self._obj = pandas_obj

    def _frame(self, default: str) -> tuple[pd.DataFrame, str]:
        name = self._obj.name if self._obj.name is not None else default
        return self._obj.to_frame(name=name), name

    # --- tagging -----------------------------------------------------------------------

    @_adapts(engine.generate, SERIES_METHODS)
    def generate(self, lang: str = C.DEFAULT_LANG, *, backend: str | Backend = "auto",
                 api_key: str | None = None, base_url: str | None = None,
                 cache_dir: str | os.PathLike | bool | None = None,
                 max_concurrency: int | None = None,
                 rate_limit: float | str | RateLimit | None = None,
                 max_retries: int | None = None, max_credits: float | None = None,
                 on_error: Literal["record", "raise"] = "record", progress: bool = True,
                 timeout: float | None = None, ocr: bool | None = None, model: str | None = None,
                 labels: Sequence[str] | None = None, instructions: str | None = None,
                 max_side: int | None = None, max_tokens_budget: int | None = None,
                 max_file_bytes: int | None = None, precision: str | None = None) -> pd.DataFrame:
        """Tag every image of the Series; returns a frame with the Series as a column.

        >>> paths = pd.Series(["data/samples/coffee.jpg"], name="path")
        >>> out = paths.imagetags.generate(backend="local", progress=False)
        >>> "coffee" in out.loc[0, "tags"]
        True
        """
        frame, name = self._frame("image")
        return engine.generate(
            frame, col=name, lang=lang, backend=backend, api_key=api_key, base_url=base_url,
            cache_dir=cache_dir, max_concurrency=max_concurrency, rate_limit=rate_limit,
            max_retries=max_retries, max_credits=max_credits, on_error=on_error,
            progress=progress, timeout=timeout, ocr=ocr, model=model, labels=labels,
            instructions=instructions, max_side=max_side, max_tokens_budget=max_tokens_budget,
            max_file_bytes=max_file_bytes, precision=precision)

    @_adapts(engine.estimate, SERIES_METHODS)
    def estimate(self, lang: str = C.DEFAULT_LANG, *, backend: str | Backend = "auto",
                 api_key: str | None = None, base_url: str | None = None,
                 cache_dir: str | os.PathLike | bool | None = None, rate_limit: Any = None,
                 ocr: bool | None = None, model: str | None = None,
                 labels: Sequence[str] | None = None, instructions: str | None = None,
                 max_side: int | None = None, check_images: bool = True, time_sample: int = 0,
                 max_file_bytes: int | None = None, **_ignored: Any) -> Estimate:
        """What :meth:`generate` would cost, calling nothing.

        >>> pd.Series(["data/samples/coffee.jpg"]).imagetags.estimate(
        ...     backend="local", cache_dir=False).calls_needed
        1
        """
        frame, name = self._frame("image")
        return engine.estimate(
            frame, col=name, lang=lang, backend=backend, api_key=api_key, base_url=base_url,
            cache_dir=cache_dir, rate_limit=rate_limit, ocr=ocr, model=model, labels=labels,
            instructions=instructions, max_side=max_side, check_images=check_images,
            time_sample=time_sample, max_file_bytes=max_file_bytes, **_ignored)

    # --- analysis of a Series of tag lists -----------------------------------------------

    @_adapts(analysis.tag_counts, SERIES_METHODS)
    def tag_counts(self, normalize: bool = False) -> pd.Series:
        """Images per tag, most common first.

        >>> pd.Series([["cat"], ["cat", "pet"]]).imagetags.tag_counts().to_dict()
        {'cat': 2, 'pet': 1}
        """
        frame, name = self._frame("tags")
        return analysis.tag_counts(frame, normalize=normalize, col=name)

    @_adapts(analysis.onehot, SERIES_METHODS)
    def onehot(self, min_count: int = 1, prefix: str = analysis.ONEHOT_PREFIX,
               sparse: bool | None = None) -> pd.DataFrame:
        """One boolean column per tag, on the Series' index (the tag lists left out).

        >>> pd.Series([["cat"], ["cat", "pet"]]).imagetags.onehot().to_dict("list")
        {'tag:cat': [True, True], 'tag:pet': [False, True]}
        """
        frame, name = self._frame("tags")
        return analysis.onehot(frame, min_count=min_count, prefix=prefix, sparse=sparse,
                               col=name).drop(columns=[name])

    @_adapts(analysis.cooccurrence, SERIES_METHODS)
    def cooccurrence(self, top: int | None = 30,
                     measure: analysis.Measure = "count") -> pd.DataFrame:
        """Square tag x tag frame of how tags go together.

        >>> pd.Series([["cat"], ["cat", "pet"]]).imagetags.cooccurrence().loc["cat", "pet"]
        np.int64(1)
        """
        frame, name = self._frame("tags")
        return analysis.cooccurrence(frame, top=top, measure=measure, col=name)

    @_adapts(analysis.filter_tags, SERIES_METHODS)
    def filter(self, all_of: str | Iterable[str] | None = None,
               any_of: str | Iterable[str] | None = None,
               none_of: str | Iterable[str] | None = None, case: bool = False) -> pd.Series:
        """The tag lists that match (case-insensitive unless ``case=True``), as a Series.

        >>> pd.Series([["cat"], ["dog"]]).imagetags.filter(any_of="Dog").tolist()
        [['dog']]
        """
        frame, name = self._frame("tags")
        kept = analysis.filter_tags(frame, all_of=all_of, any_of=any_of, none_of=none_of,
                                    col=name, case=case)
        return kept[name].rename(self._obj.name)

    @_adapts(analysis.tag_mask, SERIES_METHODS)
    def contains(self, all_of: str | Iterable[str] | None = None,
                 any_of: str | Iterable[str] | None = None,
                 none_of: str | Iterable[str] | None = None, case: bool = False) -> pd.Series:
        """A boolean Series: which tag lists match, for ``df[df["tags"].imagetags.contains(...)]``.

        >>> pd.Series([["cat"], ["dog"], None]).imagetags.contains("CAT").tolist()
        [True, False, False]
        """
        frame, name = self._frame("tags")
        return analysis.tag_mask(frame, all_of=all_of, any_of=any_of, none_of=none_of,
                                 col=name, case=case)

    @_adapts(analysis.plot_tags, SERIES_METHODS)
    def plot_tags(self, top: int = 20, ax: Axes | None = None, normalize: bool = False,
                  color: str | None = None, title: str | None = None) -> Axes:
        """Bar chart of the most common tags; returns the matplotlib Axes.

        >>> ax = pd.Series([["cat"], ["cat", "pet"]]).imagetags.plot_tags()
        >>> [t.get_text() for t in ax.get_yticklabels()]
        ['pet', 'cat']
        """
        frame, name = self._frame("tags")
        return analysis.plot_tags(frame, top=top, ax=ax, normalize=normalize, color=color,
                                  title=title, col=name)

    @_adapts(analysis.plot_cooccurrence, SERIES_METHODS)
    def plot_cooccurrence(self, top: int = 20, measure: analysis.Measure = "count",
                          ax: Axes | None = None, cmap: str = "viridis",
                          annotate: bool | None = None) -> Axes:
        """Co-occurrence heat map; returns the matplotlib Axes.

        >>> pd.Series([["cat"], ["cat", "pet"]]).imagetags.plot_cooccurrence().get_title()
        'Tag co-occurrence (count, top 2)'
        """
        frame, name = self._frame("tags")
        return analysis.plot_cooccurrence(frame, top=top, measure=measure, ax=ax, cmap=cmap,
                                          annotate=annotate, col=name)
