"""The ImageDescriber HTTP API: sync and async clients over one base, and its Backend.

All translation from HTTP (httpx errors, statuses, HTML error pages, empty
bodies, credits given as strings) to our exception tree happens here, in
:meth:`_BaseClient._parse`. The API key is held privately and used only to
build the ``authorization`` header; it never reaches a repr or a message.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import httpx

from .. import _constants as C
from .. import images as _images
from .._exceptions import APIConnectionError, APIError, APITimeoutError, ConfigurationError, api_error_for
from .._secrets import scrub, scrub_error, scrub_result, scrub_values
from .._types import PreparedImage, RateLimit, TagResult
from ..infra.retry import parse_retry_after, retry_delay, should_retry
from .base import Backend, DeadlinePassed, post_within, post_within_sync, preload_async_http

if TYPE_CHECKING:
    from ..infra.ratelimit import Pacer


def _as_number(value: Any) -> float | None:
    # The seed's table says numbers, its example shows strings: accept both.
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def api_root(base_url: str) -> str:
    """The server's root from a base URL as people write it: ``/api/v1`` (as OpenAI's
    clients take ``/v1``) or a whole endpoint URL is the same server.

    >>> api_root("http://127.0.0.1:8000/api/v1/"), api_root("http://h/api/v1/generate_tags")
    ('http://127.0.0.1:8000', 'http://h')
    """
    url = base_url.rstrip("/")
    for tail in (C.GENERATE_TAGS_PATH, C.GENERATE_CONTENT_PATH, C.GENERATE_TAGS_PATH.rsplit("/", 1)[0]):
        if url.endswith(tail):
            return url[: -len(tail)].rstrip("/")
    return url


def announced_rate(headers: httpx.Headers) -> RateLimit | None:
    """The request limit a server announces for the caller's key, if it does.

    ``RateLimit-Policy: 600;w=60`` (the IETF draft) names its window; OpenAI-style
    ``x-ratelimit-limit-requests`` counts requests per minute.

    >>> str(announced_rate(httpx.Headers({"ratelimit-policy": "600;w=60"})))
    '600/min'
    >>> str(announced_rate(httpx.Headers({"x-ratelimit-limit-requests": "120"})))
    '120/min'
    """
    policy = headers.get("ratelimit-policy")
    try:
        if policy:
            first = policy.split(",")[0]
            limit, *params = (p.strip() for p in first.split(";"))
            window = next((float(p[2:]) for p in params if p.startswith("w=")), 60.0)
            if float(limit) > 0 and window > 0:
                return RateLimit(per_minute=float(limit) * 60.0 / window)
        limit_header = headers.get("x-ratelimit-limit-requests")
        if limit_header and float(limit_header) > 0:
            return RateLimit(per_minute=float(limit_header))
    except ValueError:
        return None
    return None


class _BaseClient:
    def __init__(self, *, api_key: str | None = None, base_url: str | None = None,
                 timeout: float | None = None, max_retries: int | None = None) -> None:
        import os

        # Settled once: argument, then environment, then default.
        from . import settle_api_key

        self.__api_key = settle_api_key(api_key)
        self.base_url = api_root(base_url or os.environ.get(C.ENV_BASE_URL) or C.DEFAULT_BASE_URL)
        #: Called with every answer's headers (the backend reads the server's announced limit).
        self.on_headers: Callable[[httpx.Headers], None] | None = None
        self.timeout = float(timeout) if timeout is not None else C.DEFAULT_TIMEOUT
        self.max_retries = C.DEFAULT_MAX_RETRIES if max_retries is None else int(max_retries)

    def _connect_failed(self, exc: Exception) -> APIConnectionError:
        return APIConnectionError.could_not_connect(
            f"cannot connect to {self.base_url}: {type(exc).__name__}")

    def _timed_out(self) -> APITimeoutError:
        return APITimeoutError(f"no answer from {self.base_url} within {self.timeout:g} s "
                               "(timeout= bounds the whole request, however slowly its answer comes)")

    def _headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.__api_key}", "content-type": "application/json",
                "accept": "application/json", "user-agent": "imagetags-df/0.1"}

    def key_digest(self) -> str:
        """A short one-way digest that tells keys apart for pacing, without revealing them."""
        return hashlib.sha256(b"imagetags-df pacing\0" + self.__api_key.encode()).hexdigest()[:16]

    def _timeout(self) -> httpx.Timeout:
        return httpx.Timeout(self.timeout, connect=min(C.DEFAULT_CONNECT_TIMEOUT, self.timeout))

    @staticmethod
    def _body(image: PreparedImage, lang: str, prompt: str | None = None) -> bytes:
        if lang not in C.LANGUAGES:
            raise ConfigurationError(f"lang {lang!r} is not supported; use one of {', '.join(C.LANGUAGES)}")
        payload: dict[str, str] = {"image": image.data_uri(), "lang": lang}
        if prompt is not None:
            payload["prompt"] = prompt
        return json.dumps(payload).encode()

    def _parse(self, response: httpx.Response) -> dict[str, Any]:
        """The ``data`` of a success, or raise the matching APIError (its text scrubbed of the key)."""
        try:
            return self._parse_body(response)
        except APIError as exc:
            raise scrub_error(exc, self.__api_key) from None

    def _scrub(self, text: str) -> str:
        return scrub(text, self.__api_key)

    def _result(self, parsed: dict[str, Any]) -> TagResult:
        try:
            return scrub_result(self._to_result(parsed), self.__api_key)
        except APIError as exc:
            raise scrub_error(exc, self.__api_key) from None

    def _content(self, parsed: dict[str, Any]) -> dict[str, Any]:
        """generate_content's ``data``, every string in it scrubbed of the key."""
        return scrub_values(parsed["data"], self.__api_key)

    def _parse_body(self, response: httpx.Response) -> dict[str, Any]:
        status = response.status_code
        if status == 404:
            # A wrong path, not a bad request: no API code (1005 would blame the image), and the
            # URL asked for, which the server's own message cannot know the client's view of.
            raise api_error_for(
                None, f"HTTP 404: {response.request.url} is not an endpoint of this server; the base URL "
                      "is the server's root, such as http://127.0.0.1:8000", status_code=404)
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        try:
            body = response.json()
        except (ValueError, UnicodeDecodeError, RecursionError):
            body = None
        if not isinstance(body, dict) or "code" not in body:
            # A proxy's HTML page, an empty body, or JSON that is not the API's.
            # Scrubbed before it is cut: a key cut in half is no longer found by its full text.
            text = self._scrub(response.text[:4096]) if response.content else ""
            snippet = text[:80].strip().replace("\n", " ") if response.content else "no body"
            kind = "an HTML page" if "<html" in text[:500].lower() else repr(snippet)
            message = f"unexpected response: HTTP {status} with {kind}"
            # A 2xx without the API's JSON is a broken gateway: classify it as a 502
            # (retryable) but keep the status the server really sent.
            exc = api_error_for(None, message, status_code=status if status >= 300 else 502,
                                retry_after=retry_after)
            exc.status_code = status
            raise exc
        raw_code = body.get("code")
        code: int | None
        try:
            code = int(raw_code) if raw_code is not None else None
        except (TypeError, ValueError):
            code = None
        request_id = body.get("request_id")
        request_id = str(request_id) if request_id is not None else None
        message = str(body.get("message") or "")
        if code != C.CODE_OK:
            raise api_error_for(code, message or f"API error {code}", request_id=request_id,
                                status_code=status, retry_after=retry_after)
        data = body.get("data")
        if not isinstance(data, dict):
            raise api_error_for(C.CODE_INTERNAL, "success response without data", request_id=request_id,
                                status_code=status)
        return {"data": data, "request_id": request_id, "status": status}

    @staticmethod
    def _to_result(parsed: dict[str, Any]) -> TagResult:
        data = parsed["data"]
        tags = data.get("tags")
        if not isinstance(tags, dict) or not isinstance(tags.get("tags"), list):
            # Retryable (5050-like): a half-written answer is the service's fault, not the image's.
            raise api_error_for(C.CODE_INTERNAL, "success response without data.tags",
                                request_id=parsed["request_id"], status_code=parsed["status"])
        credits = data.get("credits") if isinstance(data.get("credits"), dict) else {}
        amount = _as_number(credits.get("amount"))
        return TagResult(
            tags=[str(t).strip() for t in tags.get("tags", []) if str(t).strip()],
            title=str(tags.get("title") or ""),
            description=str(tags.get("description") or ""),
            request_id=parsed["request_id"],
            credits_used=1.0 if amount is None else amount,
            credits_remaining=_as_number(credits.get("remaining")),
            backend="imagedescriber",
        )

    @staticmethod
    def _prepare(image: Any) -> PreparedImage:
        if isinstance(image, PreparedImage):
            return image
        return _images.load(image)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"


