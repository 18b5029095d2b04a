"""The accessors show what the plain functions take, in help and in tab completion.

Each accessor method spells out its function's parameters (so IPython's ``?`` and Jedi,
which reads the source, both see them). These tests keep the copies from drifting: a
parameter added to ``imagetags_df.generate`` (or any adapted function) without the same
parameter on the accessor fails here, naming both.
"""

from __future__ import annotations

import inspect

import pandas as pd
import pytest

import imagetags_df  # noqa: F401  (registers the accessors)
from imagetags_df import accessor, analysis
from imagetags_df.accessor import ImageTagsAccessor, ImageTagsSeriesAccessor


def _params(func, drop=()) -> list[tuple[str, object, object]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(func).parameters.values()
            if p.name not in drop]


def _public_methods(cls) -> set[str]:
    return {name for name, v in vars(cls).items() if callable(v) and not name.startswith("_")}


CASES = ([(ImageTagsAccessor, name, func, ("df",))
          for name, func in accessor.DATAFRAME_METHODS.items()]
         + [(ImageTagsSeriesAccessor, name, func, ("df", "col"))
            for name, func in accessor.SERIES_METHODS.items()])


@pytest.mark.parametrize("cls,name,func,drop", CASES,
                         ids=[f"{c.__name__}.{n}" for c, n, _, _ in CASES])
def test_accessor_method_has_the_function_signature(cls, name, func, drop):
    method = getattr(cls, name)
    got = _params(method, drop=("self",))
    want = _params(func, drop=drop)
    assert got == want, (
        f"{cls.__name__}.{name} and {func.__module__}.{func.__qualname__} take different "
        f"parameters: give the accessor method the same ones, in the same order and with "
        f"the same defaults\n accessor: {got}\n function: {want}")
    # ... and its documentation: the method's own example, then the function's text
    doc = inspect.getdoc(method) or ""
    first_line = (inspect.getdoc(func) or "").splitlines()[0]
    assert first_line in doc and ">>> " in doc.split("From :func:")[0]


def test_every_accessor_method_is_checked():
    assert _public_methods(ImageTagsAccessor) == set(accessor.DATAFRAME_METHODS)
    assert _public_methods(ImageTagsSeriesAccessor) == set(accessor.SERIES_METHODS)
    # a Series of tag lists gets the analysis that makes sense on one column
    assert {"tag_counts", "onehot", "cooccurrence", "filter", "contains", "plot_tags",
            "plot_cooccurrence"} <= set(accessor.SERIES_METHODS)


def test_help_and_tab_completion_in_ipython():
    from IPython.core.completer import provisionalcompleter
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.user_ns["df"] = pd.DataFrame({"path": ["a.jpg"]})
    shell.user_ns["s"] = pd.Series([["cat"]], name="tags")
    help_text = shell.object_inspect_text("df.imagetags.generate")
    help_text = help_text.decode() if isinstance(help_text, bytes) else help_text
    for name in ("api_key", "base_url", "max_credits", "on_error"):
        assert name in help_text
    # Both of IPython's completers: Jedi (the default) and its own.
    for use_jedi in (True, False):
        shell.Completer.use_jedi = use_jedi
        for text, want in [("df.imagetags.generate(api_", "api_key="),
                           ("df.imagetags.generate(max_cr", "max_credits="),
                           ("s.imagetags.generate(base_", "base_url="),
                           ("df.imagetags.filter(any_of=['x'], ca", "case="),
                           ("s.imagetags.tag_c", "tag_counts")]:
            with provisionalcompleter():
                found = [c.text.lstrip(".") for c in shell.Completer.completions(text, len(text))]
            assert want in found, (use_jedi, text, found)


def test_series_analysis_matches_the_frame_functions():
    tags = pd.Series([["cat", "pet"], ["Dog", "pet"], [], None], index=list("abcd"), name="tags")
    frame = tags.to_frame()
    s = tags.imagetags
    assert s.tag_counts().equals(analysis.tag_counts(frame))
    assert s.tag_counts(normalize=True).equals(analysis.tag_counts(frame, normalize=True))
    assert s.cooccurrence(measure="lift").equals(analysis.cooccurrence(frame, measure="lift"))
    assert s.filter(any_of="dog").to_dict() == {"b": ["Dog", "pet"]}
    assert s.filter(any_of="dog", case=True).empty
    assert s.contains("PET").tolist() == [True, True, False, False]
    wide = s.onehot()
    assert wide.index.equals(tags.index)
    assert wide.columns.tolist() == ["tag:pet", "tag:Dog", "tag:cat"]
    assert wide["tag:pet"].tolist() == [True, True, False, False]
    # an unnamed Series works too, and keeps its (lack of) name
    unnamed = pd.Series([["cat"], ["dog"]])
    assert unnamed.imagetags.filter("cat").name is None
    assert unnamed.imagetags.tag_counts().to_dict() == {"cat": 1, "dog": 1}
