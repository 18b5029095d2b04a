"""Backends behind one interface, and the registry that turns a name into one.

``resolve_backend("auto")`` is where configuration is settled: explicit argument,
then environment variable, then default. Nothing below it reads the environment.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from .. import _constants as C
from .._exceptions import ConfigurationError
from .base import Backend

__all__ = ["Backend", "backend_names", "charges_credits", "register_backend", "resolve_backend",
           "settle_api_key"]

_FACTORIES: dict[str, Callable[..., Backend]] = {}

MISSING_KEY_HELP = (
    "No ImageDescriber API key was found. Pass api_key=..., or set it in the environment:\n"
    f"    export {C.ENV_API_KEY}=sk-...\n"
    "or use the offline tagger with backend=\"local\" (no key, no network)."
)


def _key_problem(key: str) -> str | None:
    """What makes a key unusable in an HTTP header, described without the key itself."""
    for pos, ch in enumerate(key, 1):
        if ch in " \t":
            return f"a space or tab at character {pos}"
        if ord(ch) < 0x20 or ord(ch) == 0x7F:
            return f"a control character at character {pos}"
        if ord(ch) > 0x7E:
            return f"a non-ASCII character at character {pos}"
    return None


def settle_api_key(api_key: str | None, env_var: str = C.ENV_API_KEY,
                   missing_help: str = MISSING_KEY_HELP) -> str:
    """The key to send: the argument, else ``$env_var``, with surrounding whitespace removed.

    A key read from a file (``open(keyfile).read()``) ends in a newline that would
    make every request fail; it is stripped. A key that is empty, or has a
    character an HTTP header cannot carry, is refused here with a message that
    says where it came from and never contains the key.

    >>> settle_api_key("  sk-abc\\n")
    'sk-abc'
    """
    raw: object = api_key
    where = "the api_key argument"
    if api_key is None:
        raw, where = os.environ.get(env_var), f"${env_var}"
        if raw is None:
            raise ConfigurationError(missing_help)
    if not isinstance(raw, str):
        raise ConfigurationError(f"{where} must be a string, not {type(raw).__name__}")
    key = raw.strip()
    if not key:
        raise ConfigurationError(f"{where} is empty (or only whitespace).\n{missing_help}")
    problem = _key_problem(key)
    if problem is not None:
        raise ConfigurationError(
            f"{where} cannot be sent in an HTTP header: it has {problem}. Check that the "
            "whole key, and nothing else, was copied.")
    return key


def register_backend(name: str, factory: Callable[..., Backend]) -> None:
    """Make ``backend=name`` build a backend with ``factory(**options)``."""
    _FACTORIES[name] = factory


def backend_names() -> list[str]:
    return ["auto", "imagedescriber", "local", *sorted(n for n in _FACTORIES if n not in
                                                         ("imagedescriber", "local"))]


def charges_credits(name: str) -> bool:
    """True when the backend called ``name`` (as in the ``backend`` column) spends API credits.

    Only those have credits to report, budget or run out of; the others are described
    without them.

    >>> charges_credits("imagedescriber"), charges_credits("local"), charges_credits("ollama")
    (True, False, False)
    """
    from .imagedescriber import ImageDescriberBackend

    return name in (ImageDescriberBackend.name, "api") and ImageDescriberBackend.costs_credits


def _imagedescriber(*, api_key: str | None = None, base_url: str | None = None,
                    timeout: float | None = None, rate_limit: Any = None, keyless: bool = False,
                    **_: Any) -> Backend:
    from .imagedescriber import ImageDescriberBackend

    url = base_url or os.environ.get(C.ENV_BASE_URL) or C.DEFAULT_BASE_URL
    if keyless and api_key is None and os.environ.get(C.ENV_API_KEY) is None:
        return ImageDescriberBackend(base_url=url, rate_limit=rate_limit, keyless=True)
    key = settle_api_key(api_key)
    return ImageDescriberBackend(api_key=key, base_url=url, timeout=timeout, rate_limit=rate_limit)


def _local(*, rate_limit: Any = None, **options: Any) -> Backend:
    try:
        from .local import LocalBackend
    except ImportError as exc:  # pragma: no cover - only when the package is broken
        raise ConfigurationError(f"the offline tagger could not be loaded: {exc}") from exc
    known = {k: v for k, v in options.items() if k in ("ocr", "labels", "lang", "precision") and v is not None}
    return LocalBackend(**known)


def _vlm(preset: str) -> Callable[..., Backend]:
    """Factory for an OpenAI-compatible preset: settles URL, key and concurrency from the environment."""

    def factory(*, model: str | None = None, api_key: str | None = None, base_url: str | None = None,
                timeout: float | None = None, rate_limit: Any = None, labels: Any = None,
                instructions: str | None = None, max_side: int | None = None, **_: Any) -> Backend:
        from .openai import PRESETS, OpenAICompatibleBackend, missing_model_help, ollama_base_url
        from .vlm_image import DEFAULT_MAX_SIDE

        p = PRESETS[preset]
        if not model:
            raise ConfigurationError(missing_model_help(preset))
        concurrency = None
        missing = (f"No OpenAI API key was found. Pass api_key=..., or set it in the environment:\n"
                   f"    export {p.key_env}=sk-...\n"
                   "For a local server (vLLM, llama.cpp, LM Studio) pass its base_url=, which needs no key.")
        if preset == "ollama":
            url = base_url or ollama_base_url(os.environ.get("OLLAMA_HOST"))
            # A local Ollama takes no key; a proxy in front of it may.
            key = settle_api_key(api_key, missing_help=missing) if api_key is not None else None
            # The server's parallelism, when this machine's environment says it.
            raw = os.environ.get("OLLAMA_NUM_PARALLEL", "")
            concurrency = int(raw) if raw.isdigit() and int(raw) > 0 else None
        else:
            url = base_url or (os.environ.get(p.base_url_env) if p.base_url_env else None) or p.base_url
            has_key = api_key is not None or (p.key_env is not None and p.key_env in os.environ)
            key = settle_api_key(api_key, p.key_env or "", missing_help=missing) if has_key else None
            if key is None and url.rstrip("/") == p.base_url:
                raise ConfigurationError(missing)
        side = DEFAULT_MAX_SIDE if max_side is None else (None if max_side == 0 else max_side)
        return OpenAICompatibleBackend(model=model, preset=p, base_url=url, api_key=key, labels=labels,
                                       instructions=instructions, max_side=side, timeout=timeout,
                                       rate_limit=rate_limit, max_concurrency=concurrency)

    return factory


register_backend("imagedescriber", _imagedescriber)
register_backend("api", _imagedescriber)
register_backend("local", _local)
register_backend("openai", _vlm("openai"))
register_backend("ollama", _vlm("ollama"))

#: Options only a vision-language model understands.
_VLM_ONLY = ("model", "instructions", "max_side")
_VLM = ("openai", "ollama")


def resolve_backend(backend: str | Backend = "auto", **options: Any) -> Backend:
    """Turn ``backend`` (a name or an instance) into a Backend.

    ``"auto"`` is the API when a key or a ``base_url`` is given (or a key is in
    the environment), else the offline tagger. A ``base_url`` means a server was
    meant, so without a key it is the missing-key error, not a silent offline run.
    ``keyless=True`` (for estimates) builds the API backend without a key: enough
    to price a run and look up the cache, not to call.

    >>> resolve_backend("local").name
    'local'
    """
    if isinstance(backend, Backend):
        return backend
    if not isinstance(backend, str):
        raise ConfigurationError(f"backend must be a name or a Backend, not {type(backend).__name__}")
    name = backend.strip().lower()
    if name == "auto":
        has_key = options.get("api_key") is not None or os.environ.get(C.ENV_API_KEY) is not None
        if options.get("base_url") and not has_key and not options.get("keyless"):
            raise ConfigurationError(
                f"backend=\"auto\" with base_url={options['base_url']!r} means a server, but no API "
                f"key was given.\n{MISSING_KEY_HELP}")
        name = "imagedescriber" if has_key or options.get("base_url") else "local"
    if name not in _FACTORIES:
        raise ConfigurationError(f"unknown backend {backend!r}; choose one of {', '.join(backend_names())}")
    if name not in _VLM:
        given = [k for k in _VLM_ONLY if options.get(k) is not None]
        if options.get("labels") is not None and name != "local":
            given.append("labels")
        if given:
            raise ConfigurationError(
                f"{', '.join(given)} only apply to backend=\"openai\" or \"ollama\""
                + (" (labels also to \"local\")" if "labels" in given else "")
                + f", not to backend={name!r}")
    if options.get("precision") is not None and name != "local":
        raise ConfigurationError(f"precision only applies to backend=\"local\" (the offline tagger), not to "
                                 f"backend={name!r}")
    return _FACTORIES[name](**options)
