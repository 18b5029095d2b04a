"""Settling a run's options once: arguments, then environment, then defaults.

Everything below :func:`settle` receives a :class:`RunSettings` and reads no
environment variable and no loose keyword argument.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .. import _constants as C
from .._exceptions import ConfigurationError
from .._types import RateLimit
from ..backends import Backend, resolve_backend
from ..infra.cache import Cache, default_cache_dir


@dataclass
class RunSettings:
    """Everything a run needs, settled once from arguments (then env, then defaults)."""

    backend: Backend
    lang: str
    cache: Cache
    rate_limit: RateLimit | None
    max_concurrency: int
    max_retries: int
    max_credits: float | None
    on_error: Literal["record", "raise"]
    progress: bool
    max_tokens_budget: int | None = None
    max_file_bytes: int = C.MAX_FILE_BYTES
    #: Seconds another process waits, at most, for the answer to an image this one
    #: claimed, should this one die (renewed while it lives).
    claim_lease: float = C.CLAIM_LEASE_SECONDS


def settle(*, lang: str = C.DEFAULT_LANG, backend: str | Backend = "auto", api_key: str | None = None,
           base_url: str | None = None, timeout: float | None = None, cache_dir: Any = None,
           max_concurrency: int | None = None, rate_limit: Any = None, max_retries: int | None = None,
           max_credits: float | None = None, on_error: str = "record", progress: bool = True,
           ocr: bool | None = None, model: str | None = None, labels: Any = None,
           instructions: str | None = None, max_side: int | None = None,
           max_tokens_budget: int | None = None, keyless: bool = False,
           max_file_bytes: int | None = None, precision: str | None = None) -> RunSettings:
    """Validate options and build the backend and cache. Raises ConfigurationError.

    ``keyless``: settle for pricing only; the API backend needs no key (see ``resolve_backend``).
    """
    if lang not in C.LANGUAGES:
        raise ConfigurationError(f"lang {lang!r} is not supported; use one of {', '.join(C.LANGUAGES)}")
    if on_error not in ("record", "raise"):
        raise ConfigurationError(f"on_error must be 'record' or 'raise', not {on_error!r}")
    if max_credits is not None and (not isinstance(max_credits, (int, float)) or max_credits < 0):
        raise ConfigurationError(f"max_credits must be a non-negative number, not {max_credits!r}")
    if max_concurrency is not None and (not isinstance(max_concurrency, int) or max_concurrency < 1):
        raise ConfigurationError(f"max_concurrency must be a positive integer, not {max_concurrency!r}")
    if max_retries is not None and (not isinstance(max_retries, int) or max_retries < 0):
        raise ConfigurationError(f"max_retries must be a non-negative integer, not {max_retries!r}")
    if max_tokens_budget is not None and (isinstance(max_tokens_budget, bool) or not isinstance(
            max_tokens_budget, int) or max_tokens_budget < 0):
        raise ConfigurationError(f"max_tokens_budget must be a non-negative whole number, not {max_tokens_budget!r}")
    if labels is not None:
        if isinstance(labels, str) or not all(isinstance(x, str) for x in labels):
            raise ConfigurationError('labels must be a list of strings, e.g. labels=["scratch", "dent"]')
        labels = list(labels)
    file_cap = _max_file_bytes(max_file_bytes)
    rate = RateLimit.parse(rate_limit) if rate_limit is not None else None
    be = resolve_backend(backend, api_key=api_key, base_url=base_url, timeout=timeout,
                         rate_limit=rate, ocr=ocr, model=model, labels=labels, instructions=instructions,
                         max_side=max_side, lang=lang, keyless=keyless, precision=precision)
    if max_tokens_budget is not None and not be.reports_tokens:
        raise ConfigurationError(f"max_tokens_budget needs a backend that reports tokens (openai, ollama), "
                                 f"not {be.name!r}; use max_credits for the API")
    if rate is None:
        rate = be.rate_limit
    if cache_dir is False:
        cache = Cache(None)
    else:
        cache = Cache(Path(cache_dir).expanduser() if cache_dir not in (None, True) else default_cache_dir())
    be.attach_cache(cache)
    # Each backend sizes its own default (the API's from its rate limit; the
    # CPU-bound offline tagger to one batch at a time).
    concurrency = max_concurrency or be.max_concurrency
    return RunSettings(
        backend=be, lang=lang, cache=cache, rate_limit=rate, max_concurrency=concurrency,
        max_retries=C.DEFAULT_MAX_RETRIES if max_retries is None else max_retries,
        max_credits=None if max_credits is None else float(max_credits),
        on_error=on_error,  # type: ignore[arg-type]
        progress=progress,
        max_tokens_budget=max_tokens_budget,
        max_file_bytes=file_cap,
        claim_lease=_claim_lease(),
    )


def _claim_lease() -> float:
    """``$IMAGETAGS_CLAIM_LEASE`` seconds, else :data:`CLAIM_LEASE_SECONDS`."""
    raw = os.environ.get(C.ENV_CLAIM_LEASE, "").strip()
    if not raw:
        return C.CLAIM_LEASE_SECONDS
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 1:
        raise ConfigurationError(f"${C.ENV_CLAIM_LEASE} must be a number of seconds, at least 1, not {raw!r}")
    return value


def _max_file_bytes(value: int | None) -> int:
    """The size cap for image files: the argument, else ``$IMAGETAGS_MAX_FILE_BYTES``, else 64 MB."""
    where = "max_file_bytes"
    raw: object = value
    if value is None:
        raw, where = os.environ.get(C.ENV_MAX_FILE_BYTES), f"${C.ENV_MAX_FILE_BYTES}"
        if raw is None or not str(raw).strip():
            return C.MAX_FILE_BYTES
        try:
            raw = int(str(raw).strip())
        except ValueError:
            raise ConfigurationError(f"{where} must be a whole number of bytes, not {raw!r}") from None
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
        raise ConfigurationError(f"{where} must be a positive whole number of bytes, not {raw!r}")
    return raw
