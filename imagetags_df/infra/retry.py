"""The retry policy as small pure functions, numbers from ``_constants``.

Tests call these directly with a fixed ``rand`` and never sleep.
"""

from __future__ import annotations

import contextvars
import email.utils
import logging
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

log = logging.getLogger("imagetags_df")


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


def human_seconds(seconds: float) -> str:
    """A wait as people say it.

    >>> human_seconds(45), human_seconds(390), human_seconds(86400)
    ('45 s', '6.5 min', '24 h')
    """
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.2g} min"
    return f"{seconds / 3600:.3g} h"


def wait_too_long(seconds: float, why: str) -> RateLimitError:
    """The run-stopping error for a server that asks every caller to wait longer than MAX_PAUSE."""
    exc = RateLimitError(f"the server asks to wait {human_seconds(seconds)} ({why}); rows done are cached; "
                         "run again later", code=C.CODE_RATE_LIMITED, retry_after=seconds)
    exc.stops_run = True  # every other row would be told the same
    return exc


class Patience:
    """How long one row may still wait for rate limits: one budget across all its attempts.

    The engine opens one per row (:data:`ROW_PATIENCE`); a backend that waits out a 429
    itself spends from the same budget, so retries never start a fresh one.

    >>> p = Patience(10); p.spend(8); p.allows(3), p.allows(2)
    (False, True)
    """

    def __init__(self, total: float | None = None) -> None:
        self.total = C.RATE_LIMIT_PATIENCE if total is None else total
        self.waited = 0.0
        #: The longest wait the server asked for, and in which words (for the row's error).
        self.asked: float | None = None
        self.asked_as = ""

    def note(self, exc: BaseException) -> None:
        asked = getattr(exc, "retry_after", None)
        if asked is not None and (self.asked is None or asked >= self.asked):
            self.asked = asked
            self.asked_as = getattr(exc, "retry_after_source", "") or "Retry-After"

    def allows(self, seconds: float) -> bool:
        return self.waited + seconds <= self.total + 1e-9

    def spend(self, seconds: float) -> None:
        self.waited += max(0.0, seconds)

    def exhausted(self, exc: BaseException) -> RateLimitError:
        """The row's error once its patience has run out."""
        self.note(exc)
        asked = (f"the server asked for {self.asked_as} {self.asked:g} s" if self.asked is not None
                 else "the server gave no time to come back")
        return RateLimitError(f"rate limited: {asked}; waited {self.waited:.0f} s in all, this row's "
                              f"patience is {self.total:.0f} s; run again later",
                              code=C.CODE_RATE_LIMITED, status_code=getattr(exc, "status_code", None),
                              retry_after=self.asked, request_id=getattr(exc, "request_id", None))


#: The current row's patience, set by the engine around each call it makes.
ROW_PATIENCE: contextvars.ContextVar[Patience | None] = contextvars.ContextVar("imagetags_row_patience",
                                                                               default=None)


class _Announcer:
    """One line on stderr (through logging) for each wait past ANNOUNCE_WAIT, not one per worker."""

    def __init__(self) -> None:
        self._until = 0.0

    def __call__(self, seconds: float, why: str, *, clock: Callable[[], float] = time.time) -> None:
        if seconds <= C.ANNOUNCE_WAIT:
            return
        until = clock() + seconds
        if until <= self._until + 1.0:  # already said
            return
        self._until = until
        log.warning("imagetags: waiting %s, until %s, for %s", human_seconds(seconds),
                    time.strftime("%H:%M:%S", time.localtime(until)), why)


#: Says a long wait aloud (every wait of the engine and the backends goes through it).
announce_wait = _Announcer()
