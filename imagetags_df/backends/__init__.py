"""Backends behind one interface, and the registry that turns a name into one.

``resolve_backend("auto")`` is where configuration is settled: explicit argument,
then environment variable, then default. Nothing below it reads the environment.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from .. import _constants as C
from .._exceptions import ConfigurationError
from .base import Backend

__all__ = ["Backend", "resolve_backend", "register_backend", "backend_names"]

_FACTORIES: dict[str, Callable[..., Backend]] = {}

MISSING_KEY_HELP = (
    "No ImageDescriber API key was found. Pass api_key=..., or set it in the environment:\n"
    f"    export {C.ENV_API_KEY}=sk-...\n"
    "or use the offline tagger with backend=\"local\" (no key, no network)."
)


def register_backend(name: str, factory: Callable[..., Backend]) -> None:
    """Make ``backend=name`` build a backend with ``factory(**options)``."""
    _FACTORIES[name] = factory


def backend_names() -> list[str]:
    return ["auto", "imagedescriber", "local", *sorted(n for n in _FACTORIES if n not in
                                                         ("imagedescriber", "local"))]


def _imagedescriber(*, api_key: str | None = None, base_url: str | None = None,
                    timeout: float | None = None, rate_limit: Any = None, **_: Any) -> Backend:
    from .imagedescriber import ImageDescriberBackend

    key = api_key or os.environ.get(C.ENV_API_KEY)
    if not key:
        raise ConfigurationError(MISSING_KEY_HELP)
    url = base_url or os.environ.get(C.ENV_BASE_URL) or C.DEFAULT_BASE_URL
    return ImageDescriberBackend(api_key=key, base_url=url, timeout=timeout, rate_limit=rate_limit)


def _local(*, rate_limit: Any = None, **options: Any) -> Backend:
    try:
        from .local import LocalBackend
    except ImportError as exc:  # pragma: no cover - only when the package is broken
        raise ConfigurationError(f"the offline tagger could not be loaded: {exc}") from exc
    known = {k: v for k, v in options.items() if k in ("ocr",) and v is not None}
    return LocalBackend(**known)


register_backend("imagedescriber", _imagedescriber)
register_backend("api", _imagedescriber)
register_backend("local", _local)


def resolve_backend(backend: str | Backend = "auto", **options: Any) -> Backend:
    """Turn ``backend`` (a name or an instance) into a Backend.

    ``"auto"`` is the API when a key is given or in the environment, else the
    offline tagger.

    >>> resolve_backend("local").name
    'local'
    """
    if isinstance(backend, Backend):
        return backend
    if not isinstance(backend, str):
        raise ConfigurationError(f"backend must be a name or a Backend, not {type(backend).__name__}")
    name = backend.strip().lower()
    if name == "auto":
        has_key = options.get("api_key") or os.environ.get(C.ENV_API_KEY)
        name = "imagedescriber" if has_key else "local"
    if name not in _FACTORIES:
        raise ConfigurationError(f"unknown backend {backend!r}; choose one of {', '.join(backend_names())}")
    return _FACTORIES[name](**options)
