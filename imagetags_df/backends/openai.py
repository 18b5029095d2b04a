"""Any OpenAI-compatible chat-completions server as a backend: OpenAI, Ollama, vLLM,
llama.cpp's ``llama-server``, LM Studio, OpenRouter, Gemini's compatibility layer...

One client class; a :class:`Preset` is only data (default URL, key variable,
concurrency). Everything HTTP is translated into our exception tree here, in
:func:`error_from_response`, as the servers really behave:

* 429 → RateLimitError after ``Retry-After`` (seconds or an HTTP date), else after the
  ``x-ratelimit-reset-*`` duration; a spent ``x-ratelimit-remaining-*`` budget on any
  answer pauses every worker through the run's pacer;
* 503 (Ollama's "server busy"), other 5xx, timeouts, dropped connections → retried;
* 401/403 → AuthenticationError (stops the run); 402 → out of credits (stops sending);
* 404 → ModelNotFoundError naming the model (``ollama pull MODEL`` for Ollama);
* 400 saying the model takes no images → ModelCapabilityError;
* a 200 whose body is ``{"error": {...}}`` (OpenRouter, when generation failed after it
  started) → handled as its code would be as an HTTP status;
* connection refused before the server ever answered → ServerUnreachableError at once.

``response_format`` falls back from a JSON schema to ``json_object`` to the prompt
alone when a server refuses it, and the fallback is kept for the rest of the run.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from .. import _constants as C
from .._exceptions import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    ConfigurationError,
    ContentBlockedError,
    InsufficientCreditsError,
    InternalServerError,
    InvalidOutputError,
    InvalidParameterError,
    ModelCapabilityError,
    ModelNotFoundError,
    RateLimitError,
    ServerUnreachableError,
)
from .._secrets import scrub, scrub_error, scrub_result
from .._types import PreparedImage, RateLimit, TagResult
from ..infra.retry import ROW_PATIENCE, Patience, announce_wait, parse_duration, parse_retry_after, wait_too_long
from . import vlm_image, vlm_prompt
from .base import Backend, DeadlinePassed, post_within, preload_async_http

if TYPE_CHECKING:
    from ..infra.ratelimit import Pacer


@dataclass(frozen=True)
class Preset:
    """How to reach one kind of server by default. Data, not a subclass."""

    name: str
    base_url: str
    #: Environment variable holding the base URL (OpenAI SDK's own names), or None.
    base_url_env: str | None
    #: Environment variable holding the API key, or None when the server takes none.
    key_env: str | None
    #: Calls in flight by default.
    concurrency: int
    #: Seconds to wait for one answer (a local model on a CPU takes minutes).
    timeout: float
    #: Sampling temperature to send, or None to leave the server's default (OpenAI's
    #: reasoning models refuse any other value).
    temperature: float | None = None
    #: What to tell a user whose model the server does not have.
    pull_hint: str = ""
    #: What to tell a user whose server is not running.
    start_hint: str = ""


PRESETS: dict[str, Preset] = {
    "openai": Preset(
        name="openai", base_url="https://api.openai.com/v1", base_url_env="OPENAI_BASE_URL",
        key_env="OPENAI_API_KEY", concurrency=8, timeout=120.0,
        pull_hint="check the model name against the server's GET {base_url}/models"),
    # A local Ollama runs one request at a time unless OLLAMA_NUM_PARALLEL is raised on
    # the server: more in flight only queue there (and time out in the queue).
    "ollama": Preset(
        name="ollama", base_url="http://localhost:11434/v1", base_url_env=None, key_env=None,
        concurrency=1, timeout=600.0, temperature=0.2,
        pull_hint="run `ollama pull {model}` on the server first",
        start_hint="start it with `ollama serve`"),
}

#: Output tokens a model may spend on one answer (a runaway local model stops here).
MAX_OUTPUT_TOKENS = 1024
#: Text tokens of our prompt plus an answer, for budgeting before the first call reports usage.
PROMPT_TOKENS_GUESS = 350
ANSWER_TOKENS_GUESS = 250
#: Added to a pause measured from our send time: the request reached the server a little
#: after we sent it, so its window frees a little after send time + reset.
LIMIT_MARGIN = 0.05
#: A 429 that says when to come back within this many seconds is waited out here, every
#: worker paused, without spending one of the engine's retries: under a limit announced
#: in headers, a sliding window frees one slot at a time and several waiting workers try
#: it, so a row can be refused many times before its turn without anything being wrong.
RATE_LIMIT_WAIT_MAX = 120.0
#: Formats tried in turn when a server refuses the previous one.
FORMAT_MODES = ("json_schema", "json_object", "prompt")
_FORMAT_WORDS = ("response_format", "json_schema", "json schema", "json_object", "structured output",
                 "guided", "schema", "grammar")
#: How servers say the model takes no images (OpenAI, vLLM, llama.cpp, Ollama, LM Studio, OpenRouter).
_NO_IMAGE_WORDS = ("image input is not supported", "images are not supported", "does not support image",
                   "doesn't support image", "not a multimodal model", "is only supported by certain models",
                   "missing data required for image input", "support image input", "at most 0 image",
                   "does not support vision", "not support multimodal")


def ollama_base_url(host: str | None) -> str:
    """``$OLLAMA_HOST`` (``0.0.0.0``, ``host:port``, ``https://host``...) as an OpenAI base URL.

    >>> ollama_base_url(None), ollama_base_url("gpu-box"), ollama_base_url("https://o.example.com")
    ('http://localhost:11434/v1', 'http://gpu-box:11434/v1', 'https://o.example.com:443/v1')
    """
    if not host or not host.strip():
        return PRESETS["ollama"].base_url
    host = host.strip()
    if "://" not in host:
        host = "http://" + host
    parts = urlsplit(host)
    port = parts.port or (443 if parts.scheme == "https" else 11434)
    name = parts.hostname or "localhost"
    if ":" in name:
        name = f"[{name}]"
    return f"{parts.scheme}://{name}:{port}{parts.path.rstrip('/')}/v1"


def limit_pause(headers: httpx.Headers | dict[str, str], now: float | None = None) -> float | None:
    """Seconds to hold every worker when a response says the request or token budget is spent.

    Reads OpenAI-style ``x-ratelimit-remaining-*`` / ``x-ratelimit-reset-*`` and
    Anthropic-style ``anthropic-ratelimit-*-remaining`` / ``-reset`` (an ISO time).
    """
    h = {k.lower(): v for k, v in headers.items()}
    pause: float | None = None
    for kind in ("requests", "tokens"):
        remaining = h.get(f"x-ratelimit-remaining-{kind}")
        reset = parse_duration(h.get(f"x-ratelimit-reset-{kind}"))
        if remaining is None:
            remaining = h.get(f"anthropic-ratelimit-{kind}-remaining")
            reset = _iso_seconds(h.get(f"anthropic-ratelimit-{kind}-reset"), now)
        try:
            spent = remaining is not None and float(remaining) <= 0
        except ValueError:
            spent = False
        if spent and reset is not None:
            pause = max(pause or 0.0, reset)
    return pause


def _iso_seconds(value: str | None, now: float | None) -> float | None:
    if not value:
        return None
    from datetime import datetime

    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
    return max(0.0, when - (time.time() if now is None else now))


def _int_or_none(value: Any) -> int | None:
    try:
        return None if value is None or isinstance(value, bool) else int(value)
    except (TypeError, ValueError):
        return None


#: More tokens than any one call can use (the largest context windows are ~10^6-10^7).
MAX_REPORTED_TOKENS = 50_000_000


def _usage(value: Any) -> int | None:
    """A usage count as reported, or None (then estimated) when it is missing, negative or absurd."""
    n = _int_or_none(value)
    return n if n is not None and 0 <= n <= MAX_REPORTED_TOKENS else None


def estimate_text_tokens(text: str) -> int:
    """Tokens of an answer the server gave no count for: a UTF-8 byte count over 4 (about
    right for English; CJK, three bytes a character, comes out near one token a character).

    >>> estimate_text_tokens("a" * 400), estimate_text_tokens("猫" * 100)
    (100, 75)
    """
    return -(-len(text.encode("utf-8", "replace")) // 4)


class _FormatRefused(Exception):
    """The server refused our ``response_format``; the caller falls back."""


# --------------------------------------------------------------------------- the client
class OpenAICompatibleBackend(Backend):
    """Tags from a vision-language model behind ``POST {base_url}/chat/completions``.

    Build it through :func:`imagetags_df.backends.resolve_backend` (which settles
    arguments, environment and defaults); the constructor takes settled values.

    >>> be = OpenAICompatibleBackend(model="qwen2.5vl:7b", preset="ollama")
    >>> be.base_url, be.max_concurrency
    ('http://localhost:11434/v1', 1)
    """

    costs_credits = False
    max_batch = 1
    reads_limit_headers = True
    reports_tokens = True

    def __init__(self, *, model: str, preset: str | Preset = "openai", base_url: str | None = None,
                 api_key: str | None = None, labels: Sequence[str] | None = None,
                 instructions: str | None = None, max_side: int | None = vlm_image.DEFAULT_MAX_SIDE,
                 timeout: float | None = None, rate_limit: Any = None, max_concurrency: int | None = None,
                 http_client: httpx.AsyncClient | None = None) -> None:
        p = PRESETS[preset] if isinstance(preset, str) else preset
        if not model or not isinstance(model, str) or not model.strip():
            raise ConfigurationError(missing_model_help(p.name))
        self.preset = p
        self.name = p.name
        self.model = model.strip()
        self.base_url = (base_url or p.base_url).rstrip("/")
        if not self.base_url.startswith(("http://", "https://")):
            raise ConfigurationError(f"base_url must start with http:// or https://, got {self.base_url!r}")
        self.__api_key = api_key or None
        self.labels = vlm_prompt.clean_labels(labels) if labels is not None else None
        if labels is not None and not self.labels:
            raise ConfigurationError("labels is empty: give at least one label, or leave labels out")
        self.instructions = instructions.strip() if instructions and instructions.strip() else None
        if max_side is not None and (not isinstance(max_side, int) or isinstance(max_side, bool) or max_side < 32):
            raise ConfigurationError(f"max_side must be a whole number of pixels >= 32 (or None), not {max_side!r}")
        self.max_side = max_side
        self.timeout = float(timeout) if timeout is not None else p.timeout
        self.rate_limit = RateLimit.parse(rate_limit) if rate_limit is not None else None
        self.max_concurrency = max_concurrency or p.concurrency
        self.stats = vlm_image.ShrinkStats()
        self._http = http_client
        self._owns_http = http_client is None
        self._pacer: Pacer | None = None
        self._hold_until = 0.0  # the same pause, for callers without a pacer (the server)
        self._format = 0  # index into FORMAT_MODES, kept for the run
        self._answered = False  # the server has answered at least once
        self._halt: RateLimitError | None = None  # the server asked for a pause past MAX_PAUSE

    # ------------------------------------------------------------------ Backend API
    def cache_identity(self) -> str:
        # Everything that changes what an image gets; never the key. The preset's name is
        # left out: "ollama" and "openai" pointed at one server and model give one answer.
        labels = "-" if self.labels is None else _digest("\n".join(self.labels))
        instructions = "-" if self.instructions is None else _digest(self.instructions)
        return (f"vlm|{self.base_url}|{self.model}|p{vlm_prompt.PROMPT_VERSION}|side{self.max_side}"
                f"|labels:{labels}|instr:{instructions}")

    def limiter_id(self) -> str:
        key = self.__api_key or ""
        return f"{self.base_url}|{hashlib.sha256(b'imagetags-df pacing' + key.encode()).hexdigest()[:16]}"

    def attach_pacer(self, pacer: Pacer) -> None:
        """The run's pacer: a spent rate-limit budget seen in any answer holds every worker on it."""
        self._pacer = pacer

    def expected_tokens(self, images: Sequence[PreparedImage]) -> int | None:
        """Tokens these images are expected to cost before any call has reported its usage:
        OpenAI's tile formula at the size we send, plus our prompt and a typical answer."""
        total = 0
        for img in images:
            w, h = img.width, img.height
            if self.max_side and max(w, h) > self.max_side:
                scale = self.max_side / max(w, h)
                w, h = round(w * scale), round(h * scale)
            total += vlm_image.estimate_image_tokens(w, h) + PROMPT_TOKENS_GUESS + ANSWER_TOKENS_GUESS
        return total

    @property
    def format_mode(self) -> str:
        return FORMAT_MODES[self._format]

    async def tag_batch(self, images: Sequence[PreparedImage], lang: str) -> list[TagResult | BaseException]:
        out: list[TagResult | BaseException] = []
        for img in images:
            try:
                out.append(scrub_result(await self.tag_one(img, lang), self.__api_key))
            except Exception as exc:  # noqa: BLE001 - per-image outcome
                out.append(scrub_error(exc, self.__api_key))
        return out

    def warm(self) -> None:
        """Build the HTTP client and import what its first request would, before the first slot."""
        self._ensure_http()
        preload_async_http()

    async def aclose(self) -> None:
        self._halt = None  # the next run asks the server again
        if self._http is not None and self._owns_http:
            await self._http.aclose()
            self._http = None

    def __repr__(self) -> str:
        return f"<OpenAICompatibleBackend {self.name} {self.model} at {self.base_url}>"

    # ------------------------------------------------------------------ one image
    async def tag_one(self, image: PreparedImage, lang: str) -> TagResult:
        """Tags for one image: one call, and one re-ask when the answer is unusable."""
        if lang not in vlm_prompt.LANGUAGE_NAMES:
            raise ConfigurationError(f"lang {lang!r} is not supported; use one of {', '.join(C.LANGUAGES)}")
        data, mime, w, h = await asyncio.to_thread(vlm_image.shrink, image, self.max_side)
        self.stats.add(image, data, w, h)
        url = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
        used = [0, 0]  # input, output tokens of every call for this image, failed ones too
        try:
            return await self._tag_shrunk(image, url, vlm_image.estimate_image_tokens(w, h), lang, used)
        except Exception as exc:
            # What the failed calls cost still counts against max_tokens_budget.
            exc.input_tokens, exc.output_tokens = used  # type: ignore[attr-defined]
            raise

    async def _tag_shrunk(self, image: PreparedImage, url: str, image_tokens: int, lang: str,
                          used: list[int]) -> TagResult:
        previous: str | None = None
        problem: str | None = None
        for attempt in (1, 2):
            if attempt == 2:
                await self._wait_turn()
            messages = vlm_prompt.build_messages(url, lang, self.labels, self.instructions,
                                                 previous=previous, problem=problem)
            reply = await self._complete(messages)
            # A server that reports no usage (or nonsense) is charged our estimate: the image by
            # the tile formula and the prompt, the answer by its length.
            used[0] += (reply.input_tokens if reply.input_tokens is not None
                        else image_tokens + PROMPT_TOKENS_GUESS)
            used[1] += (reply.output_tokens if reply.output_tokens is not None
                        else estimate_text_tokens(reply.content or ""))
            tokens_in, tokens_out = used
            try:
                # Off the event loop: a long answer takes a while, and other calls are waiting.
                answer = await asyncio.to_thread(vlm_prompt.parse_answer, reply.content, lang, self.labels,
                                                 truncated=reply.finish_reason == "length")
            except vlm_prompt.OutputProblem as exc:
                previous, problem = reply.content, str(exc)
                continue
            return TagResult(tags=answer.tags, title=answer.title, description=answer.description,
                             request_id=reply.request_id, backend=self.name,
                             input_tokens=tokens_in, output_tokens=tokens_out)
        raise InvalidOutputError(
            f"{image.source}: the model's answer could not be used, also when asked again: {problem}",
            request_id=reply.request_id, status_code=200)

    async def _wait_turn(self) -> None:
        if self._pacer is not None:
            await self._pacer.acquire()
        delay = self._hold_until - time.monotonic()
        if delay > 0:
            announce_wait(delay, f"the rate limit of {self.base_url}")
            await asyncio.sleep(delay)

    def _hold(self, seconds: float) -> None:
        if self._pacer is not None:
            self._pacer.pause(seconds)
        self._hold_until = max(self._hold_until, time.monotonic() + seconds)

    # ------------------------------------------------------------------ HTTP
    def _headers(self) -> dict[str, str]:
        headers = {"content-type": "application/json", "accept": "application/json",
                   "user-agent": "imagetags-df/0.1"}
        if self.__api_key:
            headers["authorization"] = f"Bearer {self.__api_key}"
        return headers

    def request_body(self, messages: list[dict[str, Any]], mode: str | None = None) -> dict[str, Any]:
        """The JSON body of one chat-completions request (tests compare it with the servers' docs)."""
        body: dict[str, Any] = {"model": self.model, "messages": messages, "stream": False,
                                "max_tokens": MAX_OUTPUT_TOKENS}
        if self.preset.temperature is not None:
            body["temperature"] = self.preset.temperature
        fmt = vlm_prompt.response_format(mode or self.format_mode, self.labels)
        if fmt is not None:
            body["response_format"] = fmt
        return body

    async def _complete(self, messages: list[dict[str, Any]]) -> _Reply:
        # The row's patience when the engine runs us (shared with its retries), else this call's.
        patience = ROW_PATIENCE.get() or Patience()
        while True:
            mode = self.format_mode
            if self._halt is not None:
                raise self._halt
            try:
                return await self._post(self.request_body(messages, mode))
            except RateLimitError as exc:
                wait = exc.retry_after
                patience.note(exc)
                if wait is None or wait > RATE_LIMIT_WAIT_MAX or not patience.allows(wait):
                    raise
                patience.spend(wait)
                self._hold(wait)
                await self._wait_turn()
            except _FormatRefused as exc:
                i = FORMAT_MODES.index(mode)
                if i + 1 >= len(FORMAT_MODES):
                    raise InvalidParameterError(f"the server refused the request: {exc}", status_code=400) from None
                # Remembered for the run; a concurrent call may have moved it on already.
                self._format = max(self._format, i + 1)

    def _ensure_http(self) -> httpx.AsyncClient:
        if self._http is None:
            limits = httpx.Limits(max_connections=max(4, self.max_concurrency * 2))
            self._http = httpx.AsyncClient(
                timeout=httpx.Timeout(self.timeout, connect=min(C.DEFAULT_CONNECT_TIMEOUT, self.timeout)),
                limits=limits)
        return self._http

    async def _post(self, body: dict[str, Any]) -> _Reply:
        http = self._ensure_http()
        url = self.base_url + "/chat/completions"
        sent = time.monotonic()
        try:
            response = await post_within(http, url, content=json.dumps(body).encode(), headers=self._headers(),
                                         deadline=self.timeout)
        except httpx.ConnectError as exc:
            if not self._answered:
                hint = f" ({self.preset.start_hint})" if self.preset.start_hint else ""
                raise ServerUnreachableError(
                    f"cannot reach {self.base_url}; is the server running?{hint} "
                    f"[{type(exc).__name__}]") from None
            raise APIConnectionError.could_not_connect(
                f"cannot connect to {self.base_url}: {type(exc).__name__}") from None
        except (httpx.TimeoutException, DeadlinePassed):
            raise APITimeoutError(f"no answer from {self.base_url} within {self.timeout:g} s "
                                  "(timeout= bounds the whole request, however slowly its answer comes)") from None
        except httpx.TransportError as exc:
            raise APIConnectionError(f"connection to {self.base_url} failed: {type(exc).__name__}") from None
        self._answered = True
        pause = limit_pause(response.headers)
        if pause:
            # Servers count a request when it arrives, and the headers describe the window
            # as it was then; the answer comes a generation later. Measured from our send
            # time, the pause ends when the window really frees, not a whole latency after.
            left = pause - (time.monotonic() - sent) + LIMIT_MARGIN
            if left > C.MAX_PAUSE:
                # This answer is kept; no later call is sent. Holding every worker (and, through
                # the cache directory, later runs) for hours without a word helps nobody.
                self._halt = wait_too_long(left, "its x-ratelimit-reset headers, with nothing remaining")
            elif left > 0:
                self._hold(left)
        mode = body.get("response_format", {}).get("type") if body.get("response_format") else None
        # Off the event loop: a large answer's JSON would hold every other call's progress.
        return await asyncio.to_thread(self._read, response, mode)

    def _read(self, response: httpx.Response, mode: str | None) -> _Reply:
        request_id = response.headers.get("x-request-id") or response.headers.get("request-id")
        try:
            payload = response.json()
        except (ValueError, UnicodeDecodeError, RecursionError):
            payload = None
        if response.status_code != 200 or (isinstance(payload, dict) and payload.get("error")):
            exc = error_from_response(response.status_code, payload, response, model=self.model,
                                      preset=self.preset, base_url=self.base_url, secret=self.__api_key)
            if mode is not None and isinstance(exc, InvalidParameterError) and _mentions(exc.message, _FORMAT_WORDS):
                raise _FormatRefused(exc.message)
            exc.request_id = exc.request_id or request_id
            raise exc
        if not isinstance(payload, dict):
            snippet = (scrub(response.text[:4096], self.__api_key)[:80].strip().replace("\n", " ")
                       if response.content else "no body")
            raise InternalServerError(f"unexpected response: HTTP 200 with {snippet!r}", status_code=200,
                                      request_id=request_id)
        choices = payload.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise InternalServerError("answer without choices", status_code=200, request_id=request_id)
        message = choices[0].get("message") or {}
        if not isinstance(message, dict):
            raise InternalServerError(f"answer whose choices[0].message is a {type(message).__name__}, "
                                      "not an object", status_code=200, request_id=request_id)
        content = message.get("content")
        if isinstance(content, list):  # a few servers send content parts back
            content = "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
        if not content and message.get("refusal"):
            raise ContentBlockedError(f"the model refused: {str(message['refusal'])[:200]}",
                                      code=C.CODE_CONTENT_BLOCKED, status_code=200, request_id=request_id)
        usage: dict[str, Any] = payload["usage"] if isinstance(payload.get("usage"), dict) else {}
        return _Reply(content=content if isinstance(content, str) else None,
                      finish_reason=choices[0].get("finish_reason"),
                      input_tokens=_usage(usage.get("prompt_tokens")),
                      output_tokens=_usage(usage.get("completion_tokens")),
                      request_id=request_id or (str(payload["id"]) if payload.get("id") else None))


@dataclass(frozen=True)
class _Reply:
    content: str | None
    finish_reason: str | None
    input_tokens: int | None
    output_tokens: int | None
    request_id: str | None


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _mentions(text: str, words: Sequence[str]) -> bool:
    low = text.lower()
    return any(w in low for w in words)


def missing_model_help(preset: str) -> str:
    example = "qwen2.5vl:7b" if preset == "ollama" else "gpt-4o-mini"
    return (f'backend="{preset}" needs a model: pass model="{example}" (or --model {example} on the '
            "command line); any vision model the server has will do")


def error_from_response(status: int, payload: Any, response: httpx.Response | None = None, *,
                        model: str, preset: Preset, base_url: str, secret: str | None = None) -> APIError:
    """The one translation from an error answer (HTTP status, or a 200 with an error body) to our tree."""
    error = payload.get("error") if isinstance(payload, dict) else None
    code: Any = None
    if isinstance(error, dict):
        message = str(error.get("message") or "")
        code = error.get("code")
    elif isinstance(error, str):  # Ollama's native shape, some proxies
        message = error
    else:
        text = scrub(response.text[:4096], secret) if response is not None and response.content else ""
        message = ("an HTML page" if "<html" in text[:500].lower()
                   else (text[:200].strip().replace("\n", " ") or "no body"))
    message = scrub(message, secret)
    if status == 200:
        # An error after generation had started (OpenRouter): the code is an HTTP-like status.
        status = _int_or_none(code) or (429 if "rate" in str(code).lower() else 502)
    headers = response.headers if response is not None else httpx.Headers()
    retry_after = parse_retry_after(headers.get("retry-after"))
    source = "Retry-After"
    if retry_after is None and status == 429:
        for name in ("x-ratelimit-reset-requests", "x-ratelimit-reset-tokens"):
            retry_after, source = parse_duration(headers.get(name)), name
            if retry_after:
                break
    what = f"HTTP {status} from {base_url}: {message}"
    if status in (400, 404, 415, 422, 500) and _mentions(message, _NO_IMAGE_WORDS):
        return ModelCapabilityError(
            f"model {model!r} does not take images ({message}); pick a vision model, e.g. qwen2.5vl:7b, "
            "gemma3, llava or gpt-4o-mini", status_code=status)
    if status in (401, 403):
        fix = (f"set a valid key: export {preset.key_env}=... (or pass api_key=...)" if preset.key_env
               else "pass api_key=... if the server requires one")
        return AuthenticationError(f"the server refused the API key ({what}); {fix}", status_code=status)
    if status == 402:
        return InsufficientCreditsError(f"out of credits ({what}); top up, then re-run",
                                        code=C.CODE_NO_CREDITS, status_code=status)
    if status == 404:
        if _mentions(message, ("model",)) or message == "no body":
            hint = preset.pull_hint.format(model=model, base_url=base_url)
            return ModelNotFoundError(f"model {model!r} was not found at {base_url}: {hint} ({message})",
                                      status_code=404)
        return ModelNotFoundError(f"{what}; is base_url right? It usually ends in /v1", status_code=404)
    if status == 429:
        limited = RateLimitError(f"rate limited ({what})", code=C.CODE_RATE_LIMITED, status_code=429,
                                 retry_after=retry_after)
        limited.retry_after_source = source  # type: ignore[attr-defined]
        return limited
    if status == 408:
        return APITimeoutError(f"the server gave up waiting ({what})", status_code=408, retry_after=retry_after)
    if status >= 500:
        return InternalServerError(what, status_code=status, retry_after=retry_after)
    return InvalidParameterError(what, status_code=status)
