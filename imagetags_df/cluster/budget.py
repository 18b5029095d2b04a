"""One credit budget for a whole Dask cluster: ``max_credits`` and the 2002 stop, kept in the scheduler.

A budget per partition would let the partitions' budgets add up, and a 2002 on
one worker would leave every other worker sending into an empty account. So, as
with the pacer (:mod:`~imagetags_df.cluster.pacer`), the state lives in the
scheduler: :class:`BudgetPlugin` holds one account per run and answers two
handlers, and :class:`SchedulerBudget` is what a worker's
:class:`~imagetags_df.run.Run` asks, through the worker's own connection pool
to the scheduler.

Before each call a worker *reserves* what the call is expected to cost, and
after it *settles*: the reservation is released and what the call really cost is
added to the spent total. The check is the pandas path's: spent + reserved +
this call must stay within ``max_credits``. A call that got 2002 settles with
``halt``, and every later reservation, on any worker, is refused.

Never overspend: if the scheduler does not answer a reservation, the call is not
sent. A settle that does not arrive leaves its reservation held, which counts
as spent. So does the reservation of a worker that died mid-call (the call may
have been paid): a run that loses a worker may stop a few credits short of its
budget, never past it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from distributed.diagnostics.plugin import SchedulerPlugin

log = logging.getLogger(__name__)

PLUGIN_NAME = "imagetags-budget"
_RESERVE, _SETTLE = "imagetags_budget_reserve", "imagetags_budget_settle"

#: Seconds a worker waits for the scheduler's answer before giving up on a call.
RPC_TIMEOUT = 10.0


@dataclass
class _Account:
    limit: float | None
    spent: float = 0.0
    reserved: float = 0.0
    halted: bool = False


class BudgetPlugin(SchedulerPlugin):
    """Credit accounts per run on the scheduler; handlers are atomic (the scheduler's loop runs one at a time).

    A run is named ``<client id>|<uuid>``; its account is dropped when that client leaves.
    Registering the plugin again is a no-op (``idempotent``):

    >>> client.register_plugin(BudgetPlugin())  # doctest: +SKIP
    """

    name = PLUGIN_NAME
    idempotent = True

    def __init__(self) -> None:
        self._runs: dict[str, _Account] = {}

    async def start(self, scheduler: Any) -> None:
        self.install(scheduler)

    def install(self, scheduler: Any) -> None:
        scheduler.handlers[_RESERVE] = self.reserve
        scheduler.handlers[_SETTLE] = self.settle

    def reserve(self, run: str, need: float, limit: float | None = None) -> dict[str, Any]:
        """Hold ``need`` credits for a call if the budget allows it; ``ok`` says whether it does."""
        acc = self._runs.setdefault(run, _Account(None if limit is None else float(limit)))
        ok = not acc.halted and (acc.limit is None or acc.spent + acc.reserved + float(need) <= acc.limit + 1e-9)
        answer = {"ok": ok, "spent": acc.spent, "reserved": acc.reserved, "halted": acc.halted}
        if ok:
            acc.reserved += float(need)
        return answer

    def settle(self, run: str, held: float, used: float, halt: bool = False) -> dict[str, Any]:
        """Release a call's reservation and count what it cost; ``halt`` after a 2002."""
        acc = self._runs.setdefault(run, _Account(None))
        acc.reserved = max(0.0, acc.reserved - float(held))
        acc.spent += float(used)
        acc.halted = acc.halted or bool(halt)
        return {"spent": acc.spent, "reserved": acc.reserved, "halted": acc.halted}

    def remove_client(self, scheduler: Any, client: str) -> None:
        for run in [r for r in self._runs if r.split("|", 1)[0] == client]:
            del self._runs[run]


class SchedulerBudget:
    """The :class:`~imagetags_df.run.SharedBudget` a worker's run asks, kept by :class:`BudgetPlugin`.

    Build it in a task (it needs the worker running the task); call it from any
    thread but the worker's event loop.
    """

    def __init__(self, worker: Any, run: str, limit: float | None, *, timeout: float = RPC_TIMEOUT) -> None:
        self._worker = worker
        self.run = run
        self.limit = limit
        self._timeout = timeout

    def _call(self, op: str, **kwargs: Any) -> dict[str, Any] | None:
        from distributed.utils import sync

        try:
            reply = sync(self._worker.loop, getattr(self._worker.scheduler, op), callback_timeout=self._timeout,
                         run=self.run, **kwargs)
            if not isinstance(reply, dict):  # a scheduler without our handlers answers nothing useful
                raise RuntimeError(f"no budget keeper on the scheduler (answer {type(reply).__name__})")
            return reply
        except Exception as exc:  # noqa: BLE001 - the caller decides what no answer means
            log.warning("the scheduler's credit budget did not answer (%s: %s)", type(exc).__name__, exc)
            return None

    def reserve(self, need: float) -> dict[str, Any] | None:
        """``{"ok", "spent", "reserved", "halted"}``, or None when the scheduler cannot be reached."""
        return self._call(_RESERVE, need=need, limit=self.limit)

    def settle(self, held: float, used: float, halt: bool) -> None:
        self._call(_SETTLE, held=held, used=used, halt=halt)

    def __repr__(self) -> str:
        return f"SchedulerBudget({self.run}, limit={self.limit})"


def ensure_plugin(client: Any) -> None:
    """Register :class:`BudgetPlugin` on the client's scheduler (a no-op when it is there)."""
    client.register_plugin(BudgetPlugin(), name=PLUGIN_NAME)
