"""The one exception tree.

    ImageTagsError
    ├── ConfigurationError          bad option, missing API key, missing extra
    ├── ImageError                  a row's image could not be used (local, never sent)
    │   ├── ImageNotFoundError
    │   ├── UnsupportedImageError   not an image, or a format Pillow cannot read
    │   ├── CorruptImageError       empty, truncated or undecodable
    │   └── ImageTooLargeError      decompression bomb, or cannot be shrunk to 4 MB
    ├── BudgetExceededError         max_credits / max_tokens_budget would be exceeded
    └── APIError                    the service answered with an error (or not at all)
        ├── AuthenticationError     1002 / 1003 / HTTP 401, 403: stops the run
        ├── RateLimitError          1004 / HTTP 429: retried after Retry-After
        ├── InvalidParameterError   1005
        ├── InsufficientCreditsError 2002 / HTTP 402: stops sending
        ├── ContentBlockedError     2003
        ├── InvalidImageFormatError 2004
        ├── UploadFailedError       2005: retried
        ├── InternalServerError     5050 / HTTP 5xx / unreadable body: retried
        ├── ModelNotFoundError      no such model (or endpoint) on the server: stops the run
        ├── ModelCapabilityError    the model takes no images: stops the run
        ├── InvalidOutputError      a model's answer was unusable, even after one re-ask
        └── APIConnectionError      timeout, refused or dropped connection: retried
            ├── APITimeoutError
            └── ServerUnreachableError  refused before the server ever answered: stops the run

    KeyboardInterrupt
    └── RunInterrupted              Ctrl-C: says how many rows are done and cached

API errors carry ``code``, ``message``, ``request_id`` and ``status_code``.
Errors whose ``stops_run`` is true end the whole run: every other row would fail the same way.
Messages never contain the API key: nothing here is ever given it.
"""

from __future__ import annotations

from . import _constants as C


class ImageTagsError(Exception):
    """Base class of every error this library raises on purpose."""

    #: The API error code for this error, or None for local errors.
    code: int | None = None
    #: True when no other row can succeed either (bad key, unknown model, no server):
    #: the engine stops the run and raises it instead of recording it per row.
    stops_run: bool = False


class ConfigurationError(ImageTagsError, ValueError):
    """An option is wrong or something needed (a key, an extra) is missing."""


class BudgetExceededError(ImageTagsError):
    """Sending this image would spend more than ``max_credits``."""


class ImageError(ImageTagsError):
    """A row's image cannot be used. The message names the file or row."""

    def __init__(self, message: str, *, source: str | None = None) -> None:
        super().__init__(message)
        self.source = source


class ImageNotFoundError(ImageError):
    pass


class UnsupportedImageError(ImageError):
    pass


class CorruptImageError(ImageError):
    pass


class ImageTooLargeError(ImageError):
    pass


