"""Every number and default the library settles on, in one place.

Tests and the server import these instead of repeating them, so a change here
changes behaviour everywhere at once.
"""

from __future__ import annotations

#: Languages the API accepts (API.md). The first is the default.
LANGUAGES: tuple[str, ...] = ("en", "zh", "fr", "de", "es", "ja", "ko")
DEFAULT_LANG = "en"

DEFAULT_BASE_URL = "https://api.imagedescriber.app"
GENERATE_TAGS_PATH = "/api/v1/generate_tags"
GENERATE_CONTENT_PATH = "/api/v1/generate_content"

ENV_API_KEY = "IMAGEDESCRIBER_API_KEY"
ENV_BASE_URL = "IMAGEDESCRIBER_BASE_URL"
ENV_CACHE_DIR = "IMAGETAGS_CACHE_DIR"

#: "At most 4 MB of image data" (API.md). We read MB as 10**6 bytes when we
#: *send*, the stricter reading, so a service that means 10**6 never sees an
#: oversize body from us; the server *accepts* up to 4 MiB, the looser one.
MAX_IMAGE_BYTES = 4_000_000
SERVER_MAX_IMAGE_BYTES = 4 * 1024 * 1024
#: base64 inflates by 4/3, and may come wrapped at 76 columns (MIME) with a line
#: break that JSON writes as 4 characters (``\r\n``); add room for the data-URI
#: prefix and the JSON keys. The image itself is counted after decoding.
SERVER_MAX_BODY_BYTES = SERVER_MAX_IMAGE_BYTES * 4 // 3 * 80 // 76 + 64 * 1024

#: Files bigger than this are refused before a byte is read: a huge (or sparse)
#: file named .jpg would otherwise be read whole into memory. Real photos, even
#: 100-megapixel TIFFs, stay well under it; ``max_file_bytes=`` raises it.
MAX_FILE_BYTES = 64 * 1024 * 1024
ENV_MAX_FILE_BYTES = "IMAGETAGS_MAX_FILE_BYTES"
#: Seconds an image URL (an ``http(s)://`` cell) has to arrive whole, however slowly it trickles.
URL_FETCH_TIMEOUT = 30.0
#: Seconds a process's claim on an image lasts unless renewed (see cache.py's claims).
ENV_CLAIM_LEASE = "IMAGETAGS_CLAIM_LEASE"
#: The offline tagger's model precision: "int8" (the quantized models, about twice as fast
#: on a CPU with int8 dot-product instructions) or "float32" (the exported models as
#: trained). The default is the one whose tags measured no worse (docs/speed.md).
PRECISIONS = ("float32", "int8")
DEFAULT_PRECISION = "float32"
ENV_PRECISION = "IMAGETAGS_PRECISION"
#: Bytes the scan may keep of the files it reads to hash, so the tag phase need not
#: read them again; files past it are read a second time (and checked unchanged).
READ_ONCE_BYTES = 256 * 1024 * 1024

#: Pillow's decompression-bomb guard: refuse images with more pixels than this.
MAX_IMAGE_PIXELS = 100_000_000
#: Formats the API takes as they are (Pillow format name -> MIME type).
API_FORMATS: dict[str, str] = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}

# Rate limiting and pacing ---------------------------------------------------
DEFAULT_RATE_LIMIT_PER_MIN = 30.0
#: Requests are spaced this much wider than the limit strictly needs, so
#: network jitter never lands two of them inside one of the server's windows.
RATE_LIMIT_SAFETY = 0.02
MAX_DEFAULT_CONCURRENCY = 64

# Retries (see retry.py) -----------------------------------------------------
DEFAULT_MAX_RETRIES = 5
INITIAL_RETRY_DELAY = 1.0
MAX_RETRY_DELAY = 60.0
RETRY_JITTER = 0.25
DEFAULT_TIMEOUT = 60.0
#: Seconds one row may spend waiting for rate limits, across every retry and every
#: re-ask: one budget per row, not one per attempt. Past it the row fails, saying what
#: the server asked for.
RATE_LIMIT_PATIENCE = 900.0
#: The longest pause a server's answer may impose on every worker (a 429's Retry-After or a
#: spent ``x-ratelimit-remaining-*`` budget). A server asking for more stops the run with an
#: error saying so: finished rows are cached, and a later run picks up from there.
MAX_PAUSE = 120.0
#: Waits longer than this are announced on stderr: what for, and until when.
ANNOUNCE_WAIT = 5.0
#: On Ctrl-C, calls already sent are paid for: wait this long for them to land
#: in the cache before giving up on them.
INTERRUPT_GRACE = 15.0
DEFAULT_CONNECT_TIMEOUT = 10.0
#: Bytes of an answer read before giving up on it: a tags answer is a few kilobytes, and
#: a server that sends hundreds of megabytes would otherwise fill memory and the cache.
MAX_ANSWER_BYTES = 2_000_000
#: Connections that fail in a row (refused, or not made in time) before a run stops
#: with ServerUnreachableError instead of retrying row after row against nothing...
DEAD_SERVER_FAILURES = 3
#: ...at once when the server has not answered once in this run; after it has, only
#: once it has been silent this long, so a restart or a short outage is waited out.
DEAD_SERVER_SECONDS = 30.0

# API error codes (API.md) ---------------------------------------------------
CODE_OK = 0
CODE_UNAUTHORIZED = 1002
CODE_INVALID_KEY = 1003
CODE_RATE_LIMITED = 1004
CODE_INVALID_PARAMS = 1005
CODE_NO_CREDITS = 2002
CODE_CONTENT_BLOCKED = 2003
CODE_INVALID_IMAGE = 2004
CODE_UPLOAD_FAILED = 2005
CODE_INTERNAL = 5050

#: HTTP status the server sends with each code (our reading, API.md).
HTTP_STATUS_FOR_CODE: dict[int, int] = {
    CODE_UNAUTHORIZED: 401,
    CODE_INVALID_KEY: 401,
    CODE_RATE_LIMITED: 429,
    CODE_INVALID_PARAMS: 400,
    CODE_INVALID_IMAGE: 400,
    CODE_NO_CREDITS: 402,
    CODE_CONTENT_BLOCKED: 422,
    CODE_UPLOAD_FAILED: 502,
    CODE_INTERNAL: 500,
}
#: Codes worth another attempt; everything else is final for the row or the run.
RETRYABLE_CODES = frozenset({CODE_RATE_LIMITED, CODE_UPLOAD_FAILED, CODE_INTERNAL})

#: Bumped when the cached value's meaning changes, so old entries are ignored.
CACHE_SCHEMA = 1

# Claims: one process tags an image, the others sharing its cache wait -------
#: How long a claim holds without renewal: a process killed mid-call has its
#: images tagged by another one at most this long after. Renewed every third of it.
CLAIM_LEASE_SECONDS = 60.0
#: How often a process waiting on another's claims looks for their answers.
CLAIM_POLL_SECONDS = 0.25
