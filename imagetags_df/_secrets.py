"""Keeping API keys out of everything a server's answer can reach: one scrubber for every backend.

A hostile or broken server can echo the ``Authorization`` header back in an error message,
an HTML page, a request id or even the tags. Whatever we build from a server's body passes
through :func:`scrub` before it becomes an exception message, an ``error`` cell, a CLI line
or a cache entry. It blanks the key itself, anything after ``Bearer``/``Basic``/``Token``,
and strings shaped like the keys the common services issue.

Scrub *before* cutting a long body down to a snippet: a cut key is no longer found by its
full text.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, TypeVar

from ._exceptions import APIError
from ._types import TagResult

#: Shapes of keys the common services issue (OpenAI ``sk-``, Groq ``gsk_``, Google ``AIza``,
#: OpenRouter ``sk-or-``, our own ``itk_``): blanked even when it is not our key.
_SECRETISH = re.compile(r"\b(sk|key|itk|or|gsk|AIza)[-_][A-Za-z0-9_\-*.]{6,}")
#: An echoed credential header value: whatever follows the scheme word.
_SCHEME = re.compile(r"(?i)\b(bearer|basic|token)(\s+|%20)[^\s\"'<>,;&]+")

E = TypeVar("E", bound=BaseException)


def scrub(text: str, secret: str | None = None) -> str:
    """``text`` with the key (and anything shaped like one) blanked out.

    >>> scrub("invalid api key Bearer abc123xyz", "abc123xyz")
    'invalid api key Bearer ***'
    >>> scrub("bad key sk-proj-0123456789")
    'bad key sk-***'
    """
    if secret:
        text = text.replace(secret, "***")
    text = _SCHEME.sub(lambda m: m.group(1) + m.group(2) + "***", text)
    return _SECRETISH.sub(lambda m: m.group(1) + "-***", text)


def scrub_error(exc: E, secret: str | None) -> E:
    """The same exception with its message and request id scrubbed (changed in place)."""
    if isinstance(exc, APIError):
        exc.message = scrub(exc.message, secret)
        if exc.request_id is not None:
            exc.request_id = scrub(exc.request_id, secret)
        exc.args = (exc.message,)
    elif exc.args and any(isinstance(a, str) for a in exc.args):
        exc.args = tuple(scrub(a, secret) if isinstance(a, str) else a for a in exc.args)
    return exc


def scrub_result(result: TagResult, secret: str | None) -> TagResult:
    """A result whose text fields hold no key (an echoing server could put it in the tags)."""
    tags = [scrub(t, secret) for t in result.tags]
    title, description = scrub(result.title, secret), scrub(result.description, secret)
    request_id = None if result.request_id is None else scrub(result.request_id, secret)
    if (tags, title, description, request_id) == (result.tags, result.title, result.description,
                                                  result.request_id):
        return result
    return dataclasses.replace(result, tags=tags, title=title, description=description, request_id=request_id)


def scrub_values(value: Any, secret: str | None) -> Any:
    """``value`` (JSON-like: dicts, lists, strings) with every string scrubbed.

    >>> scrub_values({"answer": ["said Bearer abc123"]}, "abc123")
    {'answer': ['said Bearer ***']}
    """
    if isinstance(value, str):
        return scrub(value, secret)
    if isinstance(value, dict):
        return {k: scrub_values(v, secret) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub_values(v, secret) for v in value]
    return value