class ImageDescriberClient(_BaseClient):
    """Synchronous client for ``POST /api/v1/generate_tags``, with retries.

    >>> client = ImageDescriberClient(api_key="sk-...")              # doctest: +SKIP
    >>> client.generate_tags("cat.jpg", lang="zh").tags               # doctest: +SKIP
    ['猫', ...]
    """

    def __init__(self, *, api_key: str | None = None, base_url: str | None = None,
                 timeout: float | None = None, max_retries: int | None = None,
                 http_client: httpx.Client | None = None) -> None:
        super().__init__(api_key=api_key, base_url=base_url, timeout=timeout, max_retries=max_retries)
        self._http = http_client or httpx.Client(timeout=self._timeout())

    def _post(self, path: str, body: bytes) -> dict[str, Any]:
        try:
            response = post_within_sync(self._http, self.base_url + path, content=body, headers=self._headers(),
                                        deadline=self.timeout)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise self._connect_failed(exc) from None
        except (httpx.TimeoutException, DeadlinePassed):
            raise self._timed_out() from None
        except httpx.TransportError as exc:
            raise APIConnectionError(f"connection to {self.base_url} failed: {type(exc).__name__}") from None
        return self._parse(response)

    def _with_retries(self, path: str, body: bytes) -> dict[str, Any]:
        attempt = 0
        while True:
            try:
                return self._post(path, body)
            except Exception as exc:
                if attempt >= self.max_retries or not should_retry(exc):
                    raise
                time.sleep(retry_delay(attempt, getattr(exc, "retry_after", None)))
                attempt += 1

    def generate_tags(self, image: Any, lang: str = C.DEFAULT_LANG) -> TagResult:
        """Tags, title and description for one image (path, bytes, PIL image or PreparedImage)."""
        prepared = self._prepare(image)
        return self._result(self._with_retries(C.GENERATE_TAGS_PATH, self._body(prepared, lang)))

    def generate_content(self, image: Any, prompt: str, lang: str = C.DEFAULT_LANG) -> dict[str, Any]:
        """The sibling endpoint: the raw ``data`` answer to ``prompt`` about the image."""
        prepared = self._prepare(image)
        return self._content(self._with_retries(C.GENERATE_CONTENT_PATH, self._body(prepared, lang, prompt)))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ImageDescriberClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncImageDescriberClient(_BaseClient):
    """Asynchronous twin of :class:`ImageDescriberClient`."""

    def __init__(self, *, api_key: str | None = None, base_url: str | None = None,
                 timeout: float | None = None, max_retries: int | None = None,
                 http_client: httpx.AsyncClient | None = None, max_connections: int = 100) -> None:
        super().__init__(api_key=api_key, base_url=base_url, timeout=timeout, max_retries=max_retries)
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        self._http = http_client or httpx.AsyncClient(timeout=self._timeout(), limits=limits)

    async def _post(self, path: str, body: bytes) -> dict[str, Any]:
        try:
            response = await post_within(self._http, self.base_url + path, content=body,
                                         headers=self._headers(), deadline=self.timeout)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise self._connect_failed(exc) from None
        except (httpx.TimeoutException, DeadlinePassed):
            raise self._timed_out() from None
        except httpx.TransportError as exc:
            raise APIConnectionError(f"connection to {self.base_url} failed: {type(exc).__name__}") from None
        if self.on_headers is not None:
            self.on_headers(response.headers)
        return self._parse(response)

    async def _with_retries(self, path: str, body: bytes) -> dict[str, Any]:
        attempt = 0
        while True:
            try:
                return await self._post(path, body)
            except Exception as exc:
                if attempt >= self.max_retries or not should_retry(exc):
                    raise
                await asyncio.sleep(retry_delay(attempt, getattr(exc, "retry_after", None)))
                attempt += 1

    async def generate_tags(self, image: Any, lang: str = C.DEFAULT_LANG) -> TagResult:
        prepared = await asyncio.to_thread(self._prepare, image)
        return self._result(await self._with_retries(C.GENERATE_TAGS_PATH, self._body(prepared, lang)))

    async def generate_content(self, image: Any, prompt: str, lang: str = C.DEFAULT_LANG) -> dict[str, Any]:
        prepared = await asyncio.to_thread(self._prepare, image)
        return self._content(await self._with_retries(C.GENERATE_CONTENT_PATH, self._body(prepared, lang, prompt)))

    async def tag_once(self, image: PreparedImage, lang: str) -> TagResult:
        """One attempt, no retries: the engine owns retries so they share its pacing."""
        return self._result(await self._post(C.GENERATE_TAGS_PATH, self._body(image, lang)))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncImageDescriberClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class ImageDescriberBackend(Backend):
    """The hosted API (or any server speaking it, such as ``imagetags serve``)."""

    name = "imagedescriber"
    costs_credits = True
    credits_per_call = 1.0
    max_batch = 1

    def __init__(self, *, api_key: str | None = None, base_url: str | None = None,
                 timeout: float | None = None, rate_limit: Any = None, keyless: bool = False) -> None:
        self._settings: dict[str, Any] = dict(api_key=api_key, base_url=base_url, timeout=timeout)
        if keyless:
            # Pricing a run (estimate) needs the service's identity and pace, not a
            # key; a call would still fail with the missing-key message.
            self.base_url = api_root(base_url or C.DEFAULT_BASE_URL)
            self._key_digest = ""
        else:
            # Validate the key now (clear error before any work); build the async
            # client lazily inside the event loop that will use it.
            probe = _BaseClient(api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0)
            self.base_url = probe.base_url
            self._key_digest = probe.key_digest()
        self.rate_limit = RateLimit.parse(rate_limit if rate_limit is not None else C.DEFAULT_RATE_LIMIT_PER_MIN)
        #: The caller's own rate_limit= is kept; the default gives way to what the server announces.
        self._rate_given = rate_limit is not None
        self.max_concurrency = default_concurrency(self.rate_limit)
        self._client: AsyncImageDescriberClient | None = None
        self._pacer: Pacer | None = None

    def attach_pacer(self, pacer: Pacer) -> None:
        """The run's pacer: it follows the limit the server announces (``imagetags serve`` does)."""
        self._pacer = pacer

    def _follow_limit(self, headers: httpx.Headers) -> None:
        rate = announced_rate(headers)
        if rate is None or self._rate_given or self._pacer is None:
            return
        if abs(rate.per_minute - self._pacer.rate.per_minute) > 1e-9:
            self._pacer.adopt(rate)

    def _new_client(self) -> AsyncImageDescriberClient:
        client = AsyncImageDescriberClient(max_retries=0, **self._settings)
        client.on_headers = self._follow_limit
        return client

    def cache_identity(self) -> str:
        # The service, not the key: one account's answer for an image is reused by another.
        return f"imagedescriber|{self.base_url}"

    def limiter_id(self) -> str:
        return f"{self.base_url}|{self._key_digest}"

    def warm(self) -> None:
        """Build the HTTP client and import what its first request would, before the first slot."""
        if self._client is None:
            self._client = self._new_client()
        preload_async_http()

    async def tag_batch(self, images: Sequence[PreparedImage], lang: str) -> list[TagResult | BaseException]:
        if self._client is None:
            self._client = self._new_client()
        out: list[TagResult | BaseException] = []
        for img in images:
            try:
                out.append(await self._client.tag_once(img, lang))
            except Exception as exc:  # noqa: BLE001 - per-image outcome
                out.append(exc)
        return out

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def __repr__(self) -> str:
        return f"<ImageDescriberBackend {self.base_url} rate={self.rate_limit}>"


def default_concurrency(rate: RateLimit) -> int:
    """Enough calls in flight to keep the pace even when each takes ~10 s."""
    per_second = rate.per_minute / 60.0
    return max(4, min(C.MAX_DEFAULT_CONCURRENCY, int(per_second * 10) + 2))
