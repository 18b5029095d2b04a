"""The per-key rate limit: a sliding-window log, exact under concurrency.

Each key keeps the times of the requests it was allowed in the last window. A
request is admitted when fewer than ``capacity`` remain; otherwise it is refused
with the seconds until the oldest one leaves the window (the ``Retry-After``).

Why a log and not a token bucket or a fixed window: with a log, *any* window of
the configured length holds at most ``capacity`` admitted requests, which is what
"30 per minute" promises a client that paces itself; a fixed window admits twice
the limit across a boundary, and a bucket's refill admits fractional extras. The
memory is at most ``capacity`` floats per key, and only authenticated keys get a
log, so an attacker cannot grow it with made-up keys.

The check-and-record happens under one lock with nothing awaited inside, so N
simultaneous requests in one window admit exactly ``capacity`` of them, and each
key has its own log, so one key's traffic never touches another's.

>>> limiter = RateLimiter("2/min", clock=lambda: 100.0)
>>> [limiter.hit("k").allowed for _ in range(3)]
[True, True, False]
>>> limiter.hit("k").retry_after, limiter.hit("other").allowed
(60, True)
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from .._types import RateLimit


@dataclass(frozen=True)
class Decision:
    allowed: bool
    #: Whole seconds to wait before a retry can be admitted (0 when allowed).
    retry_after: int = 0
    #: Requests still allowed in the current window after this one.
    remaining: int = 0


class RateLimiter:
    """``capacity`` requests per ``window`` seconds for each key.

    ``rate`` is anything :meth:`RateLimit.parse` takes (``"30/min"``, ``"2/s"``,
    ``1800/60``). The window is a minute, stretched when the rate is below one a
    minute or not a whole number a minute, so the capacity is a whole number of
    requests: ``"30/min"`` is 30 per 60 s, ``"2.5/min"`` is 2 per 48 s,
    ``"1/hour"`` is 1 per 3600 s.
    """

    def __init__(self, rate: RateLimit | float | str, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = RateLimit.parse(rate)
        per_minute = self.rate.per_minute
        self.capacity = max(1, math.floor(per_minute + 1e-9))
        self.window = 60.0 * self.capacity / per_minute
        self._clock = clock
        self._lock = threading.Lock()
        self._logs: dict[Hashable, deque[float]] = {}

    def hit(self, key: Hashable) -> Decision:
        """Count one request for ``key`` if the limit allows it, else say how long to wait."""
        with self._lock:
            now = self._clock()
            log = self._logs.get(key)
            if log is None:
                log = self._logs[key] = deque()
            horizon = now - self.window
            while log and log[0] <= horizon:
                log.popleft()
            if len(log) < self.capacity:
                log.append(now)
                return Decision(True, 0, self.capacity - len(log))
            wait = log[0] + self.window - now
            # Rounded up: a client that waits exactly Retry-After seconds is admitted.
            return Decision(False, max(1, math.ceil(wait - 1e-9)), 0)

    def forget(self, key: Hashable) -> None:
        """Drop a key's log (when the key is revoked)."""
        with self._lock:
            self._logs.pop(key, None)

    def __repr__(self) -> str:
        return f"RateLimiter({self.capacity} per {self.window:g} s per key)"


__all__ = ["Decision", "RateLimiter"]
