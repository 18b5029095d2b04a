"""No API key in any message built from a server's body, on every backend and every path.

A loopback server echoes the request's Authorization header back in its answer; each
path a message can take (the exception, the error column, the CLI's table and failure
summary, the "unexpected response" snippet, the tags themselves) must come out without it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest
from conftest import make_photo

from imagetags_df._exceptions import AuthenticationError
from imagetags_df._secrets import scrub
from imagetags_df.backends.imagedescriber import ImageDescriberClient
from imagetags_df.testing.hostile import HostileServer, Reply, Request, echo_auth

# Not shaped like any service's key, and long enough that an 80-character snippet cuts it.
KEY = "live" + "A1b2C3d4" * 8
HEADERS = {"retry-after": "0"}


def _no_key(*texts: object) -> None:
    for text in texts:
        assert KEY not in str(text)
        assert KEY[:16] not in str(text), f"part of the key leaked: {text!r}"


def test_authentication_error_text_has_no_key(tmp_path):
    photo = make_photo(tmp_path / "a.jpg")
    with HostileServer(echo_auth(401, code=1003)) as api:
        client = ImageDescriberClient(api_key=KEY, base_url=api.url, max_retries=0)
        with pytest.raises(AuthenticationError) as info:
            client.generate_tags(photo)
        assert api.calls and KEY in api.calls[0].authorization  # the server really echoed it
    _no_key(str(info.value), repr(info.value), info.value.message, info.value.request_id, info.value.args)
    assert "invalid api key" in str(info.value)


@pytest.mark.parametrize("status, shape", [(400, "foreign"), (500, "html"), (502, "foreign")])
def test_unexpected_response_has_no_key(tmp_path, status, shape):
    photo = make_photo(tmp_path / "a.jpg")
    with HostileServer(echo_auth(status, shape=shape)) as api:
        client = ImageDescriberClient(api_key=KEY, base_url=api.url, max_retries=0)
        with pytest.raises(Exception) as info:
            client.generate_tags(photo)
    assert "unexpected response" in str(info.value)
    _no_key(str(info.value), info.value.args)


def test_error_column_has_no_key(tmp_path):
    photos = [make_photo(tmp_path / f"p{i}.jpg", seed=i) for i in range(2)]
    with HostileServer(echo_auth(500, code=5050, headers=HEADERS)) as api:
        out = pd.DataFrame({"path": [str(p) for p in photos]}).imagetags.generate(
            backend="imagedescriber", api_key=KEY, base_url=api.url, cache_dir=tmp_path / "c",
            rate_limit="6000/min", progress=False, max_retries=1)
    assert out["error"].notna().all()
    assert (out["error_code"] == 5050).all()
    _no_key(*out["error"], *out["request_id"])


def test_tags_from_an_echoing_server_hold_no_key(tmp_path):
    def answer(req: Request) -> Reply:
        body = {"code": 0, "message": "ok", "request_id": req.authorization,
                "data": {"tags": {"tags": ["cat", req.authorization], "title": req.authorization,
                                  "description": f"said {req.authorization}"}, "credits": {"amount": 1}}}
        return Reply(body=json.dumps(body).encode())

    photo = make_photo(tmp_path / "a.jpg")
    with HostileServer(answer) as api:
        out = pd.DataFrame({"path": [str(photo)]}).imagetags.generate(
            backend="imagedescriber", api_key=KEY, base_url=api.url, cache_dir=tmp_path / "c",
            rate_limit="6000/min", progress=False)
    row = out.iloc[0]
    assert "cat" in row["tags"]
    _no_key(row["tags"], row["title"], row["description"], row["request_id"])
    for path in (tmp_path / "c").rglob("*"):  # nor the cache
        if path.is_file():
            assert KEY.encode() not in path.read_bytes()


def test_cli_table_and_failure_summary_have_no_key(tmp_path):
    folder = tmp_path / "pics"
    for i in range(2):
        make_photo(folder / f"p{i}.jpg", seed=i)
    with HostileServer(echo_auth(500, code=5050, headers=HEADERS)) as api:
        env = {**os.environ, "IMAGEDESCRIBER_API_KEY": KEY, "IMAGETAGS_CACHE_DIR": str(tmp_path / "c")}
        proc = subprocess.run([sys.executable, "-m", "imagetags_df", "tag", str(folder), "--backend",
                               "imagedescriber", "--base-url", api.url, "--rate-limit", "6000/min",
                               "--no-progress"], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 3, proc.stderr
    assert "5050" in proc.stderr and "failures by error code" in proc.stderr
    assert "p0.jpg" in proc.stdout  # the table was printed
    _no_key(proc.stdout, proc.stderr)


def _vlm_run(photo, api, tmp_path):
    return pd.DataFrame({"path": [str(photo)]}).imagetags.generate(
        backend="openai", model="m", api_key=KEY, base_url=api.url, cache_dir=tmp_path / "c",
        progress=False, max_retries=0)


def test_openai_backend_refusal_has_no_key(tmp_path):
    photo = make_photo(tmp_path / "a.jpg")
    with HostileServer(echo_auth(401, shape="openai"), url_path="/v1") as api:
        with pytest.raises(AuthenticationError) as info:
            _vlm_run(photo, api, tmp_path)
    _no_key(str(info.value))


@pytest.mark.parametrize("status, shape", [(400, "foreign"), (500, "html"), (500, "foreign")])
def test_openai_backend_messages_have_no_key(tmp_path, status, shape):
    photo = make_photo(tmp_path / "a.jpg")
    with HostileServer(echo_auth(status, shape=shape, headers=HEADERS), url_path="/v1") as api:
        out = _vlm_run(photo, api, tmp_path)
    assert out["error"].notna().all()
    _no_key(*out["error"])


def test_scrub_blanks_echoed_schemes_and_key_shapes():
    assert scrub("got Bearer abc.def-ghi here") == "got Bearer *** here"
    assert scrub("header authorization: Basic dXNlcjpwYXNz") == "header authorization: Basic ***"
    assert KEY not in scrub(f"{KEY} was wrong", KEY)


def test_generate_content_answer_has_no_key(tmp_path):
    def answer(req: Request) -> Reply:
        body = {"code": 0, "message": "ok", "data": {"content": f"you sent {req.authorization}",
                                                      "parts": [req.authorization]}}
        return Reply(body=json.dumps(body).encode())

    photo = make_photo(tmp_path / "a.jpg")
    with HostileServer(answer) as api:
        data = ImageDescriberClient(api_key=KEY, base_url=api.url, max_retries=0).generate_content(photo, "what?")
    assert data["content"].startswith("you sent Bearer")
    _no_key(data)
