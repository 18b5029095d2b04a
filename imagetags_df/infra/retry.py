"""The retry policy as small pure functions, numbers from ``_constants``.

Tests call these directly with a fixed ``rand`` and never sleep.
"""

from __future__ import annotations

import email.utils
import random
import re
import time
from collections.abc import Callable

from .. import _constants as C
from .._exceptions import (
    APIConnectionError,
    APIError,
    InternalServerError,
    RateLimitError,
    UploadFailedError,
)


def should_retry(exc: BaseException) -> bool:
    """Transient failures: 1004, 2005, 5050, HTTP 5xx or garbage bodies, timeouts, dropped connections."""
    if getattr(exc, "stops_run", False):  # e.g. nothing listening at all: retrying only delays the news
        return False
    if isinstance(exc, (RateLimitError, UploadFailedError, InternalServerError, APIConnectionError)):
        return True
    if isinstance(exc, APIError):
        return exc.code in C.RETRYABLE_CODES or (exc.status_code or 0) >= 500
    return False


def retry_delay(attempt: int, retry_after: float | None = None, *,
                rand: Callable[[], float] = random.random) -> float:
    """Seconds to wait before retry number ``attempt`` (0-based).

    The server's Retry-After wins when it gave one (capped, so a confused proxy
    cannot stall a run for hours); else exponential backoff with jitter, so
    workers that failed together do not come back together.

    >>> retry_delay(0, rand=lambda: 0.0), retry_delay(3, rand=lambda: 0.0), retry_delay(0, 7.0)
    (1.0, 8.0, 7.0)
    """
    if retry_after is not None and retry_after >= 0:
        return min(retry_after, C.MAX_RETRY_DELAY)
    base = min(C.INITIAL_RETRY_DELAY * (2 ** attempt), C.MAX_RETRY_DELAY)
    return base * (1.0 - C.RETRY_JITTER * rand())


def _seconds(value: str) -> float | None:
    """A plain number of seconds (never negative), or None when ``value`` is something else."""
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def parse_retry_after(value: str | None, *, now: Callable[[], float] = time.time) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    seconds = _seconds(value)
    if seconds is not None:
        return seconds
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now())


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


def parse_duration(value: str | None) -> float | None:
    """Seconds in an OpenAI-style reset duration: ``1s``, ``6m30s``, ``250ms``, ``1h2m``, ``0.5``.

    >>> parse_duration("6m30s"), parse_duration("250ms"), parse_duration("2"), parse_duration("soon")
    (390.0, 0.25, 2.0, None)
    """
    if not value:
        return None
    value = value.strip()
    seconds = _seconds(value)
    if seconds is not None:
        return seconds
    parts = _DURATION.findall(value)
    if not parts or "".join(n + u for n, u in parts) != value.replace(" ", ""):
        return None
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    return sum(float(n) * scale[u] for n, u in parts)
