"""Image URLs in the path column: downloaded from a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest

import imagetags_df  # noqa: F401  (registers the accessor)
from imagetags_df import images
from imagetags_df._exceptions import ImageNotFoundError, ImageTooLargeError

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"


class _Photos(BaseHTTPRequestHandler):
    """Serves data/samples; /trickle sends a byte every 0.2 s; /huge announces 1 GB."""

    requests: Counter[str] = Counter()

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        type(self).requests[self.path] += 1
        if self.path == "/trickle.jpg":
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            try:
                for _ in range(1000):
                    self.wfile.write(b"\xff")
                    self.wfile.flush()
                    time.sleep(0.2)
            except OSError:
                pass
            return
        if self.path == "/huge.jpg":
            self.send_response(200)
            self.send_header("Content-Length", str(10**9))
            self.end_headers()
            return
        if self.path.startswith("/moved/"):
            self.send_response(302)
            self.send_header("Location", "/" + self.path.removeprefix("/moved/"))
            self.end_headers()
            return
        unsized = self.path.startswith("/unsized/")  # no Content-Length: the end is the connection's
        file = SAMPLES / self.path.removeprefix("/unsized").lstrip("/").split("?")[0]
        if not file.is_file():
            self.send_error(404)
            return
        data = file.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        if not unsized:
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def web():
    _Photos.requests = Counter()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Photos)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_url_rows_are_downloaded_tagged_and_cached_by_content(web):
    df = pd.DataFrame({"path": [f"{web}/chelsea_cat.jpg", f"{web}/dogs.jpg", f"{web}/missing.jpg",
                                f"{web}/chelsea_cat.jpg", f"{web}/moved/coffee.jpg",
                                str(SAMPLES / "chelsea_cat.jpg")]})
    out = df.imagetags.generate(col="path", backend="local", progress=False)
    assert "cat" in out.tags[0] and "dog" in out.tags[1] and "coffee" in out.tags[4]
    assert out.tags[3] == out.tags[0] and out.ok[[0, 1, 3, 4, 5]].all()
    assert _Photos.requests["/chelsea_cat.jpg"] == 1          # one download for the repeated URL
    assert out.sha256[0] == out.sha256[5]                     # the same bytes as the local file
    assert not out.ok[2] and out.error_code.isna()[2]
    assert out.error[2] == f"{web}/missing.jpg: the server answered HTTP 404 Not Found; check the URL"
    again = df.imagetags.generate(col="path", backend="local", progress=False)
    assert again.cached[[0, 1, 3, 4, 5]].all()                 # downloaded again, tagged from the cache
    assert _Photos.requests["/chelsea_cat.jpg"] == 2


def test_url_rows_obey_the_file_size_cap(web):
    df = pd.DataFrame({"path": [f"{web}/huge.jpg", f"{web}/dogs.jpg", f"{web}/unsized/mountains.jpg"]})
    out = df.imagetags.generate(col="path", backend="local", progress=False, max_file_bytes=120_000)
    assert "over the 120,000-byte limit" in out.error[0] and "1,000,000,000 bytes" in out.error[0]
    assert "more than 120,000 bytes" in out.error[2]          # no Content-Length lie saves it
    assert out.ok[1] and "dog" in out.tags[1]


def test_a_trickling_url_is_cut_at_the_timeout(web):
    started = time.monotonic()
    with pytest.raises(ImageNotFoundError, match=r"trickle\.jpg: not downloaded within 1 s"):
        images.fetch_url(f"{web}/trickle.jpg", timeout=1.0)
    assert time.monotonic() - started < 10
    with pytest.raises(ImageTooLargeError):
        images.fetch_url(f"{web}/huge.jpg", max_bytes=1000)
    with pytest.raises(ImageNotFoundError, match="could not be downloaded"):
        images.fetch_url("http://127.0.0.1:9/nothing.jpg", timeout=2.0)  # nothing listens on port 9


def test_the_command_keeps_urls_whole(web, tmp_path):
    url = f"{web}/chelsea_cat.jpg"
    env = {**os.environ, "IMAGETAGS_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("IMAGEDESCRIBER_API_KEY", None)
    local = tmp_path / "dogs.jpg"
    local.write_bytes((SAMPLES / "dogs.jpg").read_bytes())
    proc = subprocess.run([sys.executable, "-m", "imagetags_df", "tag", url, str(local),
                           "--backend", "local", "--out", "-", "--no-progress", "--sidecars"],
                          capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path)
    rows = {r["path"]: r for r in map(json.loads, proc.stdout.splitlines())}
    assert url in rows and "cat" in rows[url]["tags"], (proc.stdout, proc.stderr)
    assert "https:/" not in proc.stdout and "http:/1" not in proc.stdout
    assert "1 URL tagged but given no sidecar or metadata" in proc.stderr
    assert (tmp_path / "dogs.jpg.json").is_file() and len(list(tmp_path.glob("*.json"))) == 1
    table = subprocess.run([sys.executable, "-m", "imagetags_df", "tag", url, "--backend", "local",
                            "--no-progress"], capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[1].startswith("http://127.0.0.1:") and "cat" in table.stdout


def test_the_gallery_shows_url_rows(web):
    from imagetags_df import widgets

    df = pd.DataFrame({"path": [f"{web}/chelsea_cat.jpg", f"{web}/missing.jpg"], "tags": [["cat"], None],
                       "error": [None, "gone"]})
    page = widgets.preview(df).html()
    assert page.count("data:image/jpeg;base64,") == 1  # the cat's thumbnail; the 404 row says why
    assert _Photos.requests["/chelsea_cat.jpg"] == 1
