"""Faults end to end: does anyone pay for what they never got?

Each section runs a real failure against real processes on 127.0.0.1 and prints
what was charged against what was delivered; every difference must be 0.

* ``server_crash``: ``imagetags serve`` (the offline tagger, real sample photos)
  under a steady load from concurrent clients is killed with SIGKILL while requests
  hold credit reservations (being tagged), then started again on the same key database. Credits charged
  (read from the database after the restart) against answers the clients received.
* ``client_interrupt``: ``generate`` in a child process against a loopback API whose
  every call takes 3 s gets SIGINT (Ctrl-C) with calls in flight, once while images
  are still being paced out and once after every call has been sent. Calls the server
  charged for against rows a re-run finds cached.

* ``metadata_rerun``: ``imagetags tag DIR --write-metadata`` over photos already
  tagged (and paid for) is killed with SIGKILL once some files are rewritten; then
  ``imagetags tag DIR`` runs again. Credits that rerun pays (should be 0).
* ``metadata_readonly``: the same pass run as user ``nobody`` over photos one of
  which is read-only; then ``imagetags tag DIR`` again. Credits that rerun pays.
* ``shared_cache``: two ``imagetags tag DIR`` processes started at once on one cache
  directory against one loopback API. Paid calls against unique images.
* ``hung_up_clients``: clients send a whole request to ``imagetags serve`` and close
  their sockets at once. Credits taken from them (should be 0).
* ``stalls``: seconds until a run ends against a server answering with a 24 h
  ``x-ratelimit-reset`` header, a trickled answer, a 429 asking for a day, and a stream
  of 429s (the row's patience scaled down to 10 s so that it can be measured).
* ``tokens_over_budget``: ``max_tokens_budget`` against answers that fail but cost
  tokens, answers without usage, and calls ten times dearer than the first guess.
  Tokens the server spent past the budget.

With ``--before TREE`` (a checkout of an older commit, e.g. made with ``git worktree
add``) the sections that compare run that tree's code first, then this one's, in one sitting.

Every loop is bounded in requests and seconds.

    python bench/faults.py                      # every section
    python bench/faults.py --only server_crash --clients 12 --kill-after 24
    python bench/faults.py --only client_interrupt --images 16 --latency 3
    python bench/faults.py --only metadata_rerun --only metadata_readonly --only shared_cache --before /tmp/before
    python bench/faults.py --only hung_up_clients --only stalls --only tokens_over_budget --before /tmp/before
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from imagetags_df.server.testing import free_port, wait_until_serving

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"
TAGS = "/api/v1/generate_tags"


def _imagetags(*args: str) -> list[str]:
    return [sys.executable, "-c", "from imagetags_df.cli import main; main()", *args]


def _start_server(db: Path, port: int, log: Path) -> subprocess.Popen:
    proc = subprocess.Popen(_imagetags("serve", "--db", str(db), "--port", str(port), "--backend", "local",
                                       "--rate-limit", "100000/min"),
                            stdout=subprocess.DEVNULL, stderr=log.open("ab"))
    try:
        wait_until_serving(proc, f"http://127.0.0.1:{port}", timeout=120, log=log)
    except RuntimeError as exc:
        raise SystemExit(str(exc)) from None
    return proc


def _credits(db: Path, key_id: int) -> tuple[int, int]:
    from imagetags_df.server.keystore import KeyStore

    info = KeyStore(db).get(key_id)
    return info.credits, len(KeyStore(db).open_reservations())


async def _load(port: int, key: str, bodies: list[bytes], proc: subprocess.Popen, db: Path, *, clients: int,
                kill_after: int, min_open: int, time_cap: float) -> tuple[int, int]:
    """Clients post photos in a loop; SIGKILL once ``kill_after`` answers have arrived and
    at least ``min_open`` requests hold a reservation (are being tagged). (received, sent)."""
    from imagetags_df.server.keystore import KeyStore

    received = sent = 0
    enough = asyncio.Event()
    stop_at = time.monotonic() + time_cap

    async def client(n: int) -> None:
        nonlocal received, sent
        async with httpx.AsyncClient(timeout=120) as http:
            i = n
            while time.monotonic() < stop_at:
                sent += 1
                try:
                    r = await http.post(f"http://127.0.0.1:{port}{TAGS}", content=bodies[i % len(bodies)],
                                        headers={"content-type": "application/json",
                                                 "authorization": f"Bearer {key}"})
                except httpx.TransportError:
                    return
                i += clients
                if r.json().get("code") == 0:
                    received += 1
                    if received >= kill_after:
                        enough.set()

    tasks = [asyncio.create_task(client(n)) for n in range(clients)]
    await asyncio.wait_for(enough.wait(), time_cap)
    store = KeyStore(db)
    deadline = time.monotonic() + 10
    while len(store.open_reservations()) < min_open and time.monotonic() < deadline:
        await asyncio.sleep(0.002)
    os.kill(proc.pid, signal.SIGKILL)
    store.close()
    await asyncio.wait_for(asyncio.gather(*tasks), 120)
    return received, sent


def _variant(photos: list[Path], i: int) -> bytes:
    """Sample photo ``i % n`` cropped by a few pixels: other pixels, so the tagger's own
    cache of analyses cannot answer it without tagging."""
    from PIL import Image

    with Image.open(photos[i % len(photos)]) as img:
        shift = 1 + i // len(photos)
        img = img.convert("RGB").crop((shift, shift, img.width - shift, img.height - shift))
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def server_crash(args: argparse.Namespace) -> int:
    """SIGKILL ``imagetags serve`` mid-load, restart it; credits charged vs answers delivered."""
    from imagetags_df.server.keystore import KeyStore

    photos = sorted(p for p in SAMPLES.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp"))
    bodies = [json.dumps({"image": "data:image/jpeg;base64," + base64.b64encode(_variant(photos, i)).decode(),
                          "lang": "en"}).encode() for i in range(args.variants)]
    with tempfile.TemporaryDirectory() as tmp:
        db, log = Path(tmp) / "keys.sqlite3", Path(tmp) / "server.log"
        start = 100_000
        key, info = KeyStore(db).create("bench", start)
        port = free_port()
        proc = _start_server(db, port, log)
        t0 = time.perf_counter()
        try:
            received, sent = asyncio.run(_load(port, key, bodies, proc, db, clients=args.clients,
                                               kill_after=args.kill_after, min_open=args.min_open,
                                               time_cap=args.time_cap))
        finally:
            proc.kill()
            proc.wait()
        load_s = time.perf_counter() - t0
        left, open_at_kill = _credits(db, info.id)
        restarted = _start_server(db, port, log)
        restarted.send_signal(signal.SIGINT)
        restarted.wait(timeout=60)
        left_after, open_after = _credits(db, info.id)
    charged = start - left_after
    print(f"server_crash: {args.clients} clients, {args.variants} crops of {len(photos)} sample photos, offline tagger; "
          f"SIGKILL after {load_s:.1f} s with {sent - received} requests unanswered")
    print(f"  credits held at the kill      {start - left:6d}  ({open_at_kill} reservations open)")
    print(f"  credits charged after restart {charged:6d}  ({open_after} reservations open)")
    print(f"  answers delivered             {received:6d}")
    print(f"  difference                    {charged - received:6d}")
    return charged - received


_GENERATE = """
import sys
import pandas as pd
import imagetags_df
url, cache, key, rate, *paths = sys.argv[1:]
imagetags_df.generate(pd.DataFrame({"path": paths}), backend="imagedescriber", api_key=key, base_url=url,
                      cache_dir=cache, rate_limit=rate, max_concurrency=len(paths), progress=False)
