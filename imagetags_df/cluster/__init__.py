"""Tagging a Dask DataFrame on a cluster: ``ddf.imagetags.generate(...)``.

Importing :mod:`imagetags_df` registers the Dask accessor without importing
Dask: if ``dask.dataframe`` is already imported it is registered at once,
otherwise the first ``import dask.dataframe`` registers it. Without Dask
installed nothing happens. ``pip install "imagetags-df[dask]"`` adds it.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import logging
import sys
from types import ModuleType
from typing import Any

log = logging.getLogger(__name__)

__all__ = ["generate", "estimate", "collect_results", "install_accessor"]


def generate(ddf: Any, col: str = "path", lang: str = "en", **options: Any) -> Any:
    """See :func:`imagetags_df.cluster.door.generate`."""
    from .door import generate as _generate

    return _generate(ddf, col=col, lang=lang, **options)


def estimate(ddf: Any, col: str = "path", lang: str = "en", **options: Any) -> Any:
    """See :func:`imagetags_df.cluster.door.estimate`."""
    from .door import estimate as _estimate

    return _estimate(ddf, col=col, lang=lang, **options)


def collect_results(client: Any = None) -> int:
    """Copy results the workers handed back into the client's cache now; see
    :func:`imagetags_df.cluster.results.collect`."""
    from .results import collect

    return collect(client)


def _register() -> None:
    try:
        from . import accessor  # noqa: F401  (registers on import)
    except Exception as exc:  # noqa: BLE001 - a broken dask must not break importing dask or us
        log.warning("the Dask accessor could not be registered: %s", exc)


class _Loader(importlib.abc.Loader):
    """Runs the real loader of ``dask.dataframe``, then registers the accessor."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._inner.exec_module(module)
        _register()


class _Finder(importlib.abc.MetaPathFinder):
    """Waits for ``import dask.dataframe`` (once), without importing anything itself."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if fullname != "dask.dataframe":
            return None
        sys.meta_path[:] = [f for f in sys.meta_path if f is not self]
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            spec = find(fullname, path, target) if find is not None else None
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _Loader(spec.loader)
                return spec
        return None


def install_accessor() -> None:
    """Register ``DataFrame.imagetags`` on Dask now if it is imported, else when it is."""
    if "dask.dataframe" in sys.modules:
        _register()
        return
    if any(isinstance(f, _Finder) for f in sys.meta_path):
        return
    try:
        if importlib.util.find_spec("dask") is None:
            return
    except (ImportError, ValueError):
        return
    sys.meta_path.insert(0, _Finder())
