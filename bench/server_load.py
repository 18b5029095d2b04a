"""What ``imagetags serve`` costs per request, apart from tagging.

Starts the server in its own process on 127.0.0.1 with a stub backend that
answers at once (``imagetags_df.server.testing.StubBackend``), a fresh SQLite key
store and a rate limit too high to bite, then sends a bounded load from this
process (httpx, asyncio) and prints requests/s, p50/p99 latency and errors for:

* ``floor``   a bare route on the same server returning a same-size JSON body:
              what uvicorn + Starlette + HTTP cost with none of our work;
* ``refused`` an unknown key: auth only (SHA-256 + one SQLite lookup) -> 1003;
* ``tiny``    a 32x24 JPEG: every gate (auth, limit, JSON, base64, sniff, Pillow
              header + draft decode, credit reserve) and the stub backend;
* ``photo``   a real 451x300 photo (31 KB): the same, with a realistic image.

Then what decoding costs the server, with its CPU seconds, its peak RSS (VmHWM)
and its RSS once the scenario is over (``--backend local`` puts the offline
tagger's own decode behind validation's):

* ``bomb``    16 at once of the bug report's file: a 10000x10000 WebP of a few
              hundred KB (2004 from the header under the default 512 MiB budget);
* ``big``     8 at once of a 5000x5000 WebP (25 MP, decoded: within the budget).

Each scenario is bounded by a request count and a time cap; loopback only.
The load generator (a minimal HTTP/1.1 client on asyncio streams, one kept-alive
connection per worker) shares the machine's cores with the server; its CPU share
is printed, so the figures are a lower bound for the server alone.

    python bench/server_load.py                          # 2,000 requests each, concurrency 32
    python bench/server_load.py --requests 500 --concurrency 8 --time-cap 20
    python bench/server_load.py --only decoding --backend local
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from PIL import Image

from imagetags_df.server.testing import wait_until_serving

ROOT = Path(__file__).resolve().parents[1]
PHOTO = ROOT / "data" / "samples" / "chelsea_cat.jpg"
TAGS = "/api/v1/generate_tags"


# --------------------------------------------------------------------------- the server process

def serve(port: int, db: str, log_level: str, backend: str, decode_memory: int) -> None:
    """Run in the child process: the real app, a stub backend, plus the ``floor`` route."""
    import logging

    import uvicorn
    from starlette.responses import JSONResponse

    from imagetags_df.server import create_app
    from imagetags_df.server.serving import ServingLimits, uvicorn_config
    from imagetags_df.server.testing import StubBackend

    logging.basicConfig(level=log_level.upper(), stream=sys.stderr)
    limits = ServingLimits(max_concurrency=1024)
    app = create_app(db, backend=StubBackend() if backend == "stub" else backend, rate_limit="100000000/min",
                     limits=limits, decode_budget=decode_memory * 2**20)
    floor_body = {"code": 0, "message": "success", "request_id": "0" * 32,
                  "data": {"tags": {"tags": ["jpeg", "32x24", "lang-en"], "title": "A jpeg image",
                                    "description": "A 32x24 jpeg image (en)."},
                           "credits": {"amount": 1, "remaining": 99}}}

    async def floor(request):  # reads the body, answers fixed JSON: no auth, no checks
        await request.body()
        return JSONResponse(floor_body)

    app.router.add_route("/bench/floor", floor, methods=["POST"])
    uvicorn.Server(uvicorn_config(app, port=port, log_level="warning", limits=limits)).run()


# --------------------------------------------------------------------------- the load

def webp(side: int) -> bytes:
    """A side x side WebP of a few lines on white: few bytes, many pixels."""
    from PIL import ImageDraw

    img = Image.new("RGB", (side, side), "white")
    ImageDraw.Draw(img).line([(0, 0), (side, side)], fill="red", width=max(1, side // 500))
    buf = io.BytesIO()
    img.save(buf, "WEBP", quality=10)
    return buf.getvalue()


def process_memory(pid: int) -> tuple[float, float, float]:
    """CPU seconds, peak RSS (MiB) and current RSS (MiB) of process ``pid`` (Linux /proc)."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    status = dict(line.split(":", 1) for line in open(f"/proc/{pid}/status").read().splitlines() if ":" in line)
    return cpu, int(status["VmHWM"].split()[0]) / 1024, int(status["VmRSS"].split()[0]) / 1024


def jpeg(size=(32, 24)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, "teal").save(buf, "JPEG")
    return buf.getvalue()


async def _post(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes, body: bytes) -> dict:
    """One HTTP/1.1 request on a kept-alive connection; the JSON answer.

    Hand-written on asyncio streams rather than httpx: httpx spends more CPU per
    request than the server under test does, and client and server share the cores.
    """
    writer.write(head + body)
    await writer.drain()
    header = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in header.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    return json.loads(await reader.readexactly(length))