"""


def _distinct_photos(folder: Path, n: int) -> list[str]:
    """n distinct images: the sample photos, then noisy variants of them."""
    from PIL import Image

    photos = sorted(p for p in SAMPLES.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    out: list[str] = []
    for i in range(n):
        src = photos[i % len(photos)]
        if i < len(photos):
            out.append(str(src))
            continue
        img = Image.open(src).convert("RGB")
        img.putpixel((i % img.width, 0), (i % 256, 0, 0))  # one pixel: new bytes, new image
        path = folder / f"variant_{i}.jpg"
        img.save(path, quality=90)
        out.append(str(path))
    return out


def _interrupt_once(phase: str, paths: list[str], latency: float, folder: Path) -> tuple[int, int, str, float]:
    """SIGINT a run with calls in flight; (calls charged, rows cached on the re-run, last line, seconds to exit)."""
    import pandas as pd

    from imagetags_df.testing import FakeImageDescriber

    key = "sk-bench-faults"
    cache = folder / f"cache-{phase}"
    # "sending": 2 calls/s, so Ctrl-C lands while images are still being paced out;
    # "all-sent": every call goes out at once and the engine only waits for answers.
    rate = "120/min" if phase == "sending" else "100000/min"
    with FakeImageDescriber(keys={key}, latency=latency) as api:
        proc = subprocess.Popen([sys.executable, "-c", _GENERATE, api.url, str(cache), key, rate, *paths],
                                stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if (phase == "sending" and api.count("ok") >= 1 and api.in_flight() >= 2) or \
                    (phase == "all-sent" and api.in_flight() >= len(paths)):
                break
            time.sleep(0.02)
        t0 = time.perf_counter()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
        exit_s = time.perf_counter() - t0
        while api.in_flight() and time.monotonic() < deadline:  # what the server still answers is charged
            time.sleep(0.05)
        charged = api.count("ok")
        again = pd.DataFrame({"path": paths}).imagetags.generate(
            backend="imagedescriber", api_key=key, base_url=api.url, cache_dir=cache,
            rate_limit="100000/min", max_concurrency=len(paths), progress=False)
    last = err.strip().splitlines()[-1] if err.strip() else "(no message)"
    return charged, int(again.cached.sum()), last, exit_s


def client_interrupt(args: argparse.Namespace) -> int:
    """Ctrl-C a run with slow calls in flight; calls paid for vs results cached."""
    total = 0
    with tempfile.TemporaryDirectory() as tmp:
        paths = _distinct_photos(Path(tmp), args.images)
        print(f"client_interrupt: {len(paths)} images, {args.latency:g} s per call, SIGINT with calls in flight")
        for phase in ("sending", "all-sent"):
            charged, cached, last, exit_s = _interrupt_once(phase, paths, args.latency, Path(tmp))
            print(f"  {phase:9s} paid {charged:3d}  cached {cached:3d}  difference {charged - cached:3d}  "
                  f"(exited {exit_s:.1f} s after SIGINT: {last.split(': ', 1)[-1]})")
            total += abs(charged - cached)
    print(f"  difference                    {total:6d}")
    return total


def _code_env(tree: str | None, **extra: str) -> dict[str, str]:
    """The environment that runs ``tree``'s code (None: this checkout's)."""
    env = dict(os.environ, **extra)
    if tree is not None:
        env["PYTHONPATH"] = str(Path(tree).resolve())
    return env


def _run_in(tree: str | None) -> str:
    """A working directory for the child: not this checkout, whose package ``-c`` would import first."""
    return str(Path(tree).resolve().parent) if tree is not None else str(ROOT)


def _versions(args: argparse.Namespace) -> list[tuple[str, str | None]]:
    return ([("before", args.before)] if args.before else []) + [("after", None)]


def _noisy_photos(folder: Path, n: int) -> list[Path]:
    """n distinct noisy 1024x768 JPEGs (~0.5 MB each, so a rewrite takes a few ms)."""
    import numpy as np
    from PIL import Image

    rnd = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        path = folder / f"p{i:04d}.jpg"
        Image.fromarray(rnd.integers(0, 256, (768, 1024, 3), dtype=np.uint8)).save(path, quality=90)
        out.append(path)
    return out


def _metadata_rerun_once(tree: str | None, photos: list[Path], kill_after: int, work: Path) -> tuple[int, int, int]:
    """(credits of the first run, files rewritten before the SIGKILL, credits the rerun paid)."""
    from imagetags_df.testing import FakeImageDescriber

    key = "sk-bench-faults"
    album = photos[0].parent
    with FakeImageDescriber(keys={key}) as api:
        env = _code_env(tree, IMAGEDESCRIBER_BASE_URL=api.url, IMAGEDESCRIBER_API_KEY=key,
                        IMAGETAGS_CACHE_DIR=str(work / "cache"))
        common = ["--backend", "imagedescriber", "--rate-limit", "100000/min", "--no-progress"]
        subprocess.run(_imagetags("tag", str(album), *common, "--out", str(work / "first.csv")), env=env,
                       cwd=_run_in(tree), capture_output=True, timeout=600, check=True)
        first = api.count("ok")
        before = {p: p.stat().st_mtime_ns for p in photos}
        proc = subprocess.Popen(_imagetags("tag", str(album), *common, "--write-metadata"), env=env,
                                cwd=_run_in(tree), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 300
        while proc.poll() is None and time.monotonic() < deadline:
            if sum(p.stat().st_mtime_ns != before[p] for p in photos) >= kill_after:
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.002)
        proc.wait(timeout=60)
        rewritten = sum(p.stat().st_mtime_ns != before[p] for p in photos)
        subprocess.run(_imagetags("tag", str(album), *common, "--out", str(work / "again.csv")), env=env,
                       cwd=_run_in(tree), capture_output=True, timeout=600, check=True)
        return first, rewritten, api.count("ok") - first


def metadata_rerun(args: argparse.Namespace) -> int:
    """SIGKILL a --write-metadata pass; credits the next run pays."""
    worst = 0
    with tempfile.TemporaryDirectory() as tmp:
        print(f"metadata_rerun: {args.metadata_images} photos tagged and paid for, then --write-metadata "
              f"SIGKILLed after ~{args.metadata_kill_after} rewrites, then tagged again")
        master = _noisy_photos(Path(tmp) / "master", args.metadata_images)
        for label, tree in _versions(args):
            work = Path(tmp) / label
            album = work / "album"
            album.mkdir(parents=True)
            photos = []
            for p in master:
                (album / p.name).write_bytes(p.read_bytes())
                photos.append(album / p.name)
            first, rewritten, paid = _metadata_rerun_once(tree, photos, args.metadata_kill_after, work)
            print(f"  {label:6s} first run paid {first:4d}; {rewritten:4d} files rewritten at the kill; "
                  f"the rerun paid {paid:4d}")
            if tree is None:
                worst = paid
    return worst


def _metadata_readonly_once(tree: str | None, master: list[Path], locked: int, top: Path) -> tuple[int, int, str]:
    """As user nobody: (files rewritten, credits the rerun paid, the pass's last line)."""
    import shutil

    from imagetags_df.testing import FakeImageDescriber

    key = "sk-bench-faults"
    album = top / "album"
    album.mkdir()
    shutil.chown(album, "nobody", "nogroup")
    photos = []
    for p in master:
        (album / p.name).write_bytes(p.read_bytes())
        shutil.chown(album / p.name, "nobody", "nogroup")
        photos.append(album / p.name)
    photos[locked].chmod(0o444)
    before = {p: p.read_bytes() for p in photos}
    nobody = ["setpriv", "--reuid", "nobody", "--regid", "nogroup", "--clear-groups"]
    common = ["--backend", "imagedescriber", "--rate-limit", "100000/min", "--no-progress"]
    with FakeImageDescriber(keys={key}) as api:
        env = _code_env(tree, IMAGEDESCRIBER_BASE_URL=api.url, IMAGEDESCRIBER_API_KEY=key,
                        IMAGETAGS_CACHE_DIR=str(top / "cache"))
        first = subprocess.run([*nobody, *_imagetags("tag", str(album), *common, "--write-metadata")], env=env,
                               cwd=_run_in(tree), capture_output=True, text=True, timeout=600)
        paid_first = api.count("ok")
        rewritten = sum(p.read_bytes() != before[p] for p in photos)
        subprocess.run([*nobody, *_imagetags("tag", str(album), *common, "--out", str(top / "again.csv"))],
                       env=env, cwd=_run_in(tree), capture_output=True, timeout=600)
        paid_again = api.count("ok") - paid_first
    lines = [ln for ln in first.stderr.splitlines() if "imagetags-tmp" in ln or "read-only" in ln]
    return rewritten, paid_again, (lines[0].strip() if lines else "(no message)")


def metadata_readonly(args: argparse.Namespace) -> int:
    """One read-only photo among many, as an unprivileged user: credits the next run pays."""
    worst = 0
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp).chmod(0o777)
        n = args.metadata_images // 2
        master = _noisy_photos(Path(tmp) / "master", n)
        print(f"metadata_readonly: {n} photos, photo #{n // 2} read-only, `--write-metadata` as user nobody, "
              "then tagged again")
        for label, tree in _versions(args):
            top = Path(tmp) / label
            top.mkdir()
            top.chmod(0o777)
            rewritten, paid, line = _metadata_readonly_once(tree, master, n // 2, top)
            name = line.split("/album/")[-1] if "/album/" in line else line
            print(f"  {label:6s} {rewritten:4d} files rewritten; the rerun paid {paid:4d}  (said: ...{name[:80]})")
            if tree is None:
                worst = paid
    return worst


def shared_cache(args: argparse.Namespace) -> int:
    """Two processes at once on one cache directory: paid calls against unique images."""
    from imagetags_df.testing import FakeImageDescriber

    key = "sk-bench-faults"
    excess = 0
    with tempfile.TemporaryDirectory() as tmp:
        paths = _distinct_photos(Path(tmp), args.shared_images)
        album = Path(tmp) / "album"
        album.mkdir()
        for i, p in enumerate(paths):
            (album / f"{i:03d}.jpg").write_bytes(Path(p).read_bytes())
        unique = len({Path(p).read_bytes() for p in paths})
        print(f"shared_cache: two `imagetags tag` processes at once, one cache directory, {unique} unique "
              f"images, {args.shared_latency:g} s per call")
        for label, tree in _versions(args):
            with FakeImageDescriber(keys={key}, latency=args.shared_latency) as api:
                env = _code_env(tree, IMAGEDESCRIBER_BASE_URL=api.url, IMAGEDESCRIBER_API_KEY=key,
                                IMAGETAGS_CACHE_DIR=str(Path(tmp) / f"cache-{label}"))
                t0 = time.perf_counter()
                procs = [subprocess.Popen(_imagetags("tag", str(album), "--backend", "imagedescriber",
                                                     "--rate-limit", "100000/min", "--concurrency", "4",
                                                     "--no-progress", "--out", str(Path(tmp) / f"{label}{i}.csv")),
                                          env=env, cwd=_run_in(tree), stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL)
                         for i in range(2)]
                for proc in procs:
                    proc.wait(timeout=600)
                seconds = time.perf_counter() - t0
                paid = api.count("ok")
            print(f"  {label:6s} paid calls {paid:4d} for {unique} unique images (both done in {seconds:.1f} s)")
            if tree is None:
                excess = paid - unique
    return excess


def _child(tree: str | None, code: str, args: list[str], cap: float) -> tuple[float, str]:
    """Run ``code`` with ``tree``'s library at most ``cap`` s: (seconds, its last stderr line)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code, *args], env=_code_env(tree), cwd=_run_in(tree),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _, err = proc.communicate(timeout=cap)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return cap, f"still running after {cap:g} s: stopped by the bench"
    lines = [line for line in err.strip().splitlines() if line.strip()]
    return time.perf_counter() - t0, (lines[-1] if lines else "(no message)")


_HUNG_UP = """
import socket, sys, time
port, key, path, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
body = open(path, "rb").read()
head = (f"POST /api/v1/generate_tags HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        f"authorization: Bearer {key}\r\ncontent-length: {len(body)}\r\n\r\n").encode()
socks = [socket.create_connection(("127.0.0.1", int(port))) for _ in range(n)]
for s in socks:
    s.sendall(head + body)
for s in socks:
    s.close()
"""


def hung_up_clients(args: argparse.Namespace) -> int:
    """Clients that send a whole request to `imagetags serve` and close at once: credits taken."""
    from imagetags_df.server.keystore import KeyStore

    photo = SAMPLES / "coffee.jpg"
    taken = 0
    print(f"hung_up_clients: {args.hung_up} clients send {photo.name} to `imagetags serve` (offline tagger) "
          "and close their sockets at once")
    with tempfile.TemporaryDirectory() as tmp:
        body = Path(tmp) / "body.json"
        body.write_text(json.dumps({"image": "data:image/jpeg;base64," + base64.b64encode(photo.read_bytes())
                                    .decode(), "lang": "en"}))
        for label, tree in _versions(args):
            db, log = Path(tmp) / f"{label}.sqlite3", Path(tmp) / f"{label}.log"
            key, info = KeyStore(db).create("bench", 1000)
            port = free_port()
            proc = subprocess.Popen(_imagetags("serve", "--db", str(db), "--port", str(port), "--backend", "local",
                                               "--rate-limit", "100000/min"), env=_code_env(tree),
                                    cwd=_run_in(tree), stdout=subprocess.DEVNULL, stderr=log.open("ab"))
            try:
                wait_until_serving(proc, f"http://127.0.0.1:{port}", timeout=120, log=log)
                _child(None, _HUNG_UP, [str(port), key, str(body), str(args.hung_up)], 60)
                deadline = time.monotonic() + 60
                while KeyStore(db).open_reservations() or log.read_text().count("credit refunded") + \
                        (1000 - KeyStore(db).get(info.id).credits) < args.hung_up:
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.1)
            finally:
                proc.send_signal(signal.SIGINT)
                proc.wait(timeout=60)
            charged = 1000 - KeyStore(db).get(info.id).credits
            print(f"  {label:6s} credits taken from clients that hung up: {charged} of {args.hung_up}")
            if tree is None:
                taken = charged
    return taken


_TAG = """
import sys, json
import pandas as pd
import imagetags_df
import imagetags_df._constants as C
backend, url, patience, timeout, budget, concurrency, retries, *paths = sys.argv[1:]
C.RATE_LIMIT_PATIENCE = float(patience)  # this version's name for a row's patience...
try:
    import imagetags_df.backends.openai as o
    o.RATE_LIMIT_PATIENCE = float(patience)  # ...and an older one's, per backend call
except AttributeError:
    pass
extra = {"model": "m"} if backend == "openai" else {}
if int(budget):
    extra["max_tokens_budget"] = int(budget)
out = imagetags_df.generate(pd.DataFrame({"path": paths}), backend=backend, api_key="sk-bench-000000",
                            base_url=url, cache_dir=False, progress=False, max_concurrency=int(concurrency),
                            timeout=float(timeout), rate_limit="100000/min", max_retries=int(retries), **extra)
print(json.dumps({"errors": out["error"].dropna().tolist()[:1]}), file=sys.stderr)
"""


def stalls(args: argparse.Namespace) -> int:
    """Seconds until a hostile server's answers end a run: a 24 h rate-limit header, a trickled
    answer, a 429 asking for a day, a stream of 429s (row patience scaled down to 10 s)."""
    from imagetags_df.testing.hostile import HostileServer, Reply

    cap = args.stall_cap
    chat = json.dumps({"choices": [{"message": {"content": json.dumps(
        {"tags": ["cup"], "title": "A cup", "description": "A cup."})}}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10}}).encode()
    api_ok = json.dumps({"code": 0, "message": "ok", "data": {"tags": {"tags": ["cup"], "title": "t",
                                                                       "description": "d"}}}).encode()
    scenarios = [
        ("24 h x-ratelimit header", "openai", "/v1", lambda r: Reply(body=chat, headers={
            "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "24h"}), "120", "5"),
        ("trickle 1 B/0.5 s, timeout=2, no retry", "imagedescriber", "",
         lambda r: Reply(body=api_ok, trickle=1, every=0.5), "2", "0"),
        ("429 Retry-After: 86400", "openai", "/v1", lambda r: Reply(status=429, body=b'{"error": "slow"}',
                                                                    headers={"retry-after": "86400"}), "120", "5"),
        ("429 stream, Retry-After: 2", "openai", "/v1", lambda r: Reply(status=429, body=b'{"error": "slow"}',
                                                                        headers={"retry-after": "2"}), "120", "5"),
    ]
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        paths = _distinct_photos(Path(tmp), 2)
        print(f"stalls: seconds until the run over {len(paths)} images, one call at a time, ends "
              f"(capped at {cap:g} s)")
        for name, backend, url_path, answer, timeout, retries in scenarios:
            for label, tree in _versions(args):
                with HostileServer(answer, url_path=url_path) as srv:
                    seconds, last = _child(tree, _TAG, [backend, srv.url, "10", timeout, "0", "1", retries,
                                                        *paths], cap)
                print(f"  {name:38s} {label:6s} {seconds:6.1f} s  {last[:100]}")
                if tree is None:
                    worst = max(worst, seconds)
    return 0 if worst < cap else 1


def tokens_over_budget(args: argparse.Namespace) -> int:
    """Tokens a server says it spent past max_tokens_budget: failed answers, no usage, dear calls."""
    from PIL import Image

    from imagetags_df.backends.openai import PROMPT_TOKENS_GUESS, estimate_text_tokens
    from imagetags_df.backends.vlm_image import estimate_image_tokens
    from imagetags_df.testing.hostile import HostileServer, Reply, Request

    good = json.dumps({"tags": ["cup"], "title": "A cup", "description": "A cup on a table."})

    def chat(content: str, usage: dict | None, spent: list[int]) -> Callable[[Request], Reply]:
        def answer(req: Request) -> Reply:
            body: dict = {"choices": [{"message": {"content": content}, "finish_reason": "stop"}]}
            if usage is not None:
                body["usage"] = usage
                spent.append(usage["prompt_tokens"] + usage["completion_tokens"])
            else:
                # A server that reports no usage is taken to spend what the image it was sent
                # costs by the tile formula, plus the prompt and the answer by its length.
                parts = req.json()["messages"][-1]["content"]
                uri = next(p["image_url"]["url"] for p in parts if p.get("type") == "image_url")
                with Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))) as img:
                    spent.append(estimate_image_tokens(*img.size) + PROMPT_TOKENS_GUESS
                                 + estimate_text_tokens(content))
            return Reply(body=json.dumps(body).encode())
        return answer

    # (name, content, usage, budget, calls in flight)
    scenarios = [("failed answers, 150 each", "no JSON today", {"prompt_tokens": 100, "completion_tokens": 50},
                  3000, 1),
                 ("no usage reported", good, None, 5000, 4),
                 ("10,000 a call, guess ~1,000", good, {"prompt_tokens": 9900, "completion_tokens": 100}, 25_000, 4)]
    over = 0
    with tempfile.TemporaryDirectory() as tmp:
        paths = _distinct_photos(Path(tmp), 20)
        print(f"tokens_over_budget: {len(paths)} images; tokens the server spent past max_tokens_budget")
        for name, content, usage, budget, concurrency in scenarios:
            for label, tree in _versions(args):
                spent: list[int] = []
                with HostileServer(chat(content, usage, spent), url_path="/v1") as srv:
                    _child(tree, _TAG, ["openai", srv.url, "900", "60", str(budget), str(concurrency), "0", *paths],
                           300)
                total = sum(spent)
                print(f"  {name:30s} {label:6s} budget {budget:6d}  spent {total:6d}  over {max(0, total - budget):6d}"
                      f"  ({len(srv.calls)} calls)")
                if tree is None:
                    over += max(0, total - budget)
    return over


SECTIONS: dict[str, Callable[[argparse.Namespace], int]] = {"server_crash": server_crash,
                                                           "client_interrupt": client_interrupt,
                                                           "metadata_rerun": metadata_rerun,
                                                           "metadata_readonly": metadata_readonly,
                                                           "shared_cache": shared_cache,
                                                           "hung_up_clients": hung_up_clients,
                                                           "stalls": stalls,
                                                           "tokens_over_budget": tokens_over_budget}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=sorted(SECTIONS), action="append",
                        help="run only this section (repeatable)")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients (server_crash)")
    parser.add_argument("--kill-after", type=int, default=24, help="answers received before the SIGKILL")
    parser.add_argument("--min-open", type=int, default=4,
                        help="requests holding a credit reservation (being tagged) at the SIGKILL")
    parser.add_argument("--variants", type=int, default=256, help="distinct images posted (server_crash)")
    parser.add_argument("--time-cap", type=float, default=120.0, help="seconds of load at most")
    parser.add_argument("--images", type=int, default=16, help="images in the interrupted run (client_interrupt)")
    parser.add_argument("--latency", type=float, default=3.0, help="seconds per call (client_interrupt)")
    parser.add_argument("--metadata-images", type=int, default=120, help="photos (metadata_rerun)")
    parser.add_argument("--metadata-kill-after", type=int, default=40,
                        help="files rewritten before the SIGKILL (metadata_rerun)")
    parser.add_argument("--shared-images", type=int, default=40, help="images (shared_cache)")
    parser.add_argument("--shared-latency", type=float, default=0.3, help="seconds per call (shared_cache)")
    parser.add_argument("--hung-up", type=int, default=10, help="clients that hang up (hung_up_clients)")
    parser.add_argument("--stall-cap", type=float, default=60.0, help="seconds a stalled run may take (stalls)")
    parser.add_argument("--before", metavar="TREE",
                        help="an older checkout: metadata_rerun, metadata_readonly and shared_cache run its "
                             "code first")
    args = parser.parse_args(argv)
    differences = {name: SECTIONS[name](args) for name in (args.only or SECTIONS)}
    print("differences: " + ", ".join(f"{name} {diff}" for name, diff in differences.items())
          + (" (all 0)" if not any(differences.values()) else " (NOT all 0)"))
    return 0 if not any(differences.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
