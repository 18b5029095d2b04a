"""Result tables: CSV, Parquet and JSON Lines files, and the terminal table."""

from __future__ import annotations

import json
import math
import os
import unicodedata
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from PIL import Image

from .._exceptions import ConfigurationError
from .._install import pip_install
from ..images import describe
from .atomic import atomic_path
from .find import shown_name

#: ``--out`` extensions and the format each one selects.
TABLE_FORMATS: dict[str, str] = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet",
                                 ".jsonl": "jsonl", ".ndjson": "jsonl"}

#: What the terminal table shows for an image the tagger was not sure enough to tag, per language.
NOT_SURE: dict[str, str] = {
    "en": "(not sure)", "zh": "（不确定）", "fr": "(pas sûr)", "de": "(nicht sicher)",
    "es": "(no está claro)", "ja": "（確信なし）", "ko": "(확실하지 않음)",
}

#: Terminal escapes that dim a cell and undo it (click.echo drops them when stdout is not a terminal).
_DIM, _UNDIM = "\x1b[2m", "\x1b[22m"

#: Columns of a result frame that hold lists or dicts (JSON-encoded in CSV).
_LIST_COLUMNS = ("tags", "tag_scores", "colors")
#: Columns that hold a dict tag -> score: a Parquet map (string -> double), kept in tag order.
_SCORE_COLUMNS = ("tag_scores", "learned_scores")


def table_format(path: str | os.PathLike[str]) -> str:
    """``"csv"``, ``"parquet"`` or ``"jsonl"`` for an output path, from its extension."""
    suffix = Path(path).suffix.lower()
    try:
        return TABLE_FORMATS[suffix]
    except KeyError:
        raise ConfigurationError(
            f"{path}: cannot tell the output format from {suffix or 'a name without an extension'!r}; "
            "use a name ending in .csv, .parquet or .jsonl") from None


def jsonable(value: Any) -> Any:
    """Plain JSON values for one cell: NA -> None, numpy scalars -> Python, paths -> str."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return jsonable(value.tolist())  # numpy arrays and scalars (parquet round trips)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def _plain_cell(value: Any) -> Any:
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, (bytes, bytearray, memoryview, Image.Image)):
        return describe(value)  # "<5123 bytes>": a table of results is no place for the image itself
    return value


def _plain_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy safe for every writer: paths as text, bytes and PIL images as a short label."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object:
            out[col] = out[col].map(_plain_cell)
    return out


def write_table(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write ``df`` to ``path`` as CSV, Parquet or JSON Lines, chosen by the extension.

    Lists (``tags``) stay lists in Parquet and JSON Lines, and score dicts
    (``tag_scores``, ``learned_scores``: tag -> score) objects in JSON Lines and maps in
    Parquet; both are JSON-encoded text in CSV (:func:`read_table` reads every format back).
    The index is not written; the file is replaced atomically.

    >>> write_table(out, "results.csv")  # doctest: +SKIP
    PosixPath('results.csv')
    """
    target = Path(path).expanduser()
    fmt = table_format(target)
    frame = _plain_frame(df).reset_index(drop=True)
    if fmt == "parquet":
        try:
            import pyarrow  # noqa: F401  (pandas' parquet engine)
        except ImportError:
            raise ConfigurationError(
                f"writing Parquet needs pyarrow: {pip_install('parquet')} "
                "(or write .csv / .jsonl)") from None
    with atomic_path(target) as tmp:
        if fmt == "csv":
            for col in _LIST_COLUMNS:
                if col in frame.columns:
                    frame[col] = frame[col].map(
                        lambda v: None if v is None else json.dumps(jsonable(v), ensure_ascii=False))
            frame.to_csv(tmp, index=False, encoding="utf-8")
        elif fmt == "parquet":
            _write_parquet(frame, tmp)
        else:
            with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
                for line in json_lines(frame):
                    fh.write(line)
    return target


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Parquet with score dicts as maps: inferred, rows with different tags would become one
    struct with every tag of the table as a field."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ..analysis import score_map

    scored = [c for c in _SCORE_COLUMNS if c in frame.columns]
    table = pa.Table.from_pandas(frame.drop(columns=scored), preserve_index=False)
    tags = frame["tags"].tolist() if "tags" in frame.columns else [None] * len(frame)
    for col in scored:
        cells = [score_map(v, t) for v, t in zip(frame[col], tags)]
        array = pa.array([None if c is None else list(c.items()) for c in cells],
                         type=pa.map_(pa.string(), pa.float64()))
        table = table.add_column(list(frame.columns).index(col), col, array)
    pq.write_table(table, path)


def json_lines(df: pd.DataFrame) -> Iterator[str]:
    """One JSON object per row, newline-terminated (the JSON Lines format).

    Built record by record rather than with ``DataFrame.to_json`` so lists,
    nullable integers and non-ASCII text come out as plain JSON without escapes.
    """
    frame = _plain_frame(df)
    cols = [str(c) for c in frame.columns]
    for row in frame.itertuples(index=False, name=None):
        rec = {c: jsonable(v) for c, v in zip(cols, row)}
        yield json.dumps(rec, ensure_ascii=False, default=str) + "\n"


def _char_width(ch: str) -> int:
    """Terminal columns of one character: 2 for wide CJK, 0 for marks that join the one before."""
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return 0  # accents, dakuten (U+3099) and zero-width joiners/spaces draw no column of their own
    if "\u1160" <= ch <= "\u11ff" or "\ud7b0" <= ch <= "\ud7ff":
        return 0  # Hangul vowel and final jamo: they stack under the leading consonant
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def _display_width(text: str) -> int:
    # CJK characters take two terminal columns; aligning on len() would skew zh/ja/ko tables.
    return sum(map(_char_width, text))


