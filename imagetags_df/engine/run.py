"""The tag phase: prepare, pace, send, retry, store; in an event loop on a worker thread.

Unique uncached images are prepared a few at a time (never all in memory),
paced to the backend's rate limit, sent concurrently, retried when transient,
and each result is stored in the cache the moment it arrives, so an interrupt
or a crash loses only the calls in flight.

Each image is claimed in the cache before it is sent. An image another process
sharing the cache directory has claimed is not sent: this run waits for that
process's answer, and sends it itself only if the claim is given up or lapses.

The loop always runs on its own thread, so the engine behaves the same in a
script and in Jupyter (where a loop is already running), and Ctrl-C in the
caller's thread cancels the run cleanly.
"""

from __future__ import annotations

import asyncio
import math
import os
import secrets
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any, Protocol, TypeVar

from .. import _constants as C
from .. import images as _images
from .._exceptions import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    BudgetExceededError,
    ImageError,
    ImageTagsError,
    InsufficientCreditsError,
    RateLimitError,
    ServerUnreachableError,
)
from .._types import PreparedImage, RateLimit, TagResult
from ..infra.cache import claim_key, result_key
from ..infra.ratelimit import Pacer
from ..infra.retry import ROW_PATIENCE, Patience, announce_wait, retry_delay, should_retry, wait_too_long
from .scan import Job
from .settings import RunSettings

T = TypeVar("T")


class Progress:
    """tqdm.auto bar counting rows: done, cached, failed, credits left."""

    def __init__(self, total: int, enabled: bool, backend: str) -> None:
        self.ok = self.cached = self.failed = 0
        self.credits_left: float | None = None
        self._bar = None
        if enabled and total:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc=f"imagetags ({backend})", unit="img")

    def add(self, *, ok: int = 0, cached: int = 0, failed: int = 0, credits_left: float | None = None) -> None:
        self.ok += ok
        self.cached += cached
        self.failed += failed
        if credits_left is not None:
            self.credits_left = credits_left
        if self._bar is not None:
            self._bar.update(ok + cached + failed)
            # Text, not numbers: tqdm writes a number as {:g}, and 50000 rows as "5e+04".
            post: dict[str, object] = {"ok": str(self.ok), "cached": str(self.cached), "failed": str(self.failed)}
            if self.credits_left is not None:
                left = self.credits_left
                post["credits_left"] = f"{left:.0f}" if float(left).is_integer() else f"{left:.2f}"
            self._bar.set_postfix(post, refresh=False)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


class SharedBudget(Protocol):
    """Credits shared with other processes running the same job (a Dask cluster's scheduler keeps them).

    Its methods block; the run calls them from a thread.
    """

    def reserve(self, need: float) -> dict[str, Any] | None:
        """Hold ``need`` credits for a call: ``{"ok", "spent", "reserved", "halted"}``, or None when
        the keeper cannot be reached."""

    def settle(self, held: float, used: float, halt: bool) -> None:
        """Release a call's reservation, count what it cost, and with ``halt`` stop every sender (2002)."""


def over_budget(limit: float, spent: float, reserved: float) -> BudgetExceededError:
    """Why a call was not sent: the same words on one host and on a cluster."""
    return BudgetExceededError(f"not sent: max_credits={limit:g} would be exceeded "
                               f"({spent:g} spent, {reserved:g} in flight)")


