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
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable

import diskcache

from . import _constants as C
from ._types import RateLimit
from .cache import CACHE_FAULTS

log = logging.getLogger(__name__)


class _MemoryState:
    """Process-local stand-in for the diskcache state when caching is disabled."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._data: dict[str, float] = {}

    def update(self, key: str, fn: Callable[[float], tuple[float, float]]) -> float:
        with self._lock:
            new, ret = fn(self._data.get(key, 0.0))
            self._data[key] = new
            return ret

    def get(self, key: str) -> float:
        with self._lock:
            return self._data.get(key, 0.0)

    def seed(self, key: str, value: float) -> None:
        with self._lock:
            self._data[key] = max(self._data.get(key, 0.0), value)


class _DiskState:
    def __init__(self, store: diskcache.Cache) -> None:
        self._store = store

    def update(self, key: str, fn: Callable[[float], tuple[float, float]]) -> float:
        with self._store.transact():  # one SQLite write transaction: atomic across processes
            new, ret = fn(float(self._store.get(key, 0.0)))
            self._store.set(key, new)
            return ret

    def get(self, key: str) -> float:
        return float(self._store.get(key, 0.0))


_PROCESS_STATE = _MemoryState()


class Pacer:
    """Evenly spaced send times at ``rate`` for one bucket (one API key).

    ``clock`` and ``sleep`` are injectable so tests can drive it without waiting.
    """

    def __init__(self, rate: RateLimit, bucket: str, store: diskcache.Cache | None = None, *,
                 safety: float = C.RATE_LIMIT_SAFETY, clock: Callable[[], float] = time.time,
                 on_fault: Callable[[BaseException], None] | None = None) -> None:
        self.rate = rate
        self.interval = rate.interval * (1.0 + safety)
        self._next_key = f"pace|{bucket}|next"
        self._pause_key = f"pace|{bucket}|paused_until"
        self._state: _DiskState | _MemoryState = _DiskState(store) if store is not None else _PROCESS_STATE
        self._clock = clock
        self._on_fault = on_fault
        self._known: dict[str, float] = {}  # last values seen, to carry over into memory

    def _update(self, key: str, fn: Callable[[float], tuple[float, float]]) -> float:
        def tracked(cur: float) -> tuple[float, float]:
            new, ret = fn(cur)
            self._known[key] = new
            return new, ret

        try:
            return self._state.update(key, tracked)
        except CACHE_FAULTS as exc:
            self._to_memory(exc)
            return self._state.update(key, fn)

    def _get(self, key: str) -> float:
        try:
            return self._state.get(key)
        except CACHE_FAULTS as exc:
            self._to_memory(exc)
            return self._state.get(key)

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

    def reserve(self) -> float:
        """Claim the next send slot; returns the wall-clock time to send at."""
        now = self._clock()

        def claim(nxt: float) -> tuple[float, float]:
            slot = max(now, nxt)
            return slot + self.interval, slot

        return self._update(self._next_key, claim)

    def paused_until(self) -> float:
        return self._get(self._pause_key)

    def pause(self, seconds: float) -> None:
        """Hold every caller (in every process) for ``seconds`` from now."""
        until = self._clock() + max(0.0, seconds)
        self._update(self._pause_key, lambda cur: (max(cur, until), 0.0))
        # Slots already handed out after ``until`` stay valid; the next one starts after the pause.
        self._update(self._next_key, lambda nxt: (max(nxt, until), 0.0))

    async def acquire(self) -> None:
        """Wait for a slot of our own; re-queue if a pause started while we waited."""
        while True:
            slot = await asyncio.to_thread(self.reserve) if self._is_disk else self.reserve()
            delay = slot - self._clock()
            if delay > 0:
                await asyncio.sleep(delay)
            if self.paused_until() <= self._clock():
                return

    @property
    def _is_disk(self) -> bool:
        return isinstance(self._state, _DiskState)

    def __repr__(self) -> str:
        return f"Pacer({self.rate}, interval={self.interval:.3f}s)"