def _fit(text: str, width: int) -> str:
    """Cut ``text`` to ``width`` display columns (with an ellipsis) and pad it."""
    # macOS stores file names decomposed (NFD): compose them, as a terminal draws them;
    # a line break or other control character (in a name, a title) is shown escaped, so
    # no cell can start a table line of its own.
    text = shown_name(unicodedata.normalize("NFC", text))
    limit = width - 1 if _display_width(text) > width else width
    out, used = [], 0
    for ch in text:
        w = _char_width(ch)
        if used + w > limit:
            out.append("…")
            used += 1
            break
        out.append(ch)
        used += w
    return "".join(out) + " " * max(0, width - used)


def unsure_rows(df: pd.DataFrame) -> pd.Series:
    """True for rows that were answered but got no tag: the tagger was not sure of anything.

    >>> unsure_rows(pd.DataFrame({"tags": [["cat"], [], None], "error": [None, None, "gone"]})).tolist()
    [False, True, False]
    """
    ok = df["ok"] if "ok" in df.columns else df["error"].isna()
    # Lists, or numpy arrays once a frame has been through Parquet.
    empty = df["tags"].map(lambda t: not isinstance(t, str) and hasattr(t, "__len__") and len(t) == 0)
    return (ok.astype(bool) & empty).rename("unsure")


def text_table(df: pd.DataFrame, col: str = "path", width: int = 120,
               labels: Sequence[str] | None = None, lang: str = "en", dim: bool = False) -> str:
    """A readable, terminal-width table: file, title, tags (or the error), one row per image.

    Files are shown by name, or by ``labels`` when given (the command passes paths
    relative to the folder it read). Columns stay aligned for CJK text, whose
    characters take two terminal columns. An image that was answered without a tag
    shows "(not sure)" in ``lang``, dimmed with a terminal escape when ``dim``: an
    empty cell would read as a failure.

    >>> print(text_table(pd.DataFrame({"path": ["a/cat.jpg"], "title": ["Cat"], "tags": [["cat", "pet"]],
    ...                                 "error": [None]}), width=40), end="")
    file     title  tags
    cat.jpg  Cat    cat, pet
    """
    if labels is not None:
        names: list[Any] = list(labels)
    else:
        names = [os.path.basename(str(v)) if isinstance(v, (str, os.PathLike)) else _plain_cell(v)
                 for v in df[col]]
    titles = ["" if t is None or t != t else str(t) for t in df["title"]]
    lines = []
    unsure = unsure_rows(df).tolist()
    for tags, err, not_sure in zip(df["tags"], df["error"], unsure):
        if isinstance(err, str) and err:
            lines.append(f"ERROR {err}")
        elif not_sure:
            lines.append(NOT_SURE.get(lang, NOT_SURE["en"]))
        else:
            lines.append(", ".join(tags) if isinstance(tags, (list, tuple)) else "")
    w_file = min(32, max([4, *map(_display_width, map(str, names))]))
    w_title = min(36, max([5, *map(_display_width, titles)]))
    w_tags = max(10, width - w_file - w_title - 4)
    rows = [f"{_fit('file', w_file)}  {_fit('title', w_title)}  tags"]
    for name, title, tags, not_sure in zip(names, titles, lines, unsure):
        cell = _fit(tags, w_tags).rstrip()
        if not_sure and dim:
            cell = f"{_DIM}{cell}{_UNDIM}"
        rows.append(f"{_fit(str(name), w_file)}  {_fit(title, w_title)}  {cell}")
    return "\n".join(r.rstrip() for r in rows) + "\n"




def read_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a table :func:`write_table` wrote (CSV, Parquet or JSON Lines), with lists as lists.

    >>> read_table("results.csv").loc[0, "tags"]  # doctest: +SKIP
    ['cat', 'animal', 'pet']
    """
    source = Path(path).expanduser()
    fmt = table_format(source)
    if not source.is_file():
        raise ConfigurationError(f"{source}: no such file; pass a table written by 'imagetags tag --out'")
    try:
        if fmt == "csv":
            frame = pd.read_csv(source, encoding="utf-8", keep_default_na=False, na_values=[""])
        elif fmt == "parquet":
            frame = pd.read_parquet(source)
        else:
            frame = pd.read_json(source, lines=True, dtype=False)
    except ImportError:
        raise ConfigurationError(f"reading Parquet needs pyarrow: {pip_install('parquet')}") from None
    except ValueError as exc:
        raise ConfigurationError(f"{source} cannot be read as {fmt} ({exc})") from None

    def as_list(value: Any) -> Any:
        if isinstance(value, str) and value.startswith("["):
            try:
                return json.loads(value)
            except ValueError:
                return value
        if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
            return value.tolist()  # Parquet's lists arrive as numpy arrays
        return value

    for col in (*_LIST_COLUMNS, "learned", "rejected"):
        if col in frame.columns:
            frame[col] = frame[col].map(as_list).astype(object).where(frame[col].notna(), None)
    from ..analysis import score_map

    for col in _SCORE_COLUMNS:
        if col in frame.columns:  # JSON text (CSV), (tag, score) pairs (Parquet), objects (JSON Lines)
            tags = frame["tags"].tolist() if "tags" in frame.columns else [None] * len(frame)
            frame[col] = pd.Series([score_map(v, t) for v, t in zip(frame[col], tags)], index=frame.index,
                                   dtype=object)
    return frame