class Run:
    """State of the tag phase; lives inside the event loop's thread."""

    def __init__(self, settings: RunSettings, jobs: list[Job], progress: Progress) -> None:
        self.s = settings
        self.jobs = jobs
        self.progress = progress
        self.outcome: dict[str, TagResult | ImageTagsError] = {}
        self.stop: ImageTagsError | None = None  # stop sending (2002 / budget); not an exception to raise
        self.fatal: BaseException | None = None  # stop everything and raise
        self.spent = 0.0
        self.reserved = 0.0
        self.tokens_used = 0  # input + output tokens reported by calls of this run
        self.token_calls = 0
        self.largest_call = 0  # the most tokens one call (with its re-ask) has cost so far
        self.settled = asyncio.Event()  # set each time a call finishes
        self.in_flight = 0  # calls started and not finished (their tokens are not known yet)
        self.interrupted = False  # Ctrl-C: calls in flight finish, nothing is sent or retried
        # Files with different bytes can convert to the same upload (a BMP and a TIFF of one
        # picture): the first job sending those bytes leads, later ones follow its outcome.
        self.sent_by: dict[str, Job] = {}  # digest of the bytes sent -> the job sending them
        self.sent_of: dict[str, str] = {}  # job digest -> digest of the bytes it sends
        self.followers: dict[str, list[Job]] = {}  # leader's digest -> jobs awaiting its outcome
        #: Jobs answered without a call of their own: digest -> True when from the cache.
        self.shared: dict[str, bool] = {}
        self.unreachable = 0  # connections failed in a row since the server last answered
        self.last_answer: float | None = None  # monotonic time of the server's last answer
        be = settings.backend
        rate = settings.rate_limit
        if rate is None and be.reads_limit_headers:
            # No pace of our own, but a pacer to carry the pauses the server announces to every worker.
            rate = RateLimit(math.inf)
        self.pacer = (Pacer(rate, be.limiter_id() or be.cache_identity(), settings.cache.store,
                            on_fault=settings.cache.pacing_fault)
                      if rate is not None else None)
        if self.pacer is not None:
            be.attach_pacer(self.pacer)
        self.key_prefix = (be.cache_identity(), settings.lang)
        #: Credits shared with other processes (on Dask); asked after the run's own budget.
        self.shared_budget: SharedBudget | None = None
        #: Who this run is in the cache's claims, and the claims it holds now.
        self.owner = f"{os.getpid()}-{secrets.token_hex(6)}"
        self.held: set[str] = set()

    # A job finished for good (result or final error).
    def _finish(self, job: Job, outcome: TagResult | ImageTagsError) -> None:
        self.outcome[job.digest] = outcome
        for follower in self.followers.pop(job.digest, []):
            self._share(follower, outcome, cached=False)
        if isinstance(outcome, TagResult):
            self.s.cache.set_result(result_key(*self.key_prefix, job.digest), outcome)
            sent = self.sent_of.get(job.digest, job.digest)
            if sent != job.digest:  # another file converting to these bytes is answered from the cache
                self.s.cache.set_result(result_key(*self.key_prefix, sent), outcome)
            self._unclaim([job.digest])  # stored: a process waiting on this image reads it now
            self.spent += outcome.credits_used
            self.progress.add(ok=len(job.rows), credits_left=outcome.credits_remaining)
            return
        self._unclaim([job.digest])  # failed for good: a process waiting on it may try it itself
        self.progress.add(failed=len(job.rows))
        if isinstance(outcome, AuthenticationError) or outcome.stops_run:
            self.fatal = outcome
        elif isinstance(outcome, InsufficientCreditsError) and self.stop is None:
            self.stop = outcome
        elif self.s.on_error == "raise" and self.fatal is None:
            self.fatal = outcome

    def _share(self, job: Job, outcome: TagResult | ImageTagsError, *, cached: bool) -> None:
        """A job answered by another's call (or a cached answer for the same upload)."""
        self.outcome[job.digest] = outcome
        if isinstance(outcome, TagResult):
            self.shared[job.digest] = cached
            self.s.cache.set_result(result_key(*self.key_prefix, job.digest), outcome)
            self.progress.add(ok=0 if cached else len(job.rows), cached=len(job.rows) if cached else 0)
        else:
            self.progress.add(failed=len(job.rows))
        self._unclaim([job.digest])

    # Claims: one process pays for an image, others sharing the cache wait for its answer.
    def _claim(self, job: Job) -> bool | None:
        """True: this run sends ``job``. False: another process holds its claim.
        None: answered meanwhile (another process stored it between the scan and now)."""
        key = claim_key(*self.key_prefix, job.digest)
        if not self.s.cache.claim(key, self.owner, self.s.claim_lease):
            return False
        self.held.add(key)
        if self.s.cache.store is not None:
            hit = self.s.cache.get_results([result_key(*self.key_prefix, job.digest)])
            if hit:
                self._share(job, next(iter(hit.values())), cached=True)
                return None
        return True

    async def _send_unless_held(self, job: Job, queue: asyncio.Queue, validate: bool) -> bool:
        """Claim ``job`` and send it; True when another process holds it (its answer is awaited)."""
        mine = self._claim(job)
        if mine:
            await self._produce(job, queue, validate)
        return mine is False

    def _unclaim(self, digests: list[str]) -> None:
        keys = [k for k in (claim_key(*self.key_prefix, d) for d in digests) if k in self.held]
        if keys:
            self.held.difference_update(keys)
            self.s.cache.release(keys, self.owner)

    async def _renew_claims(self) -> None:
        """Keep this run's claims alive while it works (a killed process stops renewing)."""
        while True:
            await asyncio.sleep(self.s.claim_lease / 3)
            if self.held:
                await asyncio.to_thread(self.s.cache.renew, sorted(self.held), self.owner, self.s.claim_lease)

    async def _answered_elsewhere(self, waiting: list[Job], queue: asyncio.Queue, validate: bool) -> list[Job]:
        """One look at images other processes claimed: take their answers, send those whose
        claim was given up or lapsed; the rest still wait."""
        hits = self.s.cache.get_results([result_key(*self.key_prefix, job.digest) for job in waiting])
        # One read finds the claims still held, so only free ones are tried (a write each).
        held = self.s.cache.holders([claim_key(*self.key_prefix, job.digest) for job in waiting])
        still: list[Job] = []
        for job in waiting:
            hit = hits.get(result_key(*self.key_prefix, job.digest))
            if hit is not None:
                self._share(job, hit, cached=True)
                continue
            if claim_key(*self.key_prefix, job.digest) in held:
                still.append(job)
                continue
            if await self._send_unless_held(job, queue, validate):
                still.append(job)
        return still

    def _same_upload(self, job: Job, sent: str) -> bool:
        """True when ``job`` needs no call: the same bytes are sent, or were answered, already."""
        self.sent_of[job.digest] = sent
        leader = self.sent_by.get(sent)
        if leader is not None and leader is not job:
            if leader.digest in self.outcome:
                self._share(job, self.outcome[leader.digest], cached=False)
            else:
                self.followers.setdefault(leader.digest, []).append(job)
            return True
        if sent != job.digest:
            hit = self.s.cache.get_results([result_key(*self.key_prefix, sent)])
            if hit:
                self._share(job, next(iter(hit.values())), cached=True)
                return True
        self.sent_by[sent] = job
        return False

    def _note_connection(self, res: object) -> None:
        """Stop a run against a server that is not there, instead of retrying each row.

        Only connections that could not be made count: a dropped or timed-out call
        reached a server, and any answer (an API error included) resets the count.
        """
        if isinstance(res, APIConnectionError):
            if not res.connect_failed:
                return
            self.unreachable += 1
            silent = self.last_answer is None or time.monotonic() - self.last_answer >= C.DEAD_SERVER_SECONDS
            if self.unreachable >= C.DEAD_SERVER_FAILURES and silent and self.fatal is None:
                where = getattr(self.s.backend, "base_url", None) or f"the {self.s.backend.name} backend"
                self.fatal = ServerUnreachableError(
                    f"cannot reach {where}: {self.unreachable} connections failed in a row"
                    f"{'' if self.last_answer is None else ' since its last answer'} ({res.message}). "
                    "Is the server running, and is the URL right? Rows finished so far are cached; "
                    "run again once it is up.")
            return
        if isinstance(res, (TagResult, APIError)):  # the server answered
            self.unreachable = 0
            self.last_answer = time.monotonic()

    async def _prepared(self, queue: asyncio.Queue) -> None:
        """Producer: prepare images a few ahead of the senders (bounded memory)."""
        validate = not self.s.backend.decodes_images
        waiting: list[Job] = []  # claimed by another process: its answer is awaited
        looked = time.monotonic()
        for job in self.jobs:
            if self.stop is not None or self.fatal is not None:
                break
            if await self._send_unless_held(job, queue, validate):
                waiting.append(job)
            if waiting and time.monotonic() - looked >= C.CLAIM_POLL_SECONDS:
                waiting = await self._answered_elsewhere(waiting, queue, validate)
                looked = time.monotonic()
        while waiting and self.stop is None and self.fatal is None:
            await asyncio.sleep(C.CLAIM_POLL_SECONDS)
            waiting = await self._answered_elsewhere(waiting, queue, validate)
        await queue.put(None)

    async def _produce(self, job: Job, queue: asyncio.Queue, validate: bool) -> None:
        sent = job.digest
        try:
            img: PreparedImage | ImageTagsError
            img, sent = await asyncio.to_thread(_prepare_and_digest, job, validate, self.s.max_file_bytes)
        except ImageTagsError as exc:
            img = exc
        await queue.put((job, img, sent))

    def _cost(self, n: int) -> float:
        """Credits to hold for n calls while they are in flight (0 when no budget is set)."""
        be = self.s.backend
        return n * be.credits_per_call if (self.s.max_credits is not None and be.costs_credits) else 0.0

    def _budget_allows(self, batch: list[tuple[Job, PreparedImage]]) -> bool:
        """Reserve a batch's calls against the budgets, or set ``stop`` and say no."""
        n = len(batch)
        if not self._tokens_allow(batch):
            return False
        if self.s.max_credits is not None and self.s.backend.costs_credits:
            need = self._cost(n)
            if self.spent + self.reserved + need > self.s.max_credits + 1e-9:
                self.stop = over_budget(self.s.max_credits, self.spent, self.reserved)
                return False
            self.reserved += need
        self.in_flight += n
        return True

    def _count_tokens(self, res: object) -> None:
        """Add what a call cost to the run's tokens, whether it succeeded or not: a failed
        answer (unusable, refused, cut off) was generated, and is billed, all the same."""
        used = (getattr(res, "input_tokens", None) or 0) + (getattr(res, "output_tokens", None) or 0)
        if used > 0:
            self.tokens_used += used
            self.token_calls += 1
            self.largest_call = max(self.largest_call, used)

    def _per_call(self, batch: list[tuple[Job, PreparedImage]]) -> float:
        """Tokens to expect of one call: the most any call of this run has cost (not the average:
        one dear image must not be followed by a wave of them), or the backend's own estimate
        before any call has said."""
        if self.token_calls:
            return float(self.largest_call)
        guess = self.s.backend.expected_tokens([img for _, img in batch]) or 0
        return guess / max(1, len(batch))

    def _tokens_allow(self, batch: list[tuple[Job, PreparedImage]], *, resend: bool = False) -> bool:
        """Would this batch, and the calls in flight, stay within max_tokens_budget? Each call in
        flight is held at :meth:`_per_call`. ``resend``: the batch is already counted in flight."""
        budget = self.s.max_tokens_budget
        if budget is None:
            return True
        n = 0 if resend else len(batch)
        per_call = self._per_call(batch)
        if self.tokens_used + (self.in_flight + n) * per_call > budget:
            self.stop = self.stop or BudgetExceededError(
                f"not sent: max_tokens_budget={budget} would be exceeded ({self.tokens_used} tokens used, "
                f"~{per_call:.0f} per image, {self.in_flight} in flight)")
            return False
        return True

    async def _first_cost_known(self) -> None:
        """With a token budget, send one call alone until a call has reported what it costs:
        a first wave sent on a guess can cost many times the guess before anyone knows."""
        while (self.s.max_tokens_budget is not None and self.token_calls == 0 and self.in_flight > 0
               and self.fatal is None and self.stop is None):
            self.settled.clear()
            await self.settled.wait()

    def _release(self, n: int) -> None:
        self.reserved -= self._cost(n)
        self.in_flight -= n
        self.settled.set()

    async def _shared_allows(self, shared: SharedBudget, n: int) -> bool:
        """Reserve n calls in the budget shared with other processes, or set ``stop`` and say no.

        Asked once the pacer has handed out the slot, right before sending, so a 2002 seen
        by another process stops this one at its very next call.
        """
        answer = await asyncio.to_thread(shared.reserve, self._cost(n))
        limit = self.s.max_credits if self.s.backend.costs_credits else None
        if answer is None:
            if limit is None:  # nothing to overspend: only the 2002 stop is shared, and it can wait
                return True
            self.stop = BudgetExceededError(
                f"not sent: max_credits={limit:g} could not be checked: the budget shared by every "
                "worker (kept by the Dask scheduler) did not answer; finished rows are cached")
            return False
        if answer.get("halted"):
            self.stop = InsufficientCreditsError("not sent: another worker's call was refused for lack of "
                                                 "credits (2002)", code=C.CODE_NO_CREDITS)
            return False
        if not answer.get("ok"):
            self.stop = over_budget(limit if limit is not None else 0.0, float(answer.get("spent", 0.0)),
                                    float(answer.get("reserved", 0.0)))
            return False
        return True

    async def _shared_settle(self, shared: SharedBudget, n: int, used: float) -> None:
        halt = isinstance(self.stop, InsufficientCreditsError)
        held = self._cost(n)
        if held or used or halt:
            await asyncio.to_thread(shared.settle, held, used, halt)

    async def _attempt(self, batch: list[tuple[Job, PreparedImage]], sem: asyncio.Semaphore) -> None:
        be = self.s.backend
        used = 0.0  # credits these calls cost, for the shared budget
        # One rate-limit patience for these rows across all their attempts; a backend that
        # waits out a 429 itself spends from it too (the context is this task's own).
        patience = Patience()
        ROW_PATIENCE.set(patience)
        try:
            attempt = 0
            pending = batch
            while pending:
                try:
                    results = await be.tag_batch([img for _, img in pending], self.s.lang)
                except Exception as exc:  # noqa: BLE001 - a backend bug fails its rows, not the run
                    results = [exc] * len(pending)
                retry: list[tuple[Job, PreparedImage]] = []
                wait = 0.0
                for (job, img), res in zip(pending, results):
                    self._note_connection(res)
                    self._count_tokens(res)
                    if isinstance(res, TagResult):
                        if not res.backend:
                            res = TagResult(**{**res.to_json(), "backend": be.name})
                        used += res.credits_used
                        self._finish(job, res)
                    elif isinstance(res, ImageTagsError) and should_retry(res) and attempt < self.s.max_retries:
                        delay = retry_delay(attempt, getattr(res, "retry_after", None))
                        if isinstance(res, RateLimitError):
                            patience.note(res)
                            asked = res.retry_after
                            if asked is not None and asked > max(C.MAX_PAUSE, patience.total):
                                self._finish(job, wait_too_long(asked, f"{patience.asked_as} {asked:g} s"))
                                continue
                            if not patience.allows(delay):
                                self._finish(job, patience.exhausted(res))
                                continue
                            patience.spend(delay)
                            if self.pacer is not None:
                                self.pacer.pause(delay)  # every worker, every process
                        retry.append((job, img))
                        wait = max(wait, delay)
                    elif isinstance(res, ImageTagsError):
                        if isinstance(res, RateLimitError) and not res.stops_run:
                            res = _said_how_long(res)
                        self._finish(job, res)
                    else:  # a bug or an unexpected library error: record it, never crash the run
                        err = ImageTagsError(f"{job.source}: {type(res).__name__}: {res}")
                        self._finish(job, err)
                if self.fatal is not None or self.interrupted:
                    return
                pending = retry
                if pending and not self._tokens_allow(pending, resend=True):
                    for job, _ in pending:
                        self._finish(job, self.stop or BudgetExceededError("not sent: max_tokens_budget"))
                    return
                if pending:
                    attempt += 1
                    announce_wait(wait, f"the server to recover before retrying {pending[0][0].source}")
                    await asyncio.sleep(wait)
                    if self.pacer is not None:
                        try:
                            await self.pacer.acquire()
                        except ImageTagsError as exc:  # a pause past MAX_PAUSE: the run stops
                            for job, _ in pending:
                                self._finish(job, exc)
                            return
        finally:
            try:
                if self.shared_budget is not None:
                    await self._shared_settle(self.shared_budget, len(batch), used)
            finally:
                self._release(len(batch))
                sem.release()

    async def run(self) -> None:
        be = self.s.backend
        queue: asyncio.Queue = asyncio.Queue(maxsize=max(2, 2 * self.s.max_concurrency * be.max_batch))
        producer = asyncio.create_task(self._prepared(queue))
        renewer = asyncio.create_task(self._renew_claims())
        sem = asyncio.Semaphore(self.s.max_concurrency)
        tasks: set[asyncio.Task] = set()
        try:
            try:
                if self.jobs:
                    await self._warm()
                await self._dispatch(queue, sem, tasks)
                if self.fatal is not None:
                    for t in tasks:
                        t.cancel()
                if tasks:
                    # asyncio.wait, not gather: cancelling a gather cancels the calls it
                    # waits for, and those are paid for; a cancelled wait leaves them running.
                    await asyncio.wait(set(tasks))
            except asyncio.CancelledError:
                # Ctrl-C, while sending or once everything is sent: send nothing more, but
                # let calls already sent (and paid for) land in the cache, so a re-run
                # does not pay for them twice.
                self.interrupted = True
                self.stop = self.stop or ImageTagsError("interrupted")
                if tasks:
                    await asyncio.wait(set(tasks), timeout=C.INTERRUPT_GRACE)
                raise
        finally:
            producer.cancel()
            renewer.cancel()
            for t in list(tasks):
                t.cancel()
            await asyncio.gather(producer, renewer, *tasks, return_exceptions=True)
            # Images claimed and never answered (stopped, interrupted): free for others now,
            # not a lease later.
            if self.held:
                self.s.cache.release(sorted(self.held), self.owner)
                self.held.clear()
            await be.aclose()

    async def _warm(self) -> None:
        """The backend's start-up work, before the pacer's first slot (images are prepared meanwhile):
        a slot is a send time, and a first call that builds its client after it goes out late."""
        try:
            await asyncio.to_thread(self.s.backend.warm)
        except Exception:  # noqa: BLE001 - a failed warm-up is retried by the first call, which reports it
            pass

    async def _dispatch(self, queue: asyncio.Queue, sem: asyncio.Semaphore, tasks: set[asyncio.Task]) -> None:
        """Take prepared images in batches, wait for a slot and a pace, start a call."""
        be = self.s.backend
        done = False
        while not done and self.fatal is None and self.stop is None:
            batch: list[tuple[Job, PreparedImage]] = []
            item = await queue.get()
            while item is not None:
                job, img, sent = item
                if isinstance(img, ImageTagsError):
                    self._finish(job, img)
                elif not self._same_upload(job, sent):
                    batch.append((job, img))
                if len(batch) >= be.max_batch or queue.empty() or self.fatal is not None:
                    break
                item = await queue.get()
            done = item is None
            if not batch or self.fatal is not None:
                continue
            await self._first_cost_known()
            # A free slot first: the calls that held it have reported what they spent.
            await sem.acquire()
            if not self._budget_allows(batch):
                sem.release()
                return
            try:
                if self.pacer is not None:
                    await self.pacer.acquire()
                go = self.fatal is None and self.stop is None
                if go and self.shared_budget is not None:
                    go = await self._shared_allows(self.shared_budget, len(batch))
                    if go and (self.fatal is not None or self.stop is not None):  # came while we asked
                        await self._shared_settle(self.shared_budget, len(batch), 0.0)
                        go = False
            except BaseException:
                sem.release()
                self._release(len(batch))
                raise
            if not go:
                sem.release()
                self._release(len(batch))
                return
            task = asyncio.create_task(self._attempt(batch, sem))
            tasks.add(task)
            task.add_done_callback(tasks.discard)


