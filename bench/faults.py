"""Faults end to end: does anyone pay for what they never got?

Each section runs a real failure against real processes on 127.0.0.1 and prints
what was charged against what was delivered; every difference must be 0.

* ``server_crash``: ``imagetags serve`` (the offline tagger, real sample photos)
  under a steady load from concurrent clients is killed with SIGKILL while requests
  hold credit reservations (being tagged), then started again on the same key database. Credits charged
  (read from the database after the restart) against answers the clients received.

Every loop is bounded in requests and seconds.

    python bench/faults.py                      # every section
    python bench/faults.py --only server_crash --clients 12 --kill-after 24
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"
TAGS = "/api/v1/generate_tags"


def _imagetags(*args: str) -> list[str]:
    return [sys.executable, "-c", "from imagetags_df.cli import main; main()", *args]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_server(db: Path, port: int, log: Path) -> subprocess.Popen:
    proc = subprocess.Popen(_imagetags("serve", "--db", str(db), "--port", str(port), "--backend", "local",
                                       "--rate-limit", "100000/min"),
                            stdout=subprocess.DEVNULL, stderr=log.open("ab"))
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise SystemExit(f"imagetags serve did not start:\n{log.read_text()}")
        time.sleep(0.2)


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


def server_crash(args: argparse.Namespace) -> int:
    """SIGKILL ``imagetags serve`` mid-load, restart it; credits charged vs answers delivered."""
    from imagetags_df.server.keystore import KeyStore

    photos = sorted(p for p in SAMPLES.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp"))
    bodies = [json.dumps({"image": "data:image/jpeg;base64," + base64.b64encode(p.read_bytes()).decode(),
                          "lang": "en"}).encode() for p in photos]
    with tempfile.TemporaryDirectory() as tmp:
        db, log = Path(tmp) / "keys.sqlite3", Path(tmp) / "server.log"
        start = 100_000
        key, info = KeyStore(db).create("bench", start)
        port = _free_port()
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
    print(f"server_crash: {args.clients} clients, {len(photos)} sample photos, offline tagger; "
          f"SIGKILL after {load_s:.1f} s with {sent - received} requests unanswered")
    print(f"  credits held at the kill      {start - left:6d}  ({open_at_kill} reservations open)")
    print(f"  credits charged after restart {charged:6d}  ({open_after} reservations open)")
    print(f"  answers delivered             {received:6d}")
    print(f"  difference                    {charged - received:6d}")
    return charged - received


SECTIONS: dict[str, Callable[[argparse.Namespace], int]] = {"server_crash": server_crash}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=sorted(SECTIONS), action="append",
                        help="run only this section (repeatable)")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients (server_crash)")
    parser.add_argument("--kill-after", type=int, default=24, help="answers received before the SIGKILL")
    parser.add_argument("--min-open", type=int, default=4,
                        help="requests holding a credit reservation (being tagged) at the SIGKILL")
    parser.add_argument("--time-cap", type=float, default=120.0, help="seconds of load at most")
    args = parser.parse_args(argv)
    differences = {name: SECTIONS[name](args) for name in (args.only or SECTIONS)}
    print("differences: " + ", ".join(f"{name} {diff}" for name, diff in differences.items())
          + (" (all 0)" if not any(differences.values()) else " (NOT all 0)"))
    return 0 if not any(differences.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
