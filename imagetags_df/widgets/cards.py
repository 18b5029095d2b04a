"""What an image card says, in HTML: shared by the gallery's static fallback, its live
widget and the review widget.

A card shows the friendly message of a failed row; the raw exception behind it (Pillow's
``UnidentifiedImageError: cannot identify image file ...``) is one click away in a
``<details>`` element, which needs no JavaScript and so works in a static export too.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

# Inline styles, not a <style> block: sanitising renderers (GitHub, some VS Code setups)
# strip <style> elements but keep style attributes.
GRID_STYLE = ("display:grid;grid-template-columns:repeat(auto-fill,minmax({w}px,1fr));gap:10px;"
              "font-family:system-ui,-apple-system,'Segoe UI',sans-serif;font-size:12px;")
CARD_STYLE = ("border:1px solid #d0d7de;border-radius:6px;padding:6px;background:#fff;color:#1f2328;"
              "overflow:hidden;")
IMG_BOX_STYLE = "height:{h}px;display:flex;align-items:center;justify-content:center;background:#f6f8fa;"
NOIMG_STYLE = "color:#8c959f;font-size:11px;padding:4px;text-align:center;"
TITLE_STYLE = "font-weight:600;margin:4px 0 2px;line-height:1.25;"
CHIP_STYLE = ("display:inline-block;background:#ddf4ff;color:#0550ae;border-radius:10px;"
              "padding:1px 7px;margin:2px 3px 0 0;white-space:nowrap;")
#: A label model's label: violet and dashed, so it never passes for one of the tagger's tags.
LEARNED_CHIP_STYLE = ("display:inline-block;background:#fbefff;color:#6639ba;border:1px dashed #8250df;"
                      "border-radius:10px;padding:0 7px;white-space:nowrap;font-size:12px;")
ERROR_STYLE = "color:#cf222e;background:#ffebe9;border-radius:4px;padding:2px 4px;margin-top:3px;"
DETAILS_STYLE = "color:#656d76;font-size:10px;margin-top:2px;cursor:pointer;"
INFO_STYLE = "color:#656d76;font:12px system-ui,-apple-system,'Segoe UI',sans-serif;margin-left:8px;"
META_STYLE = "color:#656d76;font-size:10px;margin-top:3px;word-break:break-all;"
FONT_STYLE = "font-family:system-ui,-apple-system,'Segoe UI',sans-serif;font-size:12px;"

# "photo.jpg: the image could not be decoded (OSError: image file is truncated)": the
# part in brackets names a Python exception, which is for a bug report, not for the card.
_RAW_TAIL = re.compile(r"^(?P<friendly>.+?)\s*\((?P<raw>[A-Za-z_][\w.]*(?:Error|Exception|Warning)\b.*)\)\s*$",
                       re.S)


def split_error(message: str) -> tuple[str, str]:
    """``(friendly, raw)``: a row's error message and the exception text it quotes, if any.

    >>> split_error("a.jpg: the image could not be decoded (OSError: image file is truncated)")
    ('a.jpg: the image could not be decoded', 'OSError: image file is truncated')
    >>> split_error("a.jpg: file not found; check the path")
    ('a.jpg: file not found; check the path', '')
    """
    m = _RAW_TAIL.match(message or "")
    if not m:
        return message or "", ""
    return m.group("friendly"), m.group("raw")


def image_problem(exc: BaseException) -> tuple[str, str]:
    """``(friendly, raw)`` for an image that could not be made into a thumbnail.

    >>> image_problem(FileNotFoundError(2, "No such file or directory"))[0]
    'file not found'
    """
    from PIL import UnidentifiedImageError

    raw = f"{type(exc).__name__}: {exc}"[:300]
    if isinstance(exc, FileNotFoundError):
        friendly = "file not found"
    elif isinstance(exc, IsADirectoryError):
        friendly = "a folder, not an image"
    elif isinstance(exc, PermissionError):
        friendly = "no permission to read the file"
    elif isinstance(exc, UnidentifiedImageError):
        friendly = "not an image that can be read"
    elif isinstance(exc, ValueError) and "no image" in str(exc):
        friendly, raw = "no image in this row", ""
    elif isinstance(exc, OSError):
        friendly = "the image could not be decoded"
    else:
        friendly = "the image could not be read"
    return friendly, raw


def details_html(raw: str) -> str:
    """The raw exception, folded away: shown only when the user asks."""
    if not raw:
        return ""
    return (f'<details class="itdf-details" style="{DETAILS_STYLE}"><summary>details</summary>'
            f'<code style="white-space:pre-wrap;word-break:break-all">{html.escape(raw)}</code></details>')


def no_image_html(friendly: str, raw: str) -> str:
    return (f'<div class="itdf-noimg" style="{NOIMG_STYLE}" title="{html.escape(raw)}">'
            f"no preview{': ' + html.escape(friendly) if friendly else ''}{details_html(raw)}</div>")


def error_html(message: str) -> str:
    friendly, raw = split_error(message)
    return (f'<div class="itdf-error" style="{ERROR_STYLE}" title="{html.escape(raw)}">'
            f"{html.escape(friendly)}{details_html(raw)}</div>")


def chips_html(tags: list[str], scores: dict[str, float]) -> str:
    chips = "".join(
        f'<span class="itdf-chip" style="{CHIP_STYLE}"'
        + (f' title="score {scores[t]:.2f}"' if t in scores else "")
        + f">{html.escape(t)}</span>" for t in tags)
    return f'<div class="itdf-chips">{chips}</div>'


def card_html(label: str, img_uri: str | None, img_problem: tuple[str, str] | None, title: str,
              tags: list[str] | None, error: str, size: int,
              scores: dict[str, float] | None = None) -> str:
    parts = [f'<div class="itdf-card" style="{CARD_STYLE}">',
             f'<div style="{IMG_BOX_STYLE.format(h=size)}">']
    if img_uri:
        parts.append(f'<img class="itdf-thumb" src="{img_uri}" alt="{html.escape(title or label)}" '
                     f'style="max-width:100%;max-height:{size}px;">')
    else:
        friendly, raw = img_problem or ("the image could not be read", "")
        parts.append(no_image_html(friendly, raw))
    parts.append("</div>")
    if title:
        parts.append(f'<div class="itdf-title" style="{TITLE_STYLE}">{html.escape(title)}</div>')
    if tags:
        parts.append(chips_html(tags, scores or {}))
    if error:
        parts.append(error_html(error))
    parts.append(f'<div class="itdf-meta" style="{META_STYLE}">{html.escape(label)}</div></div>')
    return "".join(parts)


#: Longest side of the enlarged view, in pixels.
LARGE_SIZE = 720


def parse_tags(text: str | Iterable[str] | None) -> list[str]:
    """Tags typed in a box: comma-separated (ASCII or full-width comma), blanks dropped.

    >>> parse_tags(" cat, Black and white ，狗,")
    ['cat', 'Black and white', '狗']
    """
    if text is None:
        return []
    items = text.replace("，", ",").split(",") if isinstance(text, str) else [str(t) for t in text]
    return [t.strip() for t in items if t and t.strip()]