def _said_how_long(exc: RateLimitError) -> RateLimitError:
    """A row's last 429 naming the wait the server asked for, so the row says why it gave up."""
    asked = exc.retry_after
    if asked is not None and "Retry-After" not in exc.message:
        source = getattr(exc, "retry_after_source", "") or "Retry-After"
        exc.message = f"{exc.message}; retries spent, the server asked for {source} {asked:g} s"
        exc.args = (exc.message,)
    return exc


def prepare_job(job: Job, validate: bool, max_file_bytes: int = C.MAX_FILE_BYTES) -> PreparedImage:
    """Prepare from the bytes the scan kept, else read the file again (and check it is unchanged)."""
    data, job.data = job.data, None  # prepared once: let the bytes go
    if data is None:
        data = _images.read_bytes(job.value, source=job.source, max_file_bytes=max_file_bytes)
        if isinstance(job.value, (str, os.PathLike)) and _images.sha256(data) != job.digest:
            # Tagging these bytes would file the answer under the old content's digest.
            raise ImageError(f"{job.source}: the file changed during the run; run again to tag its new "
                             "content", source=job.source)
    return _images.prepare(data, source=job.source, digest=job.digest, validate=validate)


def _prepare_and_digest(job: Job, validate: bool, max_file_bytes: int) -> tuple[PreparedImage, str]:
    """The prepared image and the digest of the bytes that will be sent."""
    img = prepare_job(job, validate, max_file_bytes)
    return img, (_images.sha256(img.data) if img.converted else job.digest)


