"""The static HTML of an image card, shared by the gallery's fallback and its widget."""

from __future__ import annotations

import html

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
ERROR_STYLE = "color:#cf222e;background:#ffebe9;border-radius:4px;padding:2px 4px;margin-top:3px;"
INFO_STYLE = "color:#656d76;font:12px system-ui,-apple-system,'Segoe UI',sans-serif;margin-left:8px;"
META_STYLE = "color:#656d76;font-size:10px;margin-top:3px;word-break:break-all;"


def card_html(label: str, img_uri: str | None, img_error: str | None, title: str,
               tags: list[str] | None, error: str, size: int,
               scores: dict[str, float] | None = None) -> str:
    parts = [f'<div class="itdf-card" style="{CARD_STYLE}">',
             f'<div style="{IMG_BOX_STYLE.format(h=size)}">']
    if img_uri:
        parts.append(f'<img class="itdf-thumb" src="{img_uri}" alt="{html.escape(title or label)}" '
                     f'style="max-width:100%;max-height:{size}px;">')
    else:
        parts.append(f'<div style="{NOIMG_STYLE}">image unavailable<br>{html.escape(img_error or "")}</div>')
    parts.append("</div>")
    if title:
        parts.append(f'<div class="itdf-title" style="{TITLE_STYLE}">{html.escape(title)}</div>')
    if tags:
        scores = scores or {}
        chips = "".join(
            f'<span class="itdf-chip" style="{CHIP_STYLE}"'
            + (f' title="score {scores[t]:.2f}"' if t in scores else "")
            + f">{html.escape(t)}</span>" for t in tags)
        parts.append(f'<div class="itdf-chips">{chips}</div>')
    if error:
        parts.append(f'<div class="itdf-error" style="{ERROR_STYLE}">{html.escape(error)}</div>')
    parts.append(f'<div class="itdf-meta" style="{META_STYLE}">{html.escape(label)}</div></div>')
    return "".join(parts)


