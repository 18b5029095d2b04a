"""One rate limit for a whole Dask cluster: the pacer's state kept in the scheduler.

A limiter per partition or per worker lets the limits add up, and the key drowns
in 429s. Here the :class:`~imagetags_df.ratelimit.Pacer` is the same as on one
host; only its *state home* differs. :class:`PacerPlugin` holds the named times in
the scheduler process and answers three handlers; :class:`SchedulerState` is the
home a worker's pacer talks to, through the worker's own connection pool to the
scheduler.

Why the scheduler and not an actor: an actor dies with its worker and a compute
waiting on it hangs, while the scheduler outlives every worker (if it dies, the
compute is gone anyway). Killing any worker therefore loses nothing.

Times on the scheduler are in the scheduler's clock. A worker converts them with
its estimate of the offset between the clocks, taken NTP-style from the quickest
round trip seen (the middle of a fast round trip is when the scheduler read its
clock). Converting "wait this long" answers instead would add each reply's
travel time to its slot, and a busy event loop makes that vary by tenths of a
second: enough to put one call too many into a short window.

If the scheduler cannot be reached, a worker does not burst: it goes on pacing
alone at ``interval x workers`` (its share of the key when every worker does the
same), continuing from the last slot it was handed, and tries the scheduler
again after a short back-off.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from distributed.diagnostics.plugin import SchedulerPlugin

log = logging.getLogger(__name__)

PLUGIN_NAME = "imagetags-pacer"
_CLAIM, _RAISE, _GET = "imagetags_pace_claim", "imagetags_pace_raise", "imagetags_pace_get"

#: Seconds a worker waits for the scheduler's answer before pacing alone.
RPC_TIMEOUT = 5.0
#: Seconds a worker paces alone after a failed call before asking the scheduler again.
RETRY_AFTER = 5.0


class PacerPlugin(SchedulerPlugin):
    """Named pacing times on the scheduler; handlers are atomic (the scheduler's loop runs one at a time).

    Registering it again is a no-op (``idempotent``), so every run may do it:

    >>> client.register_plugin(PacerPlugin())  # doctest: +SKIP
    """

    name = PLUGIN_NAME
    idempotent = True

    def __init__(self) -> None:
        self._times: dict[str, float] = {}
        self._scheduler: Any = None

    async def start(self, scheduler: Any) -> None:
        self.install(scheduler)

    def install(self, scheduler: Any) -> None:
        self._scheduler = scheduler
        scheduler.handlers[_CLAIM] = self.claim
        scheduler.handlers[_RAISE] = self.raise_to
        scheduler.handlers[_GET] = self.get

    def _workers(self) -> int:
        return max(1, len(self._scheduler.workers)) if self._scheduler is not None else 1

    def claim(self, key: str, interval: float, earliest: float = 0.0) -> dict[str, float]:
        """The next free time for ``key`` (not before ``earliest``); moves it ``interval`` on."""
        now = time.time()
        slot = max(now, float(earliest), self._times.get(key, 0.0))
        self._times[key] = slot + float(interval)
        return {"at": slot, "now": now, "workers": self._workers()}

    def raise_to(self, key: str, value: float) -> dict[str, float]:
        """Move ``key`` to at least ``value`` (a pause: never moves it back)."""
        self._times[key] = max(self._times.get(key, 0.0), float(value))
        return {"now": time.time(), "workers": self._workers()}

    def get(self, key: str) -> dict[str, float]:
        return {"at": self._times.get(key, 0.0), "now": time.time(), "workers": self._workers()}


class _Alone:
    """What one worker process knows when the scheduler does not answer: its own
    last slot and pause per key, shared by all its threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.times: dict[str, float] = {}
        self.workers = 1
        self.down_until = 0.0  # monotonic time before which we do not ask the scheduler again
        self.offset = 0.0  # scheduler clock minus ours
        self.best_rtt = float("inf")
        self.best_at = 0.0

    def observe(self, sent: float, received: float, remote_now: float) -> None:
        """Keep the offset from the quickest round trip; forget it after a minute (clocks drift)."""
        rtt = received - sent
        if rtt <= self.best_rtt or received - self.best_at > 60.0:
            self.offset = remote_now - (sent + received) / 2
            self.best_rtt, self.best_at = rtt, received


_ALONE: dict[str, _Alone] = {}
_ALONE_LOCK = threading.Lock()


def _alone(scheduler_address: str) -> _Alone:
    with _ALONE_LOCK:
        return _ALONE.setdefault(scheduler_address, _Alone())


class SchedulerState:
    """A :class:`~imagetags_df.ratelimit.PaceState` kept by :class:`PacerPlugin`.

    Build it in a task (it needs the worker running the task); call it from any
    thread but the worker's event loop. ``workers`` is how many worker processes
    to assume share the key until the scheduler has said.
    """

    blocking = True

    def __init__(self, worker: Any, *, workers: int = 1, timeout: float = RPC_TIMEOUT,
                 retry_after: float = RETRY_AFTER) -> None:
        self._worker = worker
        self._timeout = timeout
        self._retry_after = retry_after
        self._alone = _alone(str(worker.scheduler.address))
        with self._alone.lock:
            self._alone.workers = max(self._alone.workers, int(workers))

    def _call(self, op: str, **kwargs: Any) -> dict[str, float] | None:
        """The scheduler's answer, or None when it cannot be had right now."""
        from distributed.utils import sync

        alone = self._alone
        if time.monotonic() < alone.down_until:
            return None
        try:
            sent = time.time()
            reply = sync(self._worker.loop, getattr(self._worker.scheduler, op),
                         callback_timeout=self._timeout, **kwargs)
            received = time.time()
            if not isinstance(reply, dict):  # a scheduler without our handlers answers nothing useful
                raise RuntimeError(f"no pacer on the scheduler (answer {type(reply).__name__})")
        except Exception as exc:  # noqa: BLE001 - any failure means: pace alone for a while
            with alone.lock:
                first = alone.down_until == 0.0 or time.monotonic() >= alone.down_until
                alone.down_until = time.monotonic() + self._retry_after
            if first:
                log.warning("the scheduler's pacer did not answer (%s); pacing this worker alone at "
                            "1/%d of the limit", type(exc).__name__, alone.workers)
            return None
        with alone.lock:
            alone.workers = max(1, int(reply.get("workers", 1)))
            alone.down_until = 0.0
            alone.observe(sent, received, float(reply["now"]))
        return reply

    def claim(self, key: str, now: float, interval: float) -> float:
        alone = self._alone
        # A free schedule hands out "now", which reaches us a reply later while slots taken
        # ahead are slept to exactly: ask for a time we can still keep, so the first call
        # after an idle spell is not late relative to the ones behind it.
        lead = alone.best_rtt if alone.best_rtt != float("inf") else 0.0
        reply = self._call(_CLAIM, key=key, interval=interval, earliest=now + alone.offset + lead)
        with alone.lock:
            if reply is not None:
                slot = float(reply["at"]) - alone.offset
                alone.times[key] = max(alone.times.get(key, 0.0), slot + interval * alone.workers)
                return slot
            slot = max(now, alone.times.get(key, 0.0))
            alone.times[key] = slot + interval * alone.workers
            return slot

    def warm(self) -> None:
        """One round trip now: opens the connection and measures the clocks before any slot."""
        self._call(_GET, key="warm")

    def raise_to(self, key: str, value: float, now: float) -> None:
        self._call(_RAISE, key=key, value=value + self._alone.offset)
        with self._alone.lock:  # also kept here, in case the scheduler stops answering
            self._alone.times[key] = max(self._alone.times.get(key, 0.0), value)

    def get(self, key: str, now: float) -> float:
        reply = self._call(_GET, key=key)
        with self._alone.lock:
            mine = self._alone.times.get(key, 0.0)
            if reply is None:
                return mine
            return max(mine, float(reply["at"]) - self._alone.offset)

    def __repr__(self) -> str:
        return f"SchedulerState({self._worker.scheduler.address})"


def ensure_plugin(client: Any) -> None:
    """Register :class:`PacerPlugin` on the client's scheduler (a no-op when it is there)."""
    client.register_plugin(PacerPlugin(), name=PLUGIN_NAME)