def run_in_thread(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine on a fresh loop in a worker thread; Ctrl-C cancels it cleanly.

    A thread (not ``asyncio.run`` here) because Jupyter already runs a loop in
    this thread, and because it gives one interrupt path for scripts and notebooks.
    On Ctrl-C the coroutine is cancelled and given the time it needs to store the
    calls in flight (:data:`INTERRUPT_GRACE`) before the interrupt goes on.
    """
    box: dict[str, Any] = {}
    ready = threading.Event()
    finished = threading.Event()

    def target() -> None:
        loop = asyncio.new_event_loop()
        try:
            task = loop.create_task(factory())
            box["loop"], box["task"] = loop, task
            ready.set()
            box["value"] = loop.run_until_complete(task)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            box["error"] = exc
        finally:
            ready.set()
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()
            finally:
                finished.set()

    thread = threading.Thread(target=target, name="imagetags-engine", daemon=True)
    thread.start()
    # An Event, not Thread.join: on Python 3.11, once a join has been interrupted by
    # Ctrl-C, later joins return at once while the thread still runs (a CPython bug),
    # and the interpreter would exit with paid calls still in flight.
    try:
        while not finished.wait(0.1):
            pass
    except KeyboardInterrupt:
        ready.wait(5)
        loop, task = box.get("loop"), box.get("task")
        if loop is not None and task is not None:
            try:
                loop.call_soon_threadsafe(task.cancel)
            except RuntimeError:  # the loop closed meanwhile: the run has ended anyway
                pass
        finished.wait(C.INTERRUPT_GRACE + 15)  # a second Ctrl-C here stops waiting
        raise
    if "error" in box:
        raise box["error"]
    return box["value"]
