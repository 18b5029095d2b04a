"""The ASGI app: ``POST /api/v1/generate_tags`` exactly as API.md describes.

Every request goes through the same gates, cheapest and most telling first, so
that nothing expensive is done for a request that will be refused:

1. auth: ``authorization: Bearer <key>`` (1002 missing or malformed, 1003 unknown or revoked)
2. the key's rate limit (1004, HTTP 429, ``Retry-After`` in seconds)
3. validation: content-type, body size (refused before it is read whole), JSON
   shape, ``lang``, base64, format from the bytes, Pillow's bomb guard (1005/2004/2005)
4. one credit reserved, durably: the reservation row commits with the balance
   change (2002 when there is none left)
5. tagging, off the event loop (errors of the backend mapped to the API's codes)
6. the reservation refunded on any failure, when the client has hung up by the
   time the answer is ready, or when the answer could not be sent; settled once
   the answer has left

Every answer carries a fresh ``request_id`` (also in the ``x-request-id`` header).
An unexpected error answers 5050 with that id and nothing else; the traceback goes
to the log under the same id. Keys never reach a log line: the log names a key by
its name and id.

>>> app = create_app(":memory:", backend=my_backend)   # doctest: +SKIP
>>> uvicorn.run(app, host="127.0.0.1", port=8000)       # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from .. import _constants as C
from .._exceptions import (
    APIError,
    ConfigurationError,
    ImageError,
    ImageTooLargeError,
    api_error_for,
)
from .._types import RateLimit, TagResult
from ..backends import resolve_backend
from ..backends.base import Backend
from .batching import Dispatcher
from .keystore import KeyInfo, KeyStore, Reservation
from .limits import Decision, RateLimiter
from .serving import ServingLimits, install_loop_error_log
from .validation import DECODE_BUDGET_BYTES, check_content_type, parse_request, too_large

log = logging.getLogger("imagetags_df.server")

T = TypeVar("T")

#: Codes a backend's own errors keep when passed to the caller. Anything else a
#: backend raises (say an upstream 1003 when this server proxies the hosted API)
#: is the server's problem, not the caller's, and answers 5050.
_PASS_THROUGH = frozenset({C.CODE_RATE_LIMITED, C.CODE_INVALID_PARAMS, C.CODE_CONTENT_BLOCKED,
                           C.CODE_INVALID_IMAGE, C.CODE_UPLOAD_FAILED})


class _Refusal(Exception):
    """An answer with a non-zero code, raised from anywhere in a handler."""

    def __init__(self, code: int, message: str, headers: dict[str, str] | None = None,
                 status: int | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.headers, self.status = code, message, headers or {}, status


class ServerState:
    """What the handlers share: the key store, the limiter, the backend and the pools."""

    def __init__(self, store: KeyStore, backend: Backend, limiter: RateLimiter, *, credits_per_call: int,
                 max_body_bytes: int, max_image_bytes: int, validation_workers: int,
                 limits: ServingLimits | None = None, decode_budget: int = DECODE_BUDGET_BYTES) -> None:
        self.store = store
        self.limits = limits or ServingLimits()
        self.active = 0  # requests being handled (the concurrency cap)
        self.backend = backend
        self.limiter = limiter
        self.credits_per_call = credits_per_call
        self.max_body_bytes = max_body_bytes
        self.max_image_bytes = max_image_bytes
        self.decode_budget = decode_budget
        self.dispatcher = Dispatcher(backend)
        # One thread owns the SQLite work of the request path: statements take tens
        # of microseconds, and off the loop a write lock held by another process (a
        # `keys topup` from the shell) delays only requests that need the database,
        # never the event loop that refuses the others.
        self.db_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="imagetags-db")
        # Decodes at once are bounded, and each by the decode budget: validation memory
        # peaks at validation_workers x decode_budget whatever the traffic.
        self.decode_pool = ThreadPoolExecutor(max_workers=validation_workers,
                                              thread_name_prefix="imagetags-decode")

    async def db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.db_pool, lambda: fn(*args, **kwargs))

    async def decode(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.decode_pool, lambda: fn(*args, **kwargs))

    async def aclose(self) -> None:
        await self.dispatcher.aclose()
        self.db_pool.shutdown(wait=True)
        self.decode_pool.shutdown(wait=False, cancel_futures=True)


# --------------------------------------------------------------------------- answers

def _answer(code: int, message: str, request_id: str, *, data: dict[str, Any] | None = None,
            headers: dict[str, str] | None = None, status: int | None = None) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message, "request_id": request_id}
    if data is not None:
        body["data"] = data
    status = status if status is not None else (200 if code == C.CODE_OK else C.HTTP_STATUS_FOR_CODE[code])
    return JSONResponse(body, status_code=status, headers={"x-request-id": request_id, **(headers or {})})


def _new_request_id() -> str:
    return uuid.uuid4().hex


# --------------------------------------------------------------------------- the gates

def _bearer(request: Request) -> str:
    header = request.headers.get("authorization")
    if not header:
        raise _Refusal(C.CODE_UNAUTHORIZED, "unauthorized: the authorization header is missing; "
                                            "send 'authorization: Bearer <api_key>'")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise _Refusal(C.CODE_UNAUTHORIZED, "unauthorized: the authorization header must be "
                                            "'Bearer <api_key>'")
    return token


async def _authenticate(state: ServerState, request: Request) -> KeyInfo:
    token = _bearer(request)
    info = await state.db(state.store.authenticate, token)
    if info is None:
        raise _Refusal(C.CODE_INVALID_KEY, "invalid API key")
    return info


def _limit(state: ServerState, key: KeyInfo) -> Decision:
    decision = state.limiter.hit(key.id)
    if not decision.allowed:
        raise _Refusal(C.CODE_RATE_LIMITED,
                       f"too many requests: at most {state.limiter.capacity} per "
                       f"{state.limiter.window:g} s for this key; retry in {decision.retry_after} s",
                       headers={"retry-after": str(decision.retry_after), **_limit_headers(state, decision)})
    return decision


def _limit_headers(state: ServerState, decision: Decision) -> dict[str, str]:
    """This server's real limit, in the headers clients already read (OpenAI's ``x-ratelimit-*``
    and the IETF draft's ``RateLimit-Policy``), so a client paces at it rather than at a default."""
    limiter = state.limiter
    return {"x-ratelimit-limit-requests": str(limiter.capacity),
            "x-ratelimit-remaining-requests": str(decision.remaining),
            "x-ratelimit-reset-requests": f"{decision.retry_after}s",
            "ratelimit-policy": f"{limiter.capacity};w={limiter.window:g}"}


