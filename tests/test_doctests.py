"""Every docstring example in the package runs, as written, from the repository root.

Examples use the real sample photos in data/samples and the offline tagger, and show what
it really returns. The user-facing modules (the accessor, generate/estimate, analysis,
widgets, image loading, the offline tagger) may not hide an example behind ``+SKIP``.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import imagetags_df

REPO = Path(__file__).resolve().parents[1]
#: Modules whose examples must all run (a ``+SKIP`` there is a failure).
NO_SKIP = ("imagetags_df", "imagetags_df.accessor", "imagetags_df.engine.api", "imagetags_df.analysis",
           "imagetags_df.widgets.gallery", "imagetags_df.widgets.review",
           "imagetags_df.widgets.thumbnails", "imagetags_df.images", "imagetags_df.backends.local")
_SKIP = re.compile(r"doctest:.*\+SKIP")


def _modules() -> list[str]:
    names = [imagetags_df.__name__]
    for info in pkgutil.walk_packages(imagetags_df.__path__, prefix="imagetags_df."):
        if not info.name.endswith("__main__"):
            names.append(info.name)
    return sorted(names)


def _tests(name: str) -> list[doctest.DocTest]:
    module = importlib.import_module(name)
    return [t for t in doctest.DocTestFinder().find(module, name) if t.examples]


@pytest.fixture
def in_repo(tmp_path, monkeypatch):
    """Run from the repository root (examples name data/samples/...), with a throwaway
    cache and no API key, so backend="auto" means the offline tagger."""
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("IMAGETAGS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("IMAGEDESCRIBER_API_KEY", raising=False)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    return tmp_path


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples_run(name, in_repo, monkeypatch):
    tests = _tests(name)
    if not tests:
        return
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    failures: list[str] = []
    for test in tests:
        # Examples that write files (a review file, a table) write them in a fresh folder,
        # while data/samples stays reachable by its relative path.
        work = in_repo / "run" / test.name
        work.mkdir(parents=True)
        (work / "data").mkdir()
        (work / "data" / "samples").symlink_to(REPO / "data" / "samples")
        monkeypatch.chdir(work)
        out: list[str] = []
        result = runner.run(test, out=out.append, clear_globs=True)
        if result.failed:
            failures.append("".join(out))
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("name", NO_SKIP)
def test_user_facing_examples_are_not_skipped(name):
    tests = _tests(name)
    assert tests, f"{name} has no docstring examples"
    skipped = [f"{t.name}: {e.source.strip()}" for t in tests for e in t.examples
               if _SKIP.search(e.source) or e.options.get(doctest.SKIP)]
    assert not skipped, "examples that never run:\n" + "\n".join(skipped)
