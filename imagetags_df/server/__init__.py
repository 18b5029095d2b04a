"""``imagetags serve``: a self-hosted server that speaks the ImageDescriber API.

=============  ==============================================================
``app``        the ASGI app (Starlette): gates, endpoints, error answers, settling credits
``keystore``   keys (stored as hashes), credits and their reservations in SQLite, WAL
               mode; one server per database
``limits``     the per-key rate limit (sliding-window log)
``validation`` request body -> checked image and language, cheapest first, within a
               decode budget
``batching``   concurrent requests -> batched backend calls, off the loop
``serving``    time limits, connection caps and uvicorn's own answers in the API's shape
``cli``        the ``serve`` command and the ``keys`` group
=============  ==============================================================

Only ``app`` needs the ``server`` extra (Starlette, uvicorn); the key store and
the commands import without it, so ``imagetags keys ...`` works everywhere and
``imagetags serve`` says which ``pip install`` is missing.

>>> from imagetags_df.server import create_app, KeyStore             # doctest: +SKIP
>>> app = create_app(KeyStore("keys.sqlite3"), backend="local")     # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from .._install import pip_install
from .keystore import KeyInfo, KeyStore

INSTALL_HINT = f"the server needs its extra: {pip_install('server')}"


def create_app(*args: Any, **kwargs: Any) -> Any:
    """:func:`imagetags_df.server.app.create_app`, imported on first use (needs the extra)."""
    try:
        from .app import create_app as factory
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] in ("starlette", "uvicorn"):
            from .._exceptions import ConfigurationError

            raise ConfigurationError(INSTALL_HINT) from exc
        raise
    return factory(*args, **kwargs)


__all__ = ["INSTALL_HINT", "KeyInfo", "KeyStore", "create_app"]