class _HungUp(Exception):
    """The client closed the connection before its request was answered."""


async def _read_body(state: ServerState, request: Request) -> bytes:
    """The body, refused as soon as it is known to be over the cap (before it is read whole),
    or when it has not all arrived within the body timeout (a client dripping a byte a
    second, or a Content-Length larger than what it sends, would hold the request forever)."""
    check_content_type(request.headers.get("content-type"))
    limit = state.max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            length = int(declared)
        except ValueError:
            raise api_error_for(C.CODE_INVALID_PARAMS, "content-length is not a number") from None
        if length > limit:
            raise too_large(state.max_image_bytes)
    chunks: list[bytes] = []
    total = 0
    timeout = state.limits.body_timeout

    async def read() -> None:
        nonlocal total
        # Counted while streaming too: a chunked body declares no length, and a
        # declared length is only a claim.
        async for chunk in request.stream():
            total += len(chunk)
            if total > limit:
                raise too_large(state.max_image_bytes)
            chunks.append(chunk)

    try:
        await asyncio.wait_for(read(), timeout)
    except asyncio.TimeoutError:
        raise _Refusal(C.CODE_INVALID_PARAMS,
                       f"the request body did not arrive within {timeout:g} s ({total:,} bytes"
                       + (f" of the {int(declared):,} announced" if declared else "") + " came)",
                       headers={"connection": "close"}, status=408) from None
    except ClientDisconnect:
        raise _HungUp() from None
    return b"".join(chunks)