class APIError(ImageTagsError):
    """The service refused or failed a request."""

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        request_id: str | None = None,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.request_id = request_id
        self.status_code = status_code
        #: Seconds the service asked us to wait (Retry-After), if it said.
        self.retry_after = retry_after

    def __str__(self) -> str:
        parts = [self.message]
        if self.code is not None:
            parts.append(f"code={self.code}")
        if self.status_code is not None:
            parts.append(f"http={self.status_code}")
        if self.request_id:
            parts.append(f"request_id={self.request_id}")
        return " ".join([parts[0], "(" + ", ".join(parts[1:]) + ")"]) if len(parts) > 1 else parts[0]

    def __reduce__(self):  # keep keyword attributes across pickling (processes, tqdm)
        return (_rebuild_api_error, (type(self), self.message, self.code, self.request_id,
                                     self.status_code, self.retry_after))


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a run; what was done (and paid for) is cached.

    A KeyboardInterrupt, so scripts stop as they always do on Ctrl-C; IPython and
    Jupyter show its one line instead of a traceback through the engine's threads.
    """

    def __init__(self, done: int, total: int, *, kept: bool = True) -> None:
        self.done, self.total, self.kept = done, total, kept
        if kept:
            message = f"{done}/{total} done and cached; run again to finish"
        else:
            message = f"{done}/{total} done, but the cache is in memory only: a re-run starts over"
        super().__init__(message)

    def _render_traceback_(self) -> list[str]:  # IPython's hook for a custom traceback
        return [str(self)]

    def __reduce__(self):
        return (type(self), (self.done, self.total), {"kept": self.kept})


def _rebuild_api_error(cls, message, code, request_id, status_code, retry_after):
    return cls(message, code=code, request_id=request_id, status_code=status_code,
               retry_after=retry_after)


class AuthenticationError(APIError):
    """1002/1003: the key is missing, malformed or wrong. Retrying cannot help."""

    stops_run = True


class RateLimitError(APIError):
    """1004 or HTTP 429."""


class InvalidParameterError(APIError):
    """1005."""


class InsufficientCreditsError(APIError):
    """2002: the account has no credits left."""


class ContentBlockedError(APIError):
    """2003: the content filter blocked this image; it will never pass."""


class InvalidImageFormatError(APIError):
    """2004."""


class UploadFailedError(APIError):
    """2005."""


class InternalServerError(APIError):
    """5050, an HTTP 5xx, or a body that is not the API's JSON."""


class APIConnectionError(APIError):
    """No answer: connection refused or dropped."""

    #: True when no connection could be made at all (refused, or no connect in time),
    #: as opposed to one dropped or timed out after the server took the request. A run
    #: that only meets these stops with ServerUnreachableError instead of retrying each row.
    connect_failed: bool = False

    @classmethod
    def could_not_connect(cls, message: str) -> APIConnectionError:
        exc = cls(message)
        exc.connect_failed = True
        return exc


class APITimeoutError(APIConnectionError):
    """No answer in time."""


class ServerUnreachableError(APIConnectionError):
    """The connection was refused before the server ever answered: it is not running there."""

    stops_run = True
    connect_failed = True


class ModelNotFoundError(APIError):
    """The server does not have the model asked for (or the URL is not the API's)."""

    stops_run = True


class ModelCapabilityError(APIError):
    """The model cannot do what was asked: it takes no images."""

    stops_run = True


class InvalidOutputError(APIError):
    """A model answered, but not with usable tags, even when asked again."""


_CLASS_FOR_CODE: dict[int, type[APIError]] = {
    C.CODE_UNAUTHORIZED: AuthenticationError,
    C.CODE_INVALID_KEY: AuthenticationError,
    C.CODE_RATE_LIMITED: RateLimitError,
    C.CODE_INVALID_PARAMS: InvalidParameterError,
    C.CODE_NO_CREDITS: InsufficientCreditsError,
    C.CODE_CONTENT_BLOCKED: ContentBlockedError,
    C.CODE_INVALID_IMAGE: InvalidImageFormatError,
    C.CODE_UPLOAD_FAILED: UploadFailedError,
    C.CODE_INTERNAL: InternalServerError,
}

def api_error_for(
    code: int | None,
    message: str,
    *,
    request_id: str | None = None,
    status_code: int | None = None,
    retry_after: float | None = None,
) -> APIError:
    """The one factory from an API code (or, lacking one, an HTTP status) to an exception."""
    cls: type[APIError]
    if code in _CLASS_FOR_CODE:
        cls = _CLASS_FOR_CODE[code]
    elif status_code == 429:
        cls, code = RateLimitError, C.CODE_RATE_LIMITED
    elif status_code == 401:
        cls = AuthenticationError
    elif status_code is not None and status_code >= 500:
        cls = InternalServerError
    else:
        cls = APIError
    return cls(message, code=code, request_id=request_id, status_code=status_code,
               retry_after=retry_after)
