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
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import httpx

from .. import _constants as C
from .._exceptions import InvalidOutputError
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


class DeadlinePassed(Exception):
    """The whole request (connect, send, every read) took longer than its deadline."""


def _too_large(response: httpx.Response, max_bytes: int) -> InvalidOutputError:
    # Not retried: a server that sent this much once will do it again, and each try is paid.
    return InvalidOutputError(f"the answer was larger than {max_bytes:,} bytes; stopped reading it",
                              status_code=response.status_code)


def _rebuilt(response: httpx.Response, body: bytes) -> httpx.Response:
    # The body is already decoded: a content-encoding header kept would decode it again.
    headers = [(k, v) for k, v in response.headers.multi_items()
               if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")]
    return httpx.Response(response.status_code, headers=headers, content=body, request=response.request)


async def post_within(http: httpx.AsyncClient, url: str, *, content: bytes, headers: dict[str, str],
                      deadline: float, max_bytes: int = C.MAX_ANSWER_BYTES) -> httpx.Response:
    """POST and read the whole answer in at most ``deadline`` seconds and ``max_bytes`` bytes.

    httpx's timeout is per operation, so a server that trickles a byte a second never
    trips it; this bounds the request as a whole. The answer is read in pieces and the
    read stops past ``max_bytes`` (decoded), so a runaway answer never fills memory.
    Raises :class:`DeadlinePassed`, InvalidOutputError (too large) or httpx's errors.
    """

    async def whole() -> httpx.Response:
        async with http.stream("POST", url, content=content, headers=headers) as response:
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise _too_large(response, max_bytes)
                chunks.append(chunk)
            return _rebuilt(response, b"".join(chunks))

    try:
        return await asyncio.wait_for(whole(), deadline)
    except asyncio.TimeoutError:
        raise DeadlinePassed() from None


def post_within_sync(http: httpx.Client, url: str, *, content: bytes, headers: dict[str, str],
                     deadline: float, max_bytes: int = C.MAX_ANSWER_BYTES) -> httpx.Response:
    """:func:`post_within` for a synchronous client. The deadline is checked between reads,
    so a request ends at most one read timeout after it."""
    ends = time.monotonic() + deadline
    with http.stream("POST", url, content=content, headers=headers) as response:
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > max_bytes:
                raise _too_large(response, max_bytes)
            if time.monotonic() > ends:
                raise DeadlinePassed()
            chunks.append(chunk)
        return _rebuilt(response, b"".join(chunks))
