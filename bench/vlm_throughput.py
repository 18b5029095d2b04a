"""Throughput of the VLM backend against a limit announced only in headers, and what max_side saves.

Starts a real OpenAI-compatible server on 127.0.0.1 (imagetags_df.testing.openai.
FakeVisionModel) that answers each request after 1-4 s and allows LIMIT requests per
sliding WINDOW seconds. It never says the limit up front: only each answer's
``x-ratelimit-remaining-requests`` / ``x-ratelimit-reset-requests`` headers (and a 429
without Retry-After when a request goes over). ``generate`` is given no rate limit.

1. Throughput: ROWS distinct images through ``generate(backend="openai")``. Prints the
   achieved/allowed rate, 429s, and rows lost. "Allowed" is the most the server's window
   admits over the span of the accepted requests: LIMIT x (floor(span / WINDOW) + 1).
2. max_side: camera-sized JPEGs (4032x3024) sent as they are (max_side=0) and at the
   default 1024 px. Prints bytes sent and image tokens estimated with OpenAI's
   documented tile formula for GPT-4o at detail=high (fit in 2048x2048, short side to
   768, 170 tokens per 512-px tile + 85), and, for models that count pixels, one token
   per 28x28-px patch as Qwen2-VL/Qwen2.5-VL's model cards describe (uncapped; servers
   often cap it with max_pixels). Treat the token figures as yardsticks, not bills.

Bounded: fixed counts, every phase capped in time, loopback only.

    python bench/vlm_throughput.py            # about 2 minutes
    python bench/vlm_throughput.py --quick    # about 40 s
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import imagetags_df  # noqa: E402
from imagetags_df.backends import resolve_backend  # noqa: E402
from imagetags_df.testing.openai import FakeVisionModel  # noqa: E402

MODEL = "bench-vl"
LATENCY = (1.0, 4.0)


def patch_tokens(width: int, height: int, patch: int = 28) -> int:
    """Visual tokens of a Qwen2.5-VL-style model: one per 28x28 patch (sides rounded to 28)."""
    return max(1, round(width / patch)) * max(1, round(height / patch))


def small_images(folder: Path, n: int) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        p = folder / f"s{i:04d}.png"  # lossless, so every image stays distinct (no dedupe)
        img = Image.new("RGB", (48, 32), ((i * 7) % 256, (i * 13) % 256, (i * 29) % 256))
        img.putpixel((0, 0), (i % 256, (i // 256) % 256, 255))
        img.save(p)
        out.append(str(p))
    return out


def camera_images(folder: Path, n: int, size=(4032, 3024)) -> list[str]:
    """Photo-like JPEGs: smooth colour fields plus fine grain, about a phone photo's size in bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    out = []
    for i in range(n):
        p = folder / f"c{i:02d}.jpg"
        coarse = rng.integers(0, 256, size=(12, 16, 3), dtype=np.uint8)
        img = Image.fromarray(coarse).resize(size, Image.Resampling.BICUBIC)
        grain = rng.normal(0, 10, size=(size[1], size[0], 3))
        arr = np.clip(np.asarray(img, dtype=np.float32) + grain, 0, 255).astype(np.uint8)
        Image.fromarray(arr).save(p, "JPEG", quality=90)
        out.append(str(p))
    return out


def throughput(rows: int, limit: int, window: float, concurrency: int, tmp: Path) -> bool:
    paths = small_images(tmp / "small", rows)
    df = pd.DataFrame({"path": paths})
    with FakeVisionModel(limit=limit, window=window, latency=LATENCY) as srv:
        t0 = time.time()
        out = imagetags_df.generate(df, backend="openai", model=MODEL, base_url=srv.url, max_concurrency=concurrency,
                                    cache_dir=tmp / "cache", progress=False)
        wall = time.time() - t0
        ok_calls = sorted(c.at for c in srv.calls if c.outcome == "ok")
        rejected = srv.count("429")
    lost = int(out.error.notna().sum())
    span = ok_calls[-1] - ok_calls[0] if ok_calls else 0.0
    allowed = limit * (math.floor(span / window) + 1)
    ratio = len(ok_calls) / allowed if allowed else 0.0
    print(f"throughput: {rows} rows, limit {limit} per {window:g} s sliding window (announced only in headers), "
          f"latency {LATENCY[0]:g}-{LATENCY[1]:g} s, {concurrency} in flight")
    print(f"  accepted {len(ok_calls)} requests over {span:.1f} s; the window admits at most {allowed} in that span")
    print(f"  achieved/allowed = {ratio:.3f}   (target >= 0.95)")
    print(f"  plain rate: {len(ok_calls) / wall * 60:.1f}/min over {wall:.1f} s wall clock incl. the last answers' "
          f"latency; allowed average {limit / window * 60:.1f}/min")
    print(f"  429 rejections: {rejected}; rows lost: {lost}")
    return ratio >= 0.95 and lost == 0


def max_side_savings(n: int, tmp: Path) -> None:
    paths = camera_images(tmp / "camera", n)
    df = pd.DataFrame({"path": paths})
    original = sum(Path(p).stat().st_size for p in paths)
    print(f"max_side: {n} camera-sized JPEGs (4032x3024), {original / n / 1e6:.2f} MB each on disk")
    with FakeVisionModel() as srv:
        figures = {}
        for side in (0, 1024):
            be = resolve_backend("openai", model=MODEL, base_url=srv.url, max_side=side)
            before = len(srv.calls)
            out = imagetags_df.generate(df, backend=be, cache_dir=False, progress=False)
            assert out.error.isna().all(), out.error.tolist()
            calls = srv.calls[before:]
            sent = be.stats.bytes_after  # type: ignore[attr-defined]
            tokens = be.stats.tokens_after  # type: ignore[attr-defined]
            dims = {(c.width, c.height) for c in calls}
            patches = sum(patch_tokens(c.width, c.height) for c in calls)
            figures[side] = (sent, tokens, patches)
            label = "as they are (max_side=0)" if side == 0 else f"max_side={side}"
            print(f"  {label:>26}: sent {sent / n / 1e6:.2f} MB/image at {sorted(dims)}; image tokens/image "
                  f"~{tokens / n:.0f} by OpenAI's tile formula, ~{patches / n:.0f} at one per 28x28 patch")
    (b0, t0, p0), (b1, t1, p1) = figures[0], figures[1024]
    print(f"  saved by max_side=1024: {(1 - b1 / b0) * 100:.0f}% of bytes; {(1 - t1 / t0) * 100:.0f}% of image "
          f"tokens by the tile formula (OpenAI shrinks to 768 px itself), {(1 - p1 / p0) * 100:.0f}% at one "
          "token per patch")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts")
    args = parser.parse_args()
    rows, limit, window = (40, 10, 5.0) if args.quick else (150, 25, 10.0)
    with tempfile.TemporaryDirectory() as tmp:
        ok = throughput(rows, limit, window, concurrency=8, tmp=Path(tmp))
        print()
        max_side_savings(4 if args.quick else 8, Path(tmp))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
