"""Feeding the backend: requests that arrive together are tagged together.

Each HTTP request tags one image, but a backend such as the offline tagger is
much faster per image in batches (one model call for 16 images) and wants few
calls in flight (``max_concurrency = 1``: its own threads already use every
core). The dispatcher keeps ``backend.max_concurrency`` workers; each takes what
is waiting in the queue, up to ``backend.max_batch`` images of one language, and
makes one :meth:`Backend.tag_batch` call for them. With one request at a time
this is a plain call; under load, batches form by themselves, without any timer
that would add latency when the server is idle.

``tag_batch`` runs the backend's CPU work in threads (the interface's contract),
so the event loop keeps accepting and refusing requests meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from .._types import PreparedImage, TagResult
from ..backends.base import Backend


@dataclass
class _Job:
    image: PreparedImage
    lang: str
    future: asyncio.Future[TagResult] = field(repr=False)


class Dispatcher:
    """``await dispatcher.tag(image, lang)``: the backend's result, or the exception it gave."""

    def __init__(self, backend: Backend, *, max_batch: int | None = None,
                 max_concurrency: int | None = None) -> None:
        self.backend = backend
        self.max_batch = max(1, int(max_batch or getattr(backend, "max_batch", 1) or 1))
        self.max_concurrency = max(1, int(max_concurrency or getattr(backend, "max_concurrency", 1) or 1))
        self._queue: asyncio.Queue[_Job] | None = None
        self._workers: list[asyncio.Task[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    def _start(self) -> asyncio.Queue[_Job]:
        loop = asyncio.get_running_loop()
        if self._queue is None or self._loop is not loop:
            # Started lazily in the serving loop (a queue belongs to one loop).
            self._loop, self._queue = loop, asyncio.Queue()
            self._workers = [loop.create_task(self._work(self._queue), name=f"imagetags-dispatch-{i}")
                             for i in range(self.max_concurrency)]
        return self._queue

    async def tag(self, image: PreparedImage, lang: str) -> TagResult:
        queue = self._start()
        future: asyncio.Future[TagResult] = asyncio.get_running_loop().create_future()
        queue.put_nowait(_Job(image, lang, future))
        return await future

    async def _work(self, queue: asyncio.Queue[_Job]) -> None:
        while True:
            jobs = [await queue.get()]
            while len(jobs) < self.max_batch and not queue.empty():
                jobs.append(queue.get_nowait())
            # One call per language: a batch shares its lang. Jobs whose request was
            # cancelled are dropped before the backend spends anything on them.
            by_lang: dict[str, list[_Job]] = {}
            for job in jobs:
                if not job.future.done():
                    by_lang.setdefault(job.lang, []).append(job)
            for lang, group in by_lang.items():
                await self._run(group, lang)

    async def _run(self, group: list[_Job], lang: str) -> None:
        try:
            results = await self.backend.tag_batch([job.image for job in group], lang)
            if len(results) != len(group):
                raise RuntimeError(f"backend {self.backend.name!r} returned {len(results)} results "
                                   f"for {len(group)} images")
        except asyncio.CancelledError:
            for job in group:
                if not job.future.done():
                    job.future.cancel()
            raise
        except Exception as exc:  # noqa: BLE001 - a failed call fails each of its requests
            results = [exc] * len(group)
        for job, result in zip(group, results):
            if job.future.done():
                continue
            if isinstance(result, BaseException):
                job.future.set_exception(result)
            else:
                job.future.set_result(result)

    async def aclose(self) -> None:
        for task in self._workers:
            task.cancel()
        for task in self._workers:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._workers = []
        self._queue = None
        await self.backend.aclose()


__all__ = ["Dispatcher"]
