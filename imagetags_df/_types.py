"""Result and input dataclasses shared by the engine, the backends and the doors."""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from typing import Any

from ._exceptions import ConfigurationError


@dataclass(frozen=True)
class TagResult:
    """What a backend returns for one image in one language.

    ``tag_scores`` (same length as ``tags``) is filled by backends that know their
    confidence (the offline tagger); the API does not report one. The result frame's
    ``tag_scores`` column holds them as a dict tag -> score in tag order, the shape of
    ``learned_scores``. ``input_tokens`` and
    ``output_tokens`` come from a language model's ``usage`` (None for other backends).
    The offline tagger also fills ``confidence`` (how sure it is of its best content tag,
    0..1; 0 when it recognised nothing), ``colors`` (dominant colours, "black and white",
    "dark" or "bright", in the requested language) and ``orientation`` ("landscape",
    "portrait" or "square"): ``tags`` carry content only.
    """

    tags: list[str]
    title: str
    description: str
    request_id: str | None = None
    credits_used: float = 0.0
    credits_remaining: float | None = None
    tag_scores: list[float] | None = None
    backend: str = ""
    input_tokens: int | None = None
    output_tokens: int | None = None
    confidence: float | None = None
    colors: list[str] | None = None
    orientation: str | None = None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TagResult:
        # Unknown keys (from a newer version sharing the cache) are ignored.
        return cls(**{k: v for k, v in data.items() if k in _TAG_RESULT_FIELDS})


_TAG_RESULT_FIELDS = frozenset(f.name for f in dataclasses.fields(TagResult))


@dataclass(frozen=True)
class PreparedImage:
    """An image ready for a backend: bytes in a format the API accepts.

    ``sha256`` is the hash of the *original* bytes (what the cache is keyed on);
    ``data`` may differ from them when the image had to be converted or shrunk.
    """

    data: bytes
    mime: str  # image/jpeg, image/png or image/webp
    sha256: str
    source: str  # a human name for messages: the path, or "row 12 (bytes)"
    width: int = 0
    height: int = 0
    converted: bool = False

    def data_uri(self) -> str:
        import base64

        return f"data:{self.mime};base64,{base64.b64encode(self.data).decode('ascii')}"

    def open(self):
        """Decode ``data`` with Pillow (lazily imported)."""
        import io

        from PIL import Image

        return Image.open(io.BytesIO(self.data))

    def __repr__(self) -> str:  # never dump megabytes into a notebook
        return (f"PreparedImage(source={self.source!r}, mime={self.mime!r}, "
                f"bytes={len(self.data)}, size={self.width}x{self.height}, sha256={self.sha256[:12]}…)")


_RATE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:/|per\s*)\s*(\d+(?:\.\d+)?)?\s*"
                      r"(s|sec|second|seconds|m|min|minute|minutes|h|hr|hour|hours)\s*$", re.I)
_UNIT_SECONDS = {"s": 1, "sec": 1, "second": 1, "seconds": 1, "m": 60, "min": 60, "minute": 60,
                 "minutes": 60, "h": 3600, "hr": 3600, "hour": 3600, "hours": 3600}


@dataclass(frozen=True)
class RateLimit:
    """Requests per minute. Build with :meth:`parse`: ``30``, ``"30/min"``, ``"2/s"``, ``"1800/hour"``."""

    per_minute: float

    @property
    def interval(self) -> float:
        """Seconds between two requests at exactly this rate."""
        return 60.0 / self.per_minute

    @classmethod
    def parse(cls, value: RateLimit | float | int | str) -> RateLimit:
        if isinstance(value, RateLimit):
            return value
        if isinstance(value, bool):
            raise ConfigurationError(f"rate_limit must be a number or a string like '30/min', not {value!r}")
        if isinstance(value, (int, float)):
            per_min = float(value)
        elif isinstance(value, str):
            m = _RATE_RE.match(value)
            if not m:
                raise ConfigurationError(
                    f"rate_limit {value!r} is not understood: use requests per minute (30) "
                    "or a string such as '30/min', '2/s' or '1800/hour'")
            count, mult, unit = float(m.group(1)), float(m.group(2) or 1), m.group(3).lower()
            per_min = count * 60.0 / (mult * _UNIT_SECONDS[unit])
        else:
            raise ConfigurationError(f"rate_limit must be a number or a string like '30/min', not {value!r}")
        if not math.isfinite(per_min) or per_min <= 0:
            raise ConfigurationError(f"rate_limit must be positive, got {value!r}")
        return cls(per_min)

    def __str__(self) -> str:
        return f"{self.per_minute:g}/min"


@dataclass
class Estimate:
    """What a run would cost, from :func:`imagetags_df.estimate`."""

    rows: int
    unique_images: int
    cached: int
    invalid: int
    calls_needed: int
    credits_needed: float
    seconds_needed: float
    backend: str
    rate_limit: str | None
    errors: dict[int, str] = field(default_factory=dict)  # row position -> message
    #: Images tagged (and cached) to time a backend without a rate limit; 0 if none.
    timed_sample: int = 0

    def __str__(self) -> str:
        if self.seconds_needed != self.seconds_needed:  # NaN
            when = "no rate limit"
        elif self.timed_sample:
            when = f"~{self.seconds_needed / 60:.1f} min (timed on {self.timed_sample} images)"
        else:
            when = f"~{self.seconds_needed / 60:.1f} min at {self.rate_limit}"
        return (f"{self.rows} rows, {self.unique_images} unique images, {self.cached} cached, "
                f"{self.invalid} unreadable; {self.calls_needed} calls, "
                f"{self.credits_needed:g} credits, {when} ({self.backend})")