def _backend_refusal(exc: BaseException, request_id: str, key: KeyInfo) -> _Refusal:
    """The answer for an exception the backend gave for one image."""
    if isinstance(exc, APIError) and exc.code in _PASS_THROUGH:
        headers = {}
        if exc.code == C.CODE_RATE_LIMITED:
            headers["retry-after"] = str(max(1, round(exc.retry_after or 1)))
        return _Refusal(int(exc.code), exc.message or "refused by the backend", headers)
    if isinstance(exc, ImageTooLargeError):
        return _Refusal(C.CODE_INVALID_IMAGE, str(exc))
    if isinstance(exc, ImageError):
        # Validation decoded the image already; a backend that still cannot was sent
        # data that is bad for certain: 2004, which no retry can change (2005 would
        # ask the client to try the same bytes again).
        return _Refusal(C.CODE_INVALID_IMAGE, str(exc))
    if isinstance(exc, ConfigurationError):  # e.g. a language this backend does not speak
        return _Refusal(C.CODE_INVALID_PARAMS, str(exc))
    log.error("request %s (key %s): the backend failed", request_id, key.label,
              exc_info=(type(exc), exc, exc.__traceback__))
    return _Refusal(C.CODE_INTERNAL, "internal server error")


# --------------------------------------------------------------------------- endpoints

async def _gate(state: ServerState, request: Request, known: list[KeyInfo],
                decisions: list[Decision] | None = None) -> KeyInfo:
    key = await _authenticate(state, request)
    known.append(key)  # the log names the key from here on, refused by the limit or not
    decision = _limit(state, key)
    if decisions is not None:
        decisions.append(decision)
    return key


async def _reserve(state: ServerState, key: KeyInfo) -> Reservation:
    reservation = await state.db(state.store.reserve, key.id, state.credits_per_call)
    if reservation is None:
        # Either no credits left, or the key was revoked since it was authenticated.
        current = await state.db(state.store.authenticate_id, key.id)
        if current is None:
            raise _Refusal(C.CODE_INVALID_KEY, "invalid API key")
        raise _Refusal(C.CODE_NO_CREDITS,
                       f"insufficient credits: this call needs {state.credits_per_call}, "
                       f"{current.credits} left; top up the key")
    return reservation


async def _spend(state: ServerState, key: KeyInfo, work: Callable[[], Any], request_id: str
                 ) -> tuple[Any, Reservation]:
    """Reserve the credit and run ``work``; the reservation is refunded if it fails and
    left open otherwise, for :class:`_Charged` to settle once the answer can go out."""
    reservation = await _reserve(state, key)
    limit = state.limits.tag_timeout
    try:
        # Bounded, so the server's worst case is known (and shorter than our client's
        # timeout): a client that gave up is never charged for the answer it left behind.
        result = await asyncio.wait_for(work(), limit)
    except asyncio.TimeoutError:
        await asyncio.shield(state.db(state.store.refund, reservation))
        log.warning("request %s key=%s: tagging took longer than %g s; credit refunded", request_id,
                    key.label, limit)
        raise _Refusal(C.CODE_INTERNAL, f"tagging took longer than {limit:g} s; not charged; try again",
                       headers={"retry-after": "1"}, status=503) from None
    except asyncio.CancelledError:
        await asyncio.shield(state.db(state.store.refund, reservation))
        raise
    except Exception as exc:  # noqa: BLE001 - every failure refunds, then answers with its code
        await state.db(state.store.refund, reservation)
        raise _backend_refusal(exc, request_id, key) from None
    return result, reservation