async def load(port: int, path: str, body: bytes, key: str, requests: int, concurrency: int,
               time_cap: float) -> dict:
    latencies: list[float] = []
    outcomes: Counter = Counter()
    sent = 0
    deadline = time.monotonic() + time_cap
    head = (f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\ncontent-type: application/json\r\n"
            f"authorization: Bearer {key}\r\ncontent-length: {len(body)}\r\n\r\n").encode()

    async def worker() -> None:
        nonlocal sent
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while sent < requests and time.monotonic() < deadline:
                sent += 1
                t0 = time.perf_counter()
                try:
                    answer = await _post(reader, writer, head, body)
                except Exception as exc:  # noqa: BLE001 - a benchmark counts failures, it does not stop
                    outcomes[type(exc).__name__] += 1
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    continue
                latencies.append(time.perf_counter() - t0)
                outcomes[f"code {answer.get('code')}"] += 1
        finally:
            writer.close()

    start, cpu0 = time.perf_counter(), time.process_time()
    await asyncio.gather(*[worker() for _ in range(concurrency)])
    elapsed, client_cpu = time.perf_counter() - start, time.process_time() - cpu0
    latencies.sort()

    def pick(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 if latencies else float("nan")

    done = sum(outcomes.values())
    return {"requests": done, "seconds": elapsed, "rps": done / elapsed, "p50": pick(0.50), "p99": pick(0.99),
            "client_cpu": client_cpu / elapsed, "outcomes": dict(outcomes), "capped": time.monotonic() >= deadline}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per scenario (default 2000)")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight (default 32)")
    parser.add_argument("--time-cap", type=float, default=60.0, help="seconds per scenario at most (default 60)")
    parser.add_argument("--server-log-level", default="warning", choices=["warning", "info"],
                        help="info logs one line per request, as 'imagetags serve' does by default")
    parser.add_argument("--backend", default="stub", choices=["stub", "local"],
                        help="stub answers from the image size; local is the offline tagger (decodes again)")
    parser.add_argument("--decode-memory", type=int, default=512, metavar="MIB",
                        help="the server's decode budget per image (imagetags serve --decode-memory); "
                             "100000 shows what decoding costs without one")
    parser.add_argument("--only", choices=["throughput", "decoding"], help="run one half only")
    parser.add_argument("--serve", nargs=2, metavar=("PORT", "DB"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(int(args.serve[0]), args.serve[1], args.server_log_level, args.backend, args.decode_memory)
        return

    sys.path.insert(0, str(ROOT))
    from imagetags_df.server.keystore import KeyStore
    from imagetags_df.server.testing import free_socket

    tmp = tempfile.mkdtemp(prefix="imagetags-bench-")
    db = os.path.join(tmp, "keys.sqlite3")
    key, _ = KeyStore(db).create("bench", credits=10**9)
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    log = open(os.path.join(tmp, "server.log"), "w")
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port), db, "--backend", args.backend,
                               "--decode-memory", str(args.decode_memory), "--server-log-level", args.server_log_level], env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_until_serving(server, url, timeout=30, poll=0.1)
        except RuntimeError:
            raise SystemExit(f"the server did not start; see {log.name}") from None

        if args.only != "decoding":
            throughput(port, key, args)
        if args.only != "throughput":
            decoding(port, key, server.pid, args)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def throughput(port: int, key: str, args: argparse.Namespace) -> None:
    tiny = json.dumps({"image": "data:image/jpeg;base64," + base64.b64encode(jpeg()).decode(),
                       "lang": "en"}).encode()
    photo = json.dumps({"image": "data:image/jpeg;base64," + base64.b64encode(PHOTO.read_bytes()).decode(),
                        "lang": "en"}).encode()
    scenarios = [("floor", "/bench/floor", tiny, key), ("refused", TAGS, tiny, "itk_" + "0" * 43),
                 ("tiny", TAGS, tiny, key), ("photo", TAGS, photo, key)]
    print(f"imagetags serve, {args.backend} backend, {args.requests} requests per scenario, concurrency "
          f"{args.concurrency}, cap {args.time_cap:g} s, server log level {args.server_log_level}, "
          f"{os.cpu_count()} CPUs shared by client and server")
    print(f"{'scenario':<9} {'body':>8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'client CPU':>10}  outcomes")
    asyncio.run(load(port, TAGS, tiny, key, 200, args.concurrency, 10))  # warm-up (connections, caches)
    for name, path, body, k in scenarios:
        r = asyncio.run(load(port, path, body, k, args.requests, args.concurrency, args.time_cap))
        capped = " (time cap hit)" if r["capped"] else ""
        print(f"{name:<9} {len(body):>8,} {r['rps']:>8.0f} {r['p50']:>8.1f} {r['p99']:>8.1f}  "
              f"{r['client_cpu']:>10.0%}  {r['outcomes']}{capped}")


def decoding(port: int, key: str, pid: int, args: argparse.Namespace) -> None:
    print(f"decoding, {args.backend} backend, decode budget {args.decode_memory} MiB: server CPU, peak RSS (VmHWM) and RSS after each scenario")
    print(f"{'scenario':<9} {'file':>10} {'pixels':>11} {'at once':>7} {'seconds':>8} {'CPU s':>7} "
          f"{'peak MiB':>9} {'after MiB':>9}  outcomes")
    cpu0, peak0, rss0 = process_memory(pid)
    print(f"{'(idle)':<9} {'':>10} {'':>11} {'':>7} {'':>8} {'':>7} {peak0:>9.0f} {rss0:>9.0f}")
    for name, side, count in (("bomb", 10000, 16), ("big", 5000, 8)):
        data = webp(side)
        body = json.dumps({"image": "data:image/webp;base64," + base64.b64encode(data).decode(),
                           "lang": "en"}).encode()
        cpu0, _, _ = process_memory(pid)
        r = asyncio.run(load(port, TAGS, body, key, count, count, args.time_cap))
        time.sleep(1.0)  # let freed memory go back
        cpu1, peak, rss = process_memory(pid)
        print(f"{name:<9} {len(data):>10,} {side}x{side:<6} {count:>7} {r['seconds']:>8.1f} {cpu1 - cpu0:>7.1f} "
              f"{peak:>9.0f} {rss:>9.0f}  {r['outcomes']}")


if __name__ == "__main__":
    main()
