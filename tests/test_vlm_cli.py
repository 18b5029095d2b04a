"""``imagetags tag --backend ollama|openai`` and ``imagetags serve --backend ollama --model M``."""

from __future__ import annotations

import base64
import json
import os
import subprocess

import httpx
import pytest
from click.testing import CliRunner
from conftest import make_photo
from test_server_cli import imagetags_command, run

from imagetags_df.cli import main
from imagetags_df.server.testing import free_port, wait_until_serving
from imagetags_df.testing.openai import FakeVisionModel

MODEL = "qwen2.5vl:7b"


@pytest.fixture
def srv():
    with FakeVisionModel(models={MODEL}) as server:
        yield server


def test_tag_with_a_model_labels_and_instructions(srv, tmp_path):
    folder = tmp_path / "panels"
    for i in range(3):
        make_photo(folder / f"p{i}.jpg", seed=i, size=(80, 60))
    labels = tmp_path / "labels.txt"
    labels.write_text("# defects\nscratch\ndent\n\ncrack\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(main, [
        "tag", str(folder), "--backend", "ollama", "--model", MODEL, "--base-url", srv.url,
        "--labels", str(labels), "--instructions", "Car panels.", "--max-side", "512",
        "--cache-dir", str(tmp_path / "cache"), "--no-progress", "-o", str(out)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 3 and all(r["tags"] == ["scratch", "dent"] for r in rows)
    assert all(r["input_tokens"] > 0 for r in rows)
    assert "tokens used" in result.output
    text = srv.calls[0].body["messages"][1]["content"][0]["text"]
    assert '["scratch", "dent", "crack"]' in text and "Car panels." in text


def test_tag_without_a_model_is_a_clear_error(tmp_path):
    make_photo(tmp_path / "a.jpg")
    result = CliRunner().invoke(main, ["tag", str(tmp_path / "a.jpg"), "--backend", "ollama", "--no-progress"])
    # Wrong options: exit 2, as --help says, before any image is read.
    assert result.exit_code == 2 and "--backend ollama needs a model: pass --model" in result.output


def test_empty_labels_file_is_a_usage_error(tmp_path):
    make_photo(tmp_path / "a.jpg")
    (tmp_path / "l.txt").write_text("\n# nothing\n")
    result = CliRunner().invoke(main, ["tag", str(tmp_path / "a.jpg"), "--backend", "ollama", "--model", MODEL,
                                       "--labels", str(tmp_path / "l.txt")])
    assert result.exit_code == 2 and "holds no labels" in result.output


def test_server_not_running_is_one_line(tmp_path):
    make_photo(tmp_path / "a.jpg")
    url = f"http://127.0.0.1:{free_port()}/v1"
    result = CliRunner().invoke(main, ["tag", str(tmp_path / "a.jpg"), "--backend", "openai", "--model", "m",
                                       "--base-url", url, "--no-progress", "--cache-dir", str(tmp_path / "c")])
    assert result.exit_code == 4 and f"cannot reach {url}; is the server running?" in result.output


def test_serve_backed_by_an_ollama_model(srv, tmp_path):
    db = tmp_path / "keys.sqlite3"
    key = run("keys", "create", "--name", "bob", "--credits", "5", "--db", str(db)).stdout.strip()
    port = free_port()
    host = srv.url.removesuffix("/v1").removeprefix("http://")
    env = {**os.environ, "OLLAMA_HOST": host}
    server = subprocess.Popen([*imagetags_command(), "serve", "--port", str(port), "--db", str(db),
                               "--backend", "ollama", "--model", MODEL],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_serving(server, url)
        image = make_photo(tmp_path / "x.jpg", size=(64, 48)).read_bytes()
        body = {"image": "data:image/jpeg;base64," + base64.b64encode(image).decode(), "lang": "zh"}
        answer = httpx.post(url + "/api/v1/generate_tags", json=body,
                            headers={"authorization": f"Bearer {key}"}, timeout=30).json()
        assert answer["code"] == 0, answer
        assert answer["data"]["tags"]["tags"][0] == "照片"
        assert srv.count() == 1 and srv.calls[0].model == MODEL and srv.calls[0].lang == "zh"
    finally:
        server.terminate()
        server.wait(timeout=30)