class _Charged(JSONResponse):
    """A success answer whose reservation is settled only once the answer has left.

    A client already gone is refunded and sent nothing. Otherwise the answer is
    written and the charge settled right after, in the same turn of the event loop
    and on its thread (nothing else runs in between); when the connection turns out
    to have been lost before the answer left (uvicorn drops writes to a closed
    connection silently; :mod:`.serving`'s protocol says so in the scope), or the
    send fails, the reservation is refunded instead. A process killed at any point
    leaves the reservation open or settled: the next server refunds the open ones.
    Only a kill in the microseconds between the write and the settling gives an
    answer away; none can charge an answer that never left.
    """

    def __init__(self, content: Any, *, state: ServerState, reservation: Reservation, request: Request,
                 request_id: str, key: KeyInfo, **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self._state, self._reservation, self._request = state, reservation, request
        self._request_id, self._key = request_id, key

    async def _refund(self, why: str) -> None:
        await asyncio.shield(self._state.db(self._state.store.refund, self._reservation))
        log.info("request %s key=%s: %s; credit refunded", self._request_id, self._key.label, why)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if await self._request.is_disconnected():
            await self._refund("the client hung up before its answer was ready")
            return
        try:
            await super().__call__(scope, receive, send)
        except BaseException:
            await self._refund("the answer could not be sent")
            raise
        lost = scope.get("extensions", {}).get("imagetags.connection_lost")
        if lost is not None and lost():
            await self._refund("the connection closed before the answer left")
            return
        try:
            # Here, not in the database thread: a hop there and back takes milliseconds
            # under load, and a kill in between would give the answer away. One
            # single-row DELETE in WAL mode: tens of microseconds.
            self._state.store.settle(self._reservation)
        except sqlite3.Error:  # locked for a moment by another process: wait off the loop
            await asyncio.shield(self._state.db(self._state.store.settle, self._reservation))


def _charged(state: ServerState, request: Request, key: KeyInfo, request_id: str, reservation: Reservation,
             data: dict[str, Any]) -> _Charged:
    data = {**data, "credits": {"amount": state.credits_per_call, "remaining": reservation.remaining}}
    return _Charged({"code": C.CODE_OK, "message": "success", "request_id": request_id, "data": data},
                    state=state, reservation=reservation, request=request, request_id=request_id, key=key,
                    headers={"x-request-id": request_id})


def _endpoint(body: Callable[[ServerState, Request, KeyInfo, str], Any]) -> Callable[[Request], Any]:
    """Wrap an endpoint: a fresh request_id, the concurrency cap, the gate (auth, then
    rate limit), and every refusal answered in the API's error shape by :func:`_guarded`."""

    async def route(request: Request) -> Response:
        state: ServerState = request.app.state.imagetags
        request_id = _new_request_id()
        started = time.perf_counter()
        gated: list[KeyInfo] = []  # for the access log, once the key is known
        decisions: list[Decision] = []

        async def handle() -> Response:
            key = await _gate(state, request, gated, decisions)
            # Counted once the key has passed its gates: refusing a request there costs
            # microseconds, while one past them holds its body and an image decode.
            if state.active >= state.limits.max_concurrency:
                cap = state.limits.max_concurrency
                raise _Refusal(C.CODE_INTERNAL, f"server busy: {cap} requests in progress; retry in 1 s",
                               headers={"retry-after": "1"}, status=503)
            state.active += 1
            try:
                return await body(state, request, key, request_id)
            finally:
                state.active -= 1

        response = await _guarded(handle, request_id, started, lambda: gated[0] if gated else None)
        if decisions:
            response.headers.update(_limit_headers(state, decisions[0]))
        return response

    route.__name__ = body.__name__
    return route


@_endpoint
async def generate_tags(state: ServerState, request: Request, key: KeyInfo, request_id: str) -> Response:
    raw = await _read_body(state, request)
    checked = await state.decode(parse_request, raw, max_image_bytes=state.max_image_bytes,
                                 decode_budget=state.decode_budget)
    result, reservation = await _spend(
        state, key, lambda: state.dispatcher.tag(checked.image, checked.lang), request_id)
    assert isinstance(result, TagResult)
    return _charged(state, request, key, request_id, reservation, {
        "tags": {"tags": list(result.tags), "title": result.title, "description": result.description}})


@_endpoint
async def generate_content(state: ServerState, request: Request, key: KeyInfo, request_id: str) -> Response:
    answer = getattr(state.backend, "answer", None)
    if not callable(answer):
        raise _Refusal(C.CODE_INVALID_PARAMS,
                       f"this server's backend ({state.backend.name}) cannot answer prompts; "
                       f"use {C.GENERATE_TAGS_PATH} for tags, title and description")
    raw = await _read_body(state, request)
    checked = await state.decode(parse_request, raw, want_prompt=True,
                                 max_image_bytes=state.max_image_bytes, decode_budget=state.decode_budget)

    async def work() -> str:
        if inspect.iscoroutinefunction(answer):
            text = await answer(checked.image, checked.prompt, checked.lang)
        else:
            text = await asyncio.to_thread(answer, checked.image, checked.prompt, checked.lang)
        return str(text)

    content, reservation = await _spend(state, key, work, request_id)
    return _charged(state, request, key, request_id, reservation, {"content": content})


async def _guarded(handle: Callable[[], Any], request_id: str, started: float,
                   key: Callable[[], KeyInfo | None]) -> Response:
    """Run a handler; every refusal becomes the API's error body, anything else a 5050."""
    try:
        response = await handle()
        code = C.CODE_OK
    except _Refusal as exc:
        response = _answer(exc.code, exc.message, request_id, headers=exc.headers, status=exc.status)
        code = exc.code
    except APIError as exc:  # validation's refusals
        code = int(exc.code or C.CODE_INTERNAL)
        response = _answer(code, exc.message, request_id)
    except _HungUp:  # not a fault of the server: no traceback, and no answer can reach anyone
        info = key()
        log.info("request %s key=%s: the client hung up while sending its request",
                 request_id, info.label if info else "-")
        return Response(status_code=204)
    except Exception:  # never a traceback in a response: it goes to the log, under the request id
        info = key()
        log.exception("request %s (key %s) failed", request_id, info.label if info else "-")
        code = C.CODE_INTERNAL
        response = _answer(code, "internal server error", request_id)
    info = key()
    log.info("request %s key=%s code=%s status=%s %.1f ms", request_id, info.label if info else "-",
             code, response.status_code, (time.perf_counter() - started) * 1000)
    return response


async def health(request: Request) -> Response:
    """``GET /healthz``: liveness for a load balancer (no key needed, spends nothing)."""
    return _answer(C.CODE_OK, "ok", _new_request_id())


async def _http_error(request: Request, exc: Exception) -> Response:
    # Unknown paths and wrong methods still answer in the API's shape, with the
    # HTTP status that says what happened (404/405) and the code for "bad request".
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status >= 500:
        return _answer(C.CODE_INTERNAL, "internal server error", _new_request_id())
    asked = f"{request.method} {request.url.path}"
    request_id = _new_request_id()
    # Logged: a client pointed at the wrong path is otherwise invisible from the server's side.
    log.warning("request %s: %s answered %s (not an endpoint)", request_id, asked, status)
    if status == 404:
        detail = (f"no such endpoint: {asked}; this server answers POST {C.GENERATE_TAGS_PATH} and POST "
                  f"{C.GENERATE_CONTENT_PATH} (a client's base URL is the server's root, without /api/v1)")
    elif status == 405:
        detail = f"method not allowed: {asked}; use POST"
    else:
        detail = f"{exc}: {asked}"
    headers = getattr(exc, "headers", None) or {}
    return _answer(C.CODE_INVALID_PARAMS, detail, request_id, status=status, headers=dict(headers))


async def _internal_error(request: Request, exc: Exception) -> Response:
    request_id = _new_request_id()
    log.error("request %s failed outside a handler", request_id, exc_info=(type(exc), exc, exc.__traceback__))
    return _answer(C.CODE_INTERNAL, "internal server error", request_id)


# --------------------------------------------------------------------------- the factory

def create_app(db: str | Path | KeyStore, backend: Backend | str = "local", *,
               rate_limit: RateLimit | float | str = "30/min",
               credits_per_call: int = 1,
               max_body_bytes: int = C.SERVER_MAX_BODY_BYTES,
               max_image_bytes: int = C.SERVER_MAX_IMAGE_BYTES,
               cors_origins: Sequence[str] = (),
               validation_workers: int | None = None,
               limits: ServingLimits | None = None,
               decode_budget: int = DECODE_BUDGET_BYTES) -> Starlette:
    """The server as an ASGI app, for uvicorn or any ASGI server (one process: the
    rate limiter's counts live in memory).

    ``db`` is the SQLite file of keys and credits (see ``imagetags keys``) or a
    :class:`KeyStore`; ``backend`` a Backend or a registry name (``"local"``).
    ``cors_origins`` lets browser pages on those origins call the API directly
    (the seed's client-side ``fetch`` example); empty means no CORS headers.
    ``decode_budget`` is the memory (bytes) one image may take to decode: larger pixel
    counts get 2004 from the header alone. ``limits`` sets the body timeout and the cap on requests handled at once (the
    rest of :class:`ServingLimits` is for :func:`.serving.uvicorn_config`).
    On start-up the app claims ``db`` for itself (a second server on the same file
    fails to start) and refunds reservations a killed server left open.

    >>> app = create_app("keys.sqlite3", backend="local", rate_limit="30/min")  # doctest: +SKIP
    """
    store = db if isinstance(db, KeyStore) else KeyStore(db)
    the_backend = resolve_backend(backend) if isinstance(backend, str) else backend
    if credits_per_call < 0:
        raise ConfigurationError("credits_per_call cannot be negative")
    # One decode per core: more threads would only hold more images in memory at once.
    workers = validation_workers or max(1, min(4, os.cpu_count() or 1))
    state = ServerState(store, the_backend, RateLimiter(rate_limit), credits_per_call=int(credits_per_call),
                        max_body_bytes=int(max_body_bytes), max_image_bytes=int(max_image_bytes),
                        validation_workers=workers, limits=limits, decode_budget=int(decode_budget))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        install_loop_error_log()
        # The one server of this database from here on; what a killed one left open is refunded
        # before the first request is read.
        refunded = await state.db(store.claim_for_serving)
        if refunded:
            log.warning("refunded %d credit reservation(s) left open by a server that stopped mid-request",
                        refunded)
        log.info("serving backend %s, %s, keys in %s", the_backend.name, state.limiter, store.path)
        try:
            yield
        finally:
            await state.aclose()
            store.release_serving()

    middleware: list[Middleware] = []
    if cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        middleware.append(Middleware(CORSMiddleware, allow_origins=list(cors_origins), allow_methods=["POST"],
                                     allow_headers=["authorization", "content-type"],
                                     expose_headers=["x-request-id", "retry-after"]))
    app = Starlette(
        routes=[Route(C.GENERATE_TAGS_PATH, generate_tags, methods=["POST"]),
                Route(C.GENERATE_CONTENT_PATH, generate_content, methods=["POST"]),
                Route("/healthz", health, methods=["GET"])],
        middleware=middleware,
        exception_handlers={HTTPException: _http_error, Exception: _internal_error},
        lifespan=lifespan,
    )
    app.state.imagetags = state
    return app


__all__ = ["ServerState", "create_app"]
