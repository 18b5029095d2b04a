"""Pacing requests to a per-key limit, shared by every process using one cache.

A sliding-window server (30 per any 60 s) refuses the 31st request however the
first 30 were spread, so bursting and then waiting gains nothing on a long run
and risks 1004s. We therefore *space* requests evenly (GCRA with no burst): each
caller reserves the next free send time, ``interval`` after the previous one.

The "next free time" lives in the diskcache directory under a key derived from
the API key, inside a SQLite transaction, so a second notebook or process with
the same key continues the same schedule instead of starting its own burst.
A 1004/429 moves every caller's schedule: :meth:`Pacer.pause` pushes the shared
time forward and callers already holding an earlier slot re-check it.

A cache directory that cannot be written (full disk, read-only, damaged file)
moves the schedule into this process's memory for the rest of the run: pacing
goes on, only no longer shared with other processes.

Where the state lives is the only difference between the single-process, the
cross-process and the cluster-wide pacer: a *state home* offers three atomic
operations on named times (``claim``, ``raise_to``, ``get``). This module has the
in-memory and the cache-directory homes; :mod:`imagetags_df.cluster.pacer` keeps
the same state in a Dask scheduler.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

import diskcache

from .. import _constants as C
from .._types import RateLimit
from .cache import CACHE_FAULTS
from .retry import announce_wait, wait_too_long

log = logging.getLogger(__name__)


class PaceState(Protocol):
    """Where a pacer's times live. Every operation is atomic for all its callers.

    Times are the caller's wall clock; ``now`` is passed so a home whose clock
    differs (another host) can translate.
    """

    #: True when an operation may block on I/O (the pacer then calls it from a thread).
    blocking: bool

    def claim(self, key: str, now: float, interval: float) -> float:
        """Take the next free time at or after ``now`` and move it ``interval`` later."""
        ...

    def raise_to(self, key: str, value: float, now: float) -> None:
        """Move a time forward to ``value`` (never back)."""
        ...

    def get(self, key: str, now: float) -> float:
        ...


class _Updating:
    """``claim`` and ``raise_to`` for homes that can run a read-modify-write atomically."""

    def update(self, key: str, fn: Callable[[float], tuple[float, float]]) -> float:
        raise NotImplementedError

    def claim(self, key: str, now: float, interval: float) -> float:
        def take(nxt: float) -> tuple[float, float]:
            slot = max(now, nxt)
            return slot + interval, slot
        return self.update(key, take)

    def raise_to(self, key: str, value: float, now: float = 0.0) -> None:
        self.update(key, lambda cur: (max(cur, value), 0.0))


class _MemoryState(_Updating):
    """Process-local stand-in for the diskcache state when caching is disabled."""

    blocking = False

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._data: dict[str, float] = {}

    def update(self, key: str, fn: Callable[[float], tuple[float, float]]) -> float:
        with self._lock:
            new, ret = fn(self._data.get(key, 0.0))
            self._data[key] = new
            return ret

    def get(self, key: str, now: float = 0.0) -> float:
        with self._lock:
            return self._data.get(key, 0.0)

    def seed(self, key: str, value: float) -> None:
        with self._lock:
            self._data[key] = max(self._data.get(key, 0.0), value)


class _DiskState(_Updating):
    blocking = True

    def __init__(self, store: diskcache.Cache) -> None:
        self._store = store

    def update(self, key: str, fn: Callable[[float], tuple[float, float]]) -> float:
        with self._store.transact():  # one SQLite write transaction: atomic across processes
            new, ret = fn(float(self._store.get(key, 0.0)))
            self._store.set(key, new)
            return ret

    def get(self, key: str, now: float = 0.0) -> float:
        return float(self._store.get(key, 0.0))


_PROCESS_STATE = _MemoryState()


class Pacer:
    """Evenly spaced send times at ``rate`` for one bucket (one API key).

    The state lives in ``state`` if given, else in ``store`` (a cache directory,
    shared by processes), else in this process. ``clock`` is injectable so tests
    can drive it without waiting.
    """

    def __init__(self, rate: RateLimit, bucket: str, store: diskcache.Cache | None = None, *,
                 state: PaceState | None = None, safety: float = C.RATE_LIMIT_SAFETY,
                 clock: Callable[[], float] = time.time,
                 on_fault: Callable[[BaseException], None] | None = None) -> None:
        self.rate = rate
        self._safety = safety
        self.interval = rate.interval * (1.0 + safety)
        self._next_key = f"pace|{bucket}|next"
        self._pause_key = f"pace|{bucket}|paused_until"
        self._state: PaceState = state if state is not None else (
            _DiskState(store) if store is not None else _PROCESS_STATE)
        self._clock = clock
        self._on_fault = on_fault
        self._known: dict[str, float] = {}  # last values seen, to carry over into memory

    def _claim(self, key: str, now: float) -> float:
        try:
            slot = self._state.claim(key, now, self.interval)
        except CACHE_FAULTS as exc:
            self._to_memory(exc)
            return self._state.claim(key, now, self.interval)
        self._known[key] = max(self._known.get(key, 0.0), slot + self.interval)
        return slot

    def _raise(self, key: str, value: float, now: float) -> None:
        try:
            self._state.raise_to(key, value, now)
        except CACHE_FAULTS as exc:
            self._to_memory(exc)
            self._state.raise_to(key, value, now)
        self._known[key] = max(self._known.get(key, 0.0), value)

    def _get(self, key: str) -> float:
        try:
            return self._state.get(key, self._clock())
        except CACHE_FAULTS as exc:
            self._to_memory(exc)
            return self._state.get(key, self._clock())

    def _to_memory(self, exc: BaseException) -> None:
        if self._state is _PROCESS_STATE:
            raise exc
        # Slots already handed out stay taken: the memory schedule starts after them.
        for key, value in self._known.items():
            _PROCESS_STATE.seed(key, value)
        self._state = _PROCESS_STATE
        if self._on_fault is not None:
            self._on_fault(exc)  # the cache owner warns, once for the whole run
        else:
            log.warning("the pacing schedule could not be kept in the cache directory (%s: %s); "
                        "pacing goes on for this process only", type(exc).__name__, exc)

    def adopt(self, rate: RateLimit) -> None:
        """Pace at ``rate`` from the next slot on: the limit a server announces for itself."""
        self.rate = rate
        self.interval = rate.interval * (1.0 + self._safety)

    def reserve(self) -> float:
        """Claim the next send slot; returns the wall-clock time to send at."""
        return self._claim(self._next_key, self._clock())

    def paused_until(self) -> float:
        return self._get(self._pause_key)

    def pause(self, seconds: float) -> None:
        """Hold every caller (in every process) for ``seconds`` from now, at most MAX_PAUSE:
        the pause is kept in the cache directory, where a longer one would hold later runs too."""
        now = self._clock()
        until = now + min(C.MAX_PAUSE, max(0.0, seconds))
        self._raise(self._pause_key, until, now)
        # Slots already handed out after ``until`` stay valid; the next one starts after the pause.
        self._raise(self._next_key, until, now)

    async def acquire(self) -> None:
        """Wait for a slot of our own; re-queue if a pause started while we waited.

        A pause longer than a few seconds is announced (what for, until when); one longer
        than MAX_PAUSE (kept from an older version, or a clock moved back) stops the run
        with RateLimitError instead of holding it silently.
        """
        while True:
            blocking = self._state.blocking
            paused = await asyncio.to_thread(self.paused_until) if blocking else self.paused_until()
            left = paused - self._clock()
            if left > C.MAX_PAUSE + 1.0:
                raise wait_too_long(left, "a pause its answers asked for, kept in the cache directory")
            announce_wait(left, "the server's rate limit (a pause its answers asked for)", clock=self._clock)
            slot = await asyncio.to_thread(self.reserve) if blocking else self.reserve()
            delay = slot - self._clock()
            if delay > 0:
                await asyncio.sleep(delay)
            paused = await asyncio.to_thread(self.paused_until) if blocking else self.paused_until()
            if paused <= self._clock():
                return

    def __repr__(self) -> str:
        return f"Pacer({self.rate}, interval={self.interval:.3f}s)"
