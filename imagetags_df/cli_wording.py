"""Library messages in a command line's words: flags and environment variables instead of
keyword arguments. Both command lines (``imagetags`` and ``imagetags serve``/``keys``) word
their errors this way, so it lives apart from either.
"""

from __future__ import annotations

import re
from typing import Any

from . import _constants as C

#: The library speaks of keyword arguments; a command line user knows flags and
#: environment variables. Each argument the CLI exposes, and its flag.
_FLAGS: dict[str, str] = {
    "api_key": "--api-key", "base_url": "--base-url", "cache_dir": "--cache-dir", "rate_limit": "--rate-limit",
    "max_credits": "--max-credits", "max_concurrency": "--concurrency", "max_side": "--max-side",
    "max_tokens_budget": "--max-tokens-budget", "min_confidence": "--min-confidence", "model": "--model",
    "labels": "--labels", "instructions": "--instructions", "backend": "--backend", "lang": "--lang",
}
_NAME = "|".join(sorted(_FLAGS, key=len, reverse=True))
#: Names with an underscore cannot be ordinary words: translated wherever they appear.
_COMPOUND = "|".join(n for n in _FLAGS if "_" in n)


def _flag(m: re.Match[str]) -> str:
    return _FLAGS[m.group(1)]


def _flag_value(m: re.Match[str]) -> str:
    # backend="openai" -> --backend openai; backend="openai" or "ollama" -> --backend openai or ollama
    more = re.sub(r"[\"']", "", m.group(4) or "")
    return f"{_FLAGS[m.group(1)]} {m.group(3)}{more}"


_CLI_WORDING: list[tuple[re.Pattern[str], Any]] = [
    (re.compile(r"Pass api_key=\.\.\.,? or set it in the environment"),
     "Set it in the environment (or pass --api-key)"),
    (re.compile(r" \(or --\w[\w-]* [^)]* on the command line\)"), ""),  # says it twice once translated
    (re.compile(rf"\bthe ({_NAME}) argument\b"), _flag),
    (re.compile(rf"\b({_NAME})\s*=\s*([\"'])([^\"']*)\2((?:\s*(?:or|/)\s*[\"'][^\"']*[\"'])*)"), _flag_value),
    (re.compile(rf"\b({_NAME})=(?:\.\.\.|(?=[\s,.;)]|$))"), _flag),
    (re.compile(rf"\b({_NAME})=(?=\S)"), lambda m: _FLAGS[m.group(1)] + " "),
    (re.compile(r"\bcache_dir\b"), f"--cache-dir (or {C.ENV_CACHE_DIR})"),
    (re.compile(rf"\b({_COMPOUND})\b"), _flag),
    (re.compile(r"^(model|labels|instructions)\b(?= )"), _flag),
    (re.compile(r"\b(model|labels|instructions|max_side)(?=(?:, [\w-]+)* only apply)"), _flag),
    (re.compile(r"\blang\b(?= ')"), "--lang"),
]


def cli_wording(message: str) -> str:
    """A library message in the command line's words: flags and environment variables.

    >>> cli_wording("rate_limit 'x' is not understood")
    "--rate-limit 'x' is not understood"
    >>> cli_wording('or use the offline tagger with backend="local" (no key, no network).')
    'or use the offline tagger with --backend local (no key, no network).'
    >>> cli_wording("model, labels only apply to backend='openai' or 'ollama'")
    '--model, --labels only apply to --backend openai or ollama'
    """
    for pattern, replacement in _CLI_WORDING:
        message = pattern.sub(replacement, message)
    return message
