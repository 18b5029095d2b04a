"""Assembling the result frame: one answer for every row, in the input's order and index."""

from __future__ import annotations

import pandas as pd

from .. import _constants as C
from .._exceptions import ImageError, ImageTagsError, InsufficientCreditsError
from .._types import TagResult
from .run import Run
from .scan import Scan
from .settings import RunSettings

#: Columns ``generate`` adds, in order.
#: ``ok`` is True exactly when the row has an answer; filter on it, not on
#: ``error_code`` (local errors such as an unreadable file have no API code).
#: ``confidence`` (NaN where the backend reports none), ``colors`` and ``orientation``
#: describe the picture's look apart from its content ``tags``. ``sha256`` is the digest of
#: the bytes the answer is for (None where the image could not be read): a writer checks
#: the file still holds them before putting the answer into it.
RESULT_COLUMNS = ("tags", "tag_scores", "title", "description", "confidence", "colors", "orientation", "ok",
                  "error_code", "error", "request_id", "credits_used", "cached", "backend", "input_tokens",
                  "output_tokens", "sha256")


def _named_for(err: ImageTagsError, name: str | None) -> ImageTagsError:
    """The error as this row should show it: naming the row's own file.

    Rows whose files hold identical bytes share one job, so an image error
    (truncated data, say) is raised once, naming the first of those files.
    """
    source = getattr(err, "source", None)
    if not isinstance(err, ImageError) or name is None or source is None or source == name:
        return err
    text = str(err)
    rest = text[len(source):] if text.startswith(source) else f": {text}"
    return type(err)(f"{name}{rest}", source=name)


def assemble(df: pd.DataFrame, scan: Scan, run: Run, settings: RunSettings) -> pd.DataFrame:
    n = scan.n
    tags: list[list[str]] = [[] for _ in range(n)]
    scores: list[dict[str, float] | None] = [None] * n
    title: list[str | None] = [None] * n
    desc: list[str | None] = [None] * n
    confidence: list[float] = [float("nan")] * n
    colors: list[list[str] | None] = [None] * n
    orientation: list[str | None] = [None] * n
    code: list[int | None] = [None] * n
    error: list[str | None] = [None] * n
    rid: list[str | None] = [None] * n
    credits = [0.0] * n
    # Tokens this run spent, charged like credits; NA where the backend reports none.
    tokens_in: list[int | None] = [None] * n
    tokens_out: list[int | None] = [None] * n
    cached = [False] * n
    be_name: list[str] = [settings.backend.name] * n
    first_row: dict[str, int] = {}
    unsent: ImageTagsError = ImageTagsError("not sent: the run stopped before this image")
    if isinstance(run.stop, InsufficientCreditsError):
        unsent = InsufficientCreditsError(
            "not sent: the account ran out of credits (2002) before this image; top up and re-run "
            "(finished rows are cached and will not be paid for again)", code=C.CODE_NO_CREDITS)
    elif run.stop is not None:
        unsent = run.stop
    for pos in range(n):
        err: ImageTagsError | None = scan.errors.get(pos)
        res: TagResult | None = None
        digest = scan.digests[pos]
        if err is None and digest is not None:
            if digest in scan.results:
                res, cached[pos] = scan.results[digest], True
            else:
                out = run.outcome.get(digest)
                if isinstance(out, TagResult):
                    res = out
                    if digest in run.shared:  # answered by another file's call: no credits here
                        cached[pos] = run.shared[digest]
                        first_row.setdefault(digest, -1)
                elif isinstance(out, ImageTagsError):
                    err = _named_for(out, scan.sources[pos])
                else:  # never sent: credits ran out or the budget stopped the run
                    err = unsent
        if res is not None:
            tags[pos] = list(res.tags)
            # One shape with learned_scores: tag -> score, in tag order.
            scores[pos] = (dict(zip(res.tags, map(float, res.tag_scores)))
                           if res.tag_scores is not None and len(res.tag_scores) == len(res.tags) else None)
            title[pos], desc[pos], rid[pos] = res.title, res.description, res.request_id
            if res.confidence is not None:
                confidence[pos] = float(res.confidence)
            colors[pos] = list(res.colors) if res.colors is not None else None
            orientation[pos] = res.orientation
            be_name[pos] = res.backend or settings.backend.name
            charged = not cached[pos] and digest is not None and digest not in first_row
            if charged and digest is not None:
                first_row[digest] = pos  # credits are charged to the first row showing the image
                credits[pos] = res.credits_used
            if res.input_tokens is not None:
                tokens_in[pos] = res.input_tokens if charged else 0
            if res.output_tokens is not None:
                tokens_out[pos] = res.output_tokens if charged else 0
        elif err is not None:
            code[pos] = err.code
            error[pos] = str(err)
    out = df.copy()
    idx = df.index
    out["tags"] = pd.Series(tags, index=idx, dtype=object)
    out["tag_scores"] = pd.Series(scores, index=idx, dtype=object)
    out["title"] = pd.Series(title, index=idx, dtype=object)
    out["description"] = pd.Series(desc, index=idx, dtype=object)
    out["confidence"] = pd.Series(confidence, index=idx, dtype=float)
    out["colors"] = pd.Series(colors, index=idx, dtype=object)
    out["orientation"] = pd.Series(orientation, index=idx, dtype=object)
    out["ok"] = pd.Series([e is None for e in error], index=idx, dtype=bool)
    out["error_code"] = pd.array(code, dtype="Int64")
    out["error"] = pd.Series(error, index=idx, dtype=object)
    out["request_id"] = pd.Series(rid, index=idx, dtype=object)
    out["credits_used"] = pd.Series(credits, index=idx, dtype=float)
    out["cached"] = pd.Series(cached, index=idx, dtype=bool)
    out["backend"] = pd.Series(be_name, index=idx, dtype=object)
    out["input_tokens"] = pd.Series(pd.array(tokens_in, dtype="Int64"), index=idx)
    out["output_tokens"] = pd.Series(pd.array(tokens_out, dtype="Int64"), index=idx)
    out["sha256"] = pd.Series(list(scan.digests), index=idx, dtype=object)
    return out
