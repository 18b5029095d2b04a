"""The one small interface every backend implements.

The engine owns caching, pacing, retries, budget and progress; a backend only
knows how to tag prepared images. It knows nothing of pandas.

A backend must provide:

* ``name`` – short registry name (``"imagedescriber"``, ``"local"``, ...), shown in
  the ``backend`` column.
* ``cache_identity()`` – a string that changes whenever the same image could get
  a different answer (model version, options, service URL). Never a secret.
* ``rate_limit`` – a :class:`RateLimit`, or None for "as fast as it goes".
* ``limiter_id()`` – which shared pacing bucket requests count against (a
  digest of the API key for the API; None when there is no limit).
* ``max_concurrency`` – default number of calls in flight.
* ``max_batch`` – how many images one :meth:`tag_batch` call may take.
* ``async tag_batch(images, lang)`` – one result or exception per image, same order.
* optionally ``attach_cache(cache)`` – to keep language-free work between runs.
* optionally ``attach_pacer(pacer)`` – with ``reads_limit_headers``, to hold every
  worker when an answer says the server's request budget is spent.
* optionally ``expected_tokens()`` – with ``reports_tokens``, a call's expected cost in
  tokens before any call has reported one (for ``max_tokens_budget``).
* optionally ``warm()`` – one-off start-up work (an HTTP client, lazy imports), done
  before the run's first paced slot so the first call is not sent late.

Backends that have a natural synchronous single-image call implement
``tag(image, lang)`` and inherit ``tag_batch``.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from .._types import PreparedImage, RateLimit, TagResult

if TYPE_CHECKING:
    from ..infra.cache import Cache
    from ..infra.ratelimit import Pacer


def tag_each(tag: Callable[[PreparedImage, str], TagResult], images: Sequence[PreparedImage],
             lang: str) -> list[TagResult | BaseException]:
    """Call ``tag`` on each image; a failure becomes that image's entry, not the batch's."""
    out: list[TagResult | BaseException] = []
    for img in images:
        try:
            out.append(tag(img, lang))
        except Exception as exc:  # noqa: BLE001 - per-image errors are data here
            out.append(exc)
    return out


class Backend(abc.ABC):
    name: str = "backend"
    #: Default pace, or None for no limit.
    rate_limit: RateLimit | None = None
    max_concurrency: int = 4
    max_batch: int = 1
    #: True when calls spend credits (the engine then honours max_credits / 2002).
    costs_credits: bool = False
    #: Credits one successful call is expected to spend (for estimates and budgets).
    credits_per_call: float = 0.0
    #: True when the backend decodes every image itself and raises CorruptImageError
    #: for bad data, so the engine can skip its own trial decode (saves a decode per image).
    decodes_images: bool = False
    #: True when answers carry rate-limit headers the backend passes to :meth:`attach_pacer`'s
    #: pacer (the engine then builds one even without a rate limit of its own).
    reads_limit_headers: bool = False
    #: True when results carry ``input_tokens``/``output_tokens`` (a language model's usage).
    reports_tokens: bool = False

    @abc.abstractmethod
    def cache_identity(self) -> str:
        """Identity for cache keys; must not contain secrets."""

    def limiter_id(self) -> str | None:
        return None

    def attach_pacer(self, pacer: Pacer) -> None:
        """The run's pacer, offered before any call. Default: unused."""

    def expected_tokens(self, images: Sequence[PreparedImage]) -> int | None:
        """Tokens a call with these images is expected to cost, before any has reported its usage."""
        return None

    def attach_cache(self, cache: Cache) -> None:
        """The run's cache, offered before any call. A backend whose work splits into an
        expensive language-free part and a cheap per-language part (the offline tagger)
        keeps the former there, so asking again in another language costs no model time.
        Keys must come from :func:`~imagetags_df.cache.analysis_key`. Default: unused."""

    def warm(self) -> None:
        """Do the start-up work a first call would do, without calling anything. Default: nothing.

        The engine calls it (in a worker thread) before the run's pacer hands out its
        first slot. A slot is a send time: start-up paid after it (building an HTTP
        client, the async-I/O modules httpx imports on its first request, a quarter
        second on a busy machine) makes that call late, and the next one, on time,
        lands too close behind it for a short rate-limit window.
        """

    def tag(self, image: PreparedImage, lang: str) -> TagResult:
        """Tag one image synchronously. Override this or :meth:`tag_batch`."""
        raise NotImplementedError

    async def tag_batch(self, images: Sequence[PreparedImage], lang: str) -> list[TagResult | BaseException]:
        """Tag several images; one entry per image: a result or the exception it raised.

        The default runs :meth:`tag` in a worker thread so CPU-bound backends do
        not block the event loop.
        """

        return await asyncio.to_thread(tag_each, self.tag, images, lang)

    async def aclose(self) -> None:
        """Release connections or sessions. Called once at the end of a run."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


def preload_async_http() -> None:
    """Import what httpx imports lazily on an async client's first request (anyio's asyncio
    backend, its TLS streams and thread pool), so that request is not the one paying for it."""
    import importlib

    for name in ("anyio._backends._asyncio", "anyio.streams.tls", "anyio.to_thread"):
        try:
            importlib.import_module(name)
        except ImportError:  # another httpx transport: nothing to preload
            pass
