"""How late the first call of a paced run reaches the server after its pacer slot.

    python bench/first_call_delay.py [--runs 5]

Each run is a fresh Python process (the cost measured is paid once per process:
building the HTTP client and the async-I/O modules httpx imports on its first
request). It tags 3 images with the imagedescriber backend against a
FakeImageDescriber on 127.0.0.1 at 600/min and prints the time from the moment
the pacer handed out the first slot to the moment the server received the first
request. "warm" is the engine as it is (``Backend.warm()`` before the first
slot); "cold" turns the hook off, as before it existed. The machine may be
shared: the load average is printed; compare the two medians from one run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KEY = "sk-bench-0123456789"


def child(mode: str) -> None:
    sys.path.insert(0, str(ROOT))
    import pandas as pd
    from PIL import Image

    import imagetags_df
    from imagetags_df.infra.ratelimit import Pacer
    from imagetags_df.testing import FakeImageDescriber

    granted: list[float] = []
    acquire = Pacer.acquire

    async def recording_acquire(self: Pacer) -> None:
        await acquire(self)
        granted.append(time.time())

    Pacer.acquire = recording_acquire  # type: ignore[method-assign]
    with tempfile.TemporaryDirectory() as tmp, FakeImageDescriber(keys={KEY}) as api:
        paths = []
        for i in range(3):
            p = Path(tmp) / f"i{i}.jpg"
            Image.new("RGB", (64, 48), (40 * i, 90, 160)).save(p)
            paths.append(str(p))
        be = imagetags_df.resolve_backend("imagedescriber", api_key=KEY, base_url=api.url, rate_limit="600/min")
        if mode == "cold":
            be.warm = lambda: None  # type: ignore[method-assign]
        imagetags_df.generate(pd.DataFrame({"path": paths}), backend=be, cache_dir=os.path.join(tmp, "c"),
                              progress=False)
        first = min(c.at for c in api.calls)
    print(json.dumps({"delay": first - granted[0]}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--child", choices=["warm", "cold"])
    args = ap.parse_args()
    if args.child:
        child(args.child)
        return
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    delays: dict[str, list[float]] = {"warm": [], "cold": []}
    for _ in range(args.runs):
        for mode in ("cold", "warm"):  # interleaved, so both see the same load
            out = subprocess.run([sys.executable, __file__, "--child", mode], capture_output=True, text=True,
                                 check=True, timeout=120)
            delays[mode].append(json.loads(out.stdout.strip().splitlines()[-1])["delay"])
    for mode, ds in delays.items():
        print(f"{mode}: first call reached the server {statistics.median(ds) * 1000:.1f} ms after its slot "
              f"(median of {len(ds)}; min {min(ds) * 1000:.1f}, max {max(ds) * 1000:.1f})")


if __name__ == "__main__":
    main()
