"""``imagetags serve`` and ``imagetags keys`` as a user runs them.

One test runs the real commands in subprocesses: ``keys create``, then ``serve``
with the offline tagger, driven over HTTP by curl, then ``keys revoke`` while it
serves. The others use click's runner on the same commands.
"""

from __future__ import annotations

import base64
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from click.testing import CliRunner
from conftest import default_sigint
from PIL import Image

from imagetags_df import _constants as C
from imagetags_df.server.cli import keys, serve
from imagetags_df.server.keystore import KEY_PREFIX, KeyStore
from imagetags_df.server.testing import free_port, wait_until_serving

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"


def imagetags_command() -> list[str]:
    """The installed ``imagetags`` script of this interpreter, else ``python -m imagetags_df``."""
    script = Path(sys.executable).with_name("imagetags")
    return [str(script)] if script.exists() else [sys.executable, "-m", "imagetags_df"]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*imagetags_command(), *args], capture_output=True, text=True, timeout=120,
                          env=env, check=False)


def test_real_commands_in_subprocesses_serve_the_offline_tagger(tmp_path):
    db = tmp_path / "server" / "keys.sqlite3"
    created = run("keys", "create", "--name", "alice", "--credits", "3", "--db", str(db))
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert key.startswith(KEY_PREFIX) and "\n" not in key  # the key alone on stdout, printed once
    assert "shown only now" in created.stderr and key not in created.stderr

    port = free_port()
    server = subprocess.Popen([*imagetags_command(), "serve", "--port", str(port), "--db", str(db),
                               "--backend", "local", "--rate-limit", "30/min"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=default_sigint)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_serving(server, url)

        image = base64.b64encode((SAMPLES / "chelsea_cat.jpg").read_bytes()).decode()
        payload = tmp_path / "body.json"
        payload.write_text(json.dumps({"image": f"data:image/jpeg;base64,{image}", "lang": "fr"}))
        done = subprocess.run(["curl", "--silent", "--location", url + C.GENERATE_TAGS_PATH,
                               "--header", "content-type: application/json",
                               "--header", f"authorization: Bearer {key}", "--data", f"@{payload}"],
                              capture_output=True, text=True, timeout=120, check=True)
        body = json.loads(done.stdout)
        assert body["code"] == 0, body
        assert "chat" in body["data"]["tags"]["tags"]  # the offline tagger, in French
        assert body["data"]["credits"] == {"amount": 1, "remaining": 2}

        listed = run("keys", "list", "--db", str(db))
        assert "alice" in listed.stdout and " 2 " in listed.stdout and key not in listed.stdout

        revoked = run("keys", "revoke", "alice", "--db", str(db))
        assert revoked.returncode == 0 and "revoked" in revoked.stdout
        again = httpx.post(url + C.GENERATE_TAGS_PATH, json={"image": image},
                           headers={"authorization": f"Bearer {key}"}, timeout=30)
        assert again.status_code == 401 and again.json()["code"] == 1003
    finally:
        server.send_signal(signal.SIGINT)
        try:
            _, err = server.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            _, err = server.communicate()
    assert server.returncode == 0, err
    assert "alice#1" in err and key not in err and key[4:20] not in err  # logs name the key, never show it
    assert key.encode() not in db.read_bytes()  # stored only as a hash


def test_keys_commands_with_the_runner(tmp_path):
    db = str(tmp_path / "k.sqlite3")
    runner = CliRunner()
    created = runner.invoke(keys, ["create", "--name", "bob", "--credits", "10", "--db", db])
    assert created.exit_code == 0, created.output
    key = created.stdout.strip()
    assert KeyStore(db).authenticate(key).name == "bob"

    topped = runner.invoke(keys, ["topup", "bob", "--credits", "5", "--db", db])
    assert topped.exit_code == 0 and "15 credits" in topped.stdout
    assert runner.invoke(keys, ["topup", "1", "--credits", "1", "--db", db]).exit_code == 0  # by id
    assert KeyStore(db).find("bob").credits == 16

    listed = runner.invoke(keys, ["list", "--json", "--db", db])
    (row,) = [json.loads(line) for line in listed.stdout.splitlines()]
    assert row["name"] == "bob" and row["credits"] == 16 and row["revoked_at"] is None
    assert key not in listed.stdout and row["key"] == key[:10] + "…"

    runner.invoke(keys, ["create", "--name", "bob", "--credits", "1", "--db", db])
    ambiguous = runner.invoke(keys, ["revoke", "bob", "--db", db])
    assert ambiguous.exit_code == 1 and "(#1, #2)" in ambiguous.output
    missing = runner.invoke(keys, ["topup", "carol", "--credits", "1", "--db", db])
    assert missing.exit_code == 1 and "no key named 'carol'" in missing.output
    assert runner.invoke(keys, ["topup", "1", "--credits", "0", "--db", db]).exit_code == 2  # usage error

    assert runner.invoke(keys, ["revoke", "2", "--db", db]).exit_code == 0
    assert KeyStore(db).authenticate(key) is not None
    assert runner.invoke(keys, ["revoke", "1", "--db", db]).exit_code == 0
    assert KeyStore(db).authenticate(key) is None


def test_db_comes_from_the_environment_and_defaults_to_the_user_data_dir(tmp_path, monkeypatch):
    db = tmp_path / "from-env.sqlite3"
    monkeypatch.setenv("IMAGETAGS_SERVER_DB", str(db))
    result = CliRunner().invoke(keys, ["create", "--name", "env", "--credits", "1"])
    assert result.exit_code == 0 and KeyStore(db).find("env").credits == 1
    monkeypatch.delenv("IMAGETAGS_SERVER_DB")
    import platformdirs

    asked: list[str] = []

    def user_data_dir(appname: str, *args, **kwargs) -> str:  # the per-user data folder, redirected
        asked.append(appname)
        return str(tmp_path / "user-data" / appname)

    monkeypatch.setattr(platformdirs, "user_data_dir", user_data_dir)
    result = CliRunner().invoke(keys, ["create", "--name", "default", "--credits", "2"])
    assert result.exit_code == 0 and asked == ["imagetags_df"]
    assert KeyStore(tmp_path / "user-data" / "imagetags_df" / "server.sqlite3").find("default").credits == 2


def test_every_help_shows_an_example_and_the_default_db():
    runner = CliRunner()
    for command, args in [(serve, []), (keys, []), (keys, ["create"]), (keys, ["list"]), (keys, ["topup"]),
                          (keys, ["revoke"])]:
        text = runner.invoke(command, [*args, "--help"]).output
        assert "Example" in text and "imagetags " in text, args
    assert "per-user data folder" in runner.invoke(serve, ["--help"]).output
    assert "per-user data folder" in runner.invoke(keys, ["create", "--help"]).output


def test_serve_refuses_an_unknown_backend_and_a_bad_rate(tmp_path):
    runner = CliRunner()
    db = str(tmp_path / "k.sqlite3")
    bad_backend = runner.invoke(serve, ["--db", db, "--backend", "nope"])
    assert bad_backend.exit_code == 1 and "unknown backend 'nope'" in bad_backend.output
    bad_rate = runner.invoke(serve, ["--db", db, "--backend", "local", "--rate-limit", "fast"])
    assert bad_rate.exit_code == 1 and "'fast' is not understood" in bad_rate.output


def test_the_commands_import_without_the_server_extra_and_name_the_pip_install(tmp_path):
    # Starlette and uvicorn made unimportable, as on an install without the extra.
    code = f"""
import sys
sys.modules['starlette'] = None
sys.modules['uvicorn'] = None
from click.testing import CliRunner
from imagetags_df.server.cli import serve, keys
created = CliRunner().invoke(keys, ['create', '--name', 'x', '--credits', '1', '--db', {str(tmp_path / 'k.db')!r}])
assert created.exit_code == 0, created.output
result = CliRunner().invoke(serve, ['--db', {str(tmp_path / 'k.db')!r}])
print(result.exit_code)
print(result.output)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert done.returncode == 0, done.stderr
    exit_code, _, output = done.stdout.partition("\n")
    assert exit_code == "1"
    assert 'pip install -e ".[server]"' in output  # run from the checkout: the index's name would fail


def test_serve_flags_reach_the_running_server(tmp_path):
    """--header-timeout, --max-connections and --decode-memory as `imagetags serve` applies them."""
    db = tmp_path / "keys.sqlite3"
    key, _ = KeyStore(db).create("flags", 10)
    port = free_port()
    server = subprocess.Popen([*imagetags_command(), "serve", "--port", str(port), "--db", str(db),
                               "--header-timeout", "0.5", "--max-connections", "3", "--decode-memory", "1"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=default_sigint)
    try:
        wait_until_serving(server, f"http://127.0.0.1:{port}")
        # A connection that says nothing gets 408 once the header timeout has passed.
        with socket.create_connection(("127.0.0.1", port)) as silent:
            silent.settimeout(10)
            started = time.monotonic()
            answer = silent.recv(65536)
            assert b" 408 " in answer.split(b"\r\n")[0] and time.monotonic() - started < 5
        # Beyond three connections: 503 at once.
        held = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
        try:
            time.sleep(0.1)
            with socket.create_connection(("127.0.0.1", port)) as extra:
                extra.settimeout(5)
                assert b" 503 " in extra.recv(65536).split(b"\r\n")[0]
        finally:
            for sock in held:
                sock.close()
        time.sleep(0.2)
        # A 1 MiB decode budget: a 1000x1000 PNG (17 MiB to decode) is refused from its header.
        buf = io.BytesIO()
        Image.new("RGB", (1000, 1000), "white").save(buf, "PNG")
        r = httpx.post(f"http://127.0.0.1:{port}{C.GENERATE_TAGS_PATH}", timeout=30,
                       json={"image": base64.b64encode(buf.getvalue()).decode()},
                       headers={"authorization": f"Bearer {key}"})
        assert r.json()["code"] == 2004 and "1 MiB per image" in r.json()["message"]
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.communicate()
    assert server.returncode == 0
