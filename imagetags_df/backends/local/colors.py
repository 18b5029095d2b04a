"""Colour names and light from pixels: no model, a few milliseconds on a 48x48 thumbnail.

Each pixel gets one of the twelve colour terms of the vocabulary by simple rules on hue,
saturation and value (the same cut-offs a person would draw on a colour wheel); the share
of pixels per name is what the tagger and the description use.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: A colour must cover at least this share of the picture to be named.
MIN_COLOR_SHARE = 0.12
#: Mean saturation below this reads as black-and-white (scans and toned photos included).
BW_MAX_SATURATION = 0.07
#: Mean brightness (0..1) below / above these reads as a dark / bright picture.
DARK_BELOW = 0.25
BRIGHT_ABOVE = 0.68
#: Chromatic colours with at least this share each; four or more make a "colorful" picture.
COLORFUL_SHARE = 0.08
#: Rows (out of 48) at the top of the thumbnail that are looked at for open sky.
SKY_ROWS = 14


@dataclass(frozen=True)
class PixelStats:
    colors: list[tuple[str, float]]  # (colour term, share), largest first, share >= MIN_COLOR_SHARE
    brightness: float  # mean value 0..1
    saturation: float  # mean saturation 0..1
    black_and_white: bool
    colorful: bool
    #: Share of the top rows that is sky blue, and how much those rows vary (mean step in
    #: brightness between neighbours): open sky is blue and smooth.
    sky_blue: float = 0.0
    sky_texture: float = 1.0
    #: Share of the classifier crop's coloured pixels that equal their right and lower
    #: neighbours exactly: flat fills are drawn, a camera's noise never repeats a value.
    flat: float = 0.0


def flat_share(crop: np.ndarray) -> float:
    """Share of the pixels of an (H, W, 3) uint8 picture, leaving out near-white and
    near-black ones (the page or backdrop a drawing or a cut-out sits on), that equal both
    their right and their lower neighbour exactly."""
    # Channel by channel on the uint8 planes: ten times faster than reducing over the
    # colour axis (0.3 ms on a 224 px crop).
    r, g, b = crop[..., 0], crop[..., 1], crop[..., 2]
    same = ((r[:-1, 1:] == r[:-1, :-1]) & (g[:-1, 1:] == g[:-1, :-1]) & (b[:-1, 1:] == b[:-1, :-1])
            & (r[1:, :-1] == r[:-1, :-1]) & (g[1:, :-1] == g[:-1, :-1]) & (b[1:, :-1] == b[:-1, :-1]))
    high = np.maximum(np.maximum(r, g), b)[:-1, :-1]
    low = np.minimum(np.minimum(r, g), b)[:-1, :-1]
    coloured = (low <= 245) & (high >= 10)
    n = int(np.count_nonzero(coloured))
    return float(np.count_nonzero(same & coloured)) / n if n else 0.0


def _hsv(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = rgb.reshape(-1, 3).astype(np.float32) / 255.0
    mx = x.max(axis=1)
    mn = x.min(axis=1)
    delta = mx - mn
    sat = np.where(mx > 0, delta / np.maximum(mx, 1e-6), 0.0)
    r, g, b = x[:, 0], x[:, 1], x[:, 2]
    safe = np.maximum(delta, 1e-6)
    hue = np.where(mx == r, ((g - b) / safe) % 6,
                   np.where(mx == g, (b - r) / safe + 2, (r - g) / safe + 4)) * 60.0
    hue = np.where(delta > 0, hue, 0.0)
    return hue, sat, mx


def name_pixels(rgb: np.ndarray) -> np.ndarray:
    """A colour term for every pixel of an (..., 3) uint8 array (flattened)."""
    hue, sat, val = _hsv(rgb)
    names = np.full(hue.shape, "gray", dtype=object)
    chroma = sat * val
    achromatic = (sat < 0.18) | (chroma < 0.08)
    names[achromatic & (val >= 0.82)] = "white"
    names[val < 0.16] = "black"
    names[achromatic & (val >= 0.16) & (val < 0.82)] = "gray"
    c = ~achromatic & (val >= 0.16)
    h = hue
    warm = (h >= 12) & (h < 48)
    names[c & ((h < 12) | (h >= 342))] = "red"
    names[c & (h >= 290) & (h < 342)] = "pink"
    # Light, weakly saturated reds read as pink too.
    names[c & ((h < 12) | (h >= 330)) & (sat < 0.45) & (val > 0.7)] = "pink"
    names[c & warm] = "orange"
    # Dark or muted oranges are what people call brown; pale ones beige.
    names[c & warm & ((val < 0.62) | (sat < 0.5))] = "brown"
    names[c & (h >= 20) & (h < 55) & (sat < 0.4) & (val >= 0.7)] = "beige"
    names[c & (h >= 48) & (h < 70)] = "yellow"
    names[c & (h >= 48) & (h < 70) & (val < 0.5)] = "brown"
    names[c & (h >= 70) & (h < 185)] = "green"  # teal foliage reads green, not blue
    names[c & (h >= 185) & (h < 255)] = "blue"
    names[c & (h >= 255) & (h < 290)] = "purple"
    return names


def pixel_stats(rgb: np.ndarray, crop: np.ndarray | None = None) -> PixelStats:
    """Colours, light and sky of a small thumbnail ``rgb``; with the classifier ``crop``,
    also its flat share."""
    hue, sat, val = _hsv(rgb)
    mean_sat = float(sat.mean())
    bw = mean_sat < BW_MAX_SATURATION
    names = name_pixels(rgb)
    labels, counts = np.unique(names, return_counts=True)
    shares = sorted(((str(n), float(c) / names.size) for n, c in zip(labels, counts)), key=lambda t: -t[1])
    if bw:
        # A toned or scanned black-and-white photo: only the neutral names make sense.
        shares = [(n, s) for n, s in shares if n in ("black", "white", "gray")]
    colors = [(n, s) for n, s in shares if s >= MIN_COLOR_SHARE][:3]
    chromatic = [n for n, s in shares if s >= COLORFUL_SHARE and n not in ("black", "white", "gray")]
    side = int(round(hue.size ** 0.5))
    top = slice(0, max(1, side * SKY_ROWS // 48))
    h2, s2, v2 = (a.reshape(side, -1)[top] for a in (hue, sat, val))
    sky_blue = float(((h2 >= 185) & (h2 < 255) & (s2 > 0.12) & (v2 > 0.35)).mean())
    sky_texture = float(np.abs(np.diff(v2, axis=1)).mean()) if v2.shape[1] > 1 else 1.0
    return PixelStats(colors=colors, brightness=float(val.mean()), saturation=mean_sat,
                      black_and_white=bw, colorful=len(chromatic) >= 4, sky_blue=sky_blue, sky_texture=sky_texture,
                      flat=flat_share(crop) if crop is not None else 0.0)
