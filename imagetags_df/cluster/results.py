"""Results flowing back to the client, so its cache is whole however many hosts tagged.

Each worker stores a result in its own host's cache the moment it arrives. On
several hosts those caches hold different shares, so every tag task also hands
its fresh results to the scheduler (:class:`ResultsPlugin`), and a thread in the
client process (:class:`CacheFiller`) takes them and writes them into the
client's cache. A result is never more than a few hundred bytes; what the
client has not taken yet is dropped when the client disconnects.
"""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Any

from distributed.diagnostics.plugin import SchedulerPlugin

from ..infra.cache import Cache

log = logging.getLogger(__name__)

PLUGIN_NAME = "imagetags-results"
_PUT, _TAKE = "imagetags_results_put", "imagetags_results_take"
#: Results held for one client before the oldest are dropped (they stay in the workers' caches).
MAX_PENDING = 500_000
POLL_SECONDS = 0.5


class ResultsPlugin(SchedulerPlugin):
    """Holds results for clients to take; a target is named ``<client id>|<uuid>``."""

    name = PLUGIN_NAME
    idempotent = True

    def __init__(self) -> None:
        self._pending: dict[str, list[Any]] = {}

    async def start(self, scheduler: Any) -> None:
        scheduler.handlers[_PUT] = self.put
        scheduler.handlers[_TAKE] = self.take

    def put(self, target: str, items: list[Any]) -> int:
        box = self._pending.setdefault(target, [])
        box.extend(items)
        if len(box) > MAX_PENDING:
            del box[:len(box) - MAX_PENDING]
        return len(box)

    def take(self, target: str) -> list[Any]:
        return self._pending.pop(target, [])

    def remove_client(self, scheduler: Any, client: str) -> None:
        for target in [t for t in self._pending if t.split("|", 1)[0] == client]:
            del self._pending[target]


def send(target: str, items: list[Any], timeout: float = 10.0) -> None:
    """From a task: hand results to the scheduler for the client (best effort: they
    are already in this worker's cache)."""
    from distributed import get_worker
    from distributed.utils import sync

    worker = get_worker()
    try:
        sync(worker.loop, getattr(worker.scheduler, _PUT), target=target, items=items, callback_timeout=timeout)
    except Exception as exc:  # noqa: BLE001
        log.warning("results could not be handed to the client (%s); they stay in this worker's cache",
                    type(exc).__name__)


class CacheFiller:
    """A daemon thread writing the results the workers hand back into the client's cache."""

    def __init__(self, client: Any, cache_dir: str) -> None:
        self.client = client
        self.cache_dir = cache_dir
        self.target = f"{client.id}|{uuid.uuid4().hex}"
        self.stored = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="imagetags-cache-filler", daemon=True)
        self._thread.start()

    def drain(self) -> int:
        """Take what is waiting now and store it; returns how many results were stored."""
        with self._lock:
            items = self.client.sync(getattr(self.client.scheduler, _TAKE), target=self.target)
            if not items:
                return 0
            cache = Cache(self.cache_dir)
            try:
                for key, value in items:
                    cache.set_json(key, value)
            finally:
                cache.close()
            self.stored += len(items)
            return len(items)

    def _loop(self) -> None:
        failures = 0
        while not self._stop.wait(POLL_SECONDS):
            if self.client.status in ("closing", "closed"):
                return
            try:
                self.drain()
                failures = 0
            except Exception as exc:  # noqa: BLE001 - the client went away or the disk is full
                failures += 1
                if failures == 3:
                    log.warning("results could not be copied to the client's cache (%s)", type(exc).__name__)
                if self.client.status in ("closing", "closed"):
                    return

    def stop(self) -> None:
        self._stop.set()


_FILLERS: dict[tuple[str, str], CacheFiller] = {}
_FILLERS_LOCK = threading.Lock()


def filler(client: Any, cache_dir: str) -> CacheFiller:
    """The one filler for this client and cache directory (started on first use)."""
    client.register_plugin(ResultsPlugin(), name=PLUGIN_NAME)
    with _FILLERS_LOCK:
        key = (client.id, cache_dir)
        found = _FILLERS.get(key)
        if found is None or found.client.status in ("closing", "closed"):
            found = _FILLERS[key] = CacheFiller(client, cache_dir)
        return found


def collect(client: Any = None) -> int:
    """Copy the results waiting for this client into its cache now; returns how many.

    Results also arrive on their own every half second; call this after a
    compute to have every one before the process exits.
    """
    if client is None:
        from distributed import default_client

        client = default_client()
    with _FILLERS_LOCK:
        fillers = [f for (cid, _), f in _FILLERS.items() if cid == client.id]
    return sum(f.drain() for f in fillers)
