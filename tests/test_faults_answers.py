"""Answers a broken or hostile server sends: trickled, huge, deeply nested, oddly shaped.

Every one ends as a clear row error in bounded time and memory, on both API backends,
against real loopback servers.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from conftest import make_photo

from imagetags_df._exceptions import APITimeoutError
from imagetags_df.backends.imagedescriber import ImageDescriberClient
from imagetags_df.backends.vlm_prompt import OutputProblem, parse_answer, strip_reasoning
from imagetags_df.testing.hostile import HostileServer, Reply, Request

KEY = "sk-test-0123456789abcdef"
GOOD_API = json.dumps({"code": 0, "message": "ok", "request_id": "r1",
                       "data": {"tags": {"tags": ["cat"], "title": "A cat", "description": "A cat."},
                                "credits": {"amount": 1}}}).encode()


def _chat(content: object, **extra: object) -> bytes:
    return json.dumps({"id": "c1", "choices": [{"message": {"role": "assistant", "content": content},
                                                "finish_reason": "stop"}], **extra}).encode()


def _api_run(api, tmp_path, **kw):
    photo = make_photo(tmp_path / "a.jpg")
    opts = dict(backend="imagedescriber", api_key=KEY, base_url=api.url, cache_dir=tmp_path / "c",
                rate_limit="6000/min", progress=False, max_retries=0)
    opts.update(kw)
    return pd.DataFrame({"path": [str(photo)]}).imagetags.generate(**opts)


def _vlm_run(api, tmp_path, **kw):
    photo = make_photo(tmp_path / "a.jpg")
    opts = dict(backend="openai", model="m", api_key=KEY, base_url=api.url, cache_dir=tmp_path / "c",
                progress=False, max_retries=0)
    opts.update(kw)
    return pd.DataFrame({"path": [str(photo)]}).imagetags.generate(**opts)


# --------------------------------------------------------------------------- trickling answers

@pytest.mark.timeout(60)
def test_trickled_api_answer_ends_at_the_timeout(tmp_path):
    # One byte every 0.4 s: each read is well inside the 1.5 s timeout, the whole answer is not
    # (about 70 s).
    with HostileServer(lambda req: Reply(body=GOOD_API, trickle=1, every=0.4)) as api:
        out = _api_run(api, tmp_path, timeout=1.5)
    assert "within 1.5 s" in out.loc[0, "error"]


@pytest.mark.timeout(60)
def test_trickled_sync_client_answer_ends_near_the_timeout(tmp_path):
    photo = make_photo(tmp_path / "a.jpg")
    with HostileServer(lambda req: Reply(body=GOOD_API, trickle=1, every=0.4)) as api:
        client = ImageDescriberClient(api_key=KEY, base_url=api.url, timeout=1.5, max_retries=0)
        with pytest.raises(APITimeoutError):
            client.generate_tags(photo)
        client.close()


@pytest.mark.timeout(60)
def test_trickled_model_answer_ends_at_the_timeout(tmp_path):
    body = _chat(json.dumps({"tags": ["cat"], "title": "A cat", "description": "A cat."}))
    with HostileServer(lambda req: Reply(body=body, trickle=2, every=0.4), url_path="/v1") as api:
        out = _vlm_run(api, tmp_path, timeout=1.5)
    assert "within 1.5 s" in out.loc[0, "error"]


# --------------------------------------------------------------------------- huge answers

@pytest.mark.timeout(120)
def test_huge_api_answer_is_cut_off_and_not_cached(tmp_path):
    head = b'{"code": 0, "message": "ok", "data": {"tags": {"tags": ["cat"], "title": "t", "description": "'
    tail = b'"}, "credits": {"amount": 1}}}'
    # 200 MB of description, sent without ever being held in memory.
    with HostileServer(lambda req: Reply(prefix=head, body=b"x" * 1_000_000, repeat=200, suffix=tail)) as api:
        out = _api_run(api, tmp_path)
    assert "larger than 2,000,000 bytes" in out.loc[0, "error"]
    assert sum(p.stat().st_size for p in (tmp_path / "c").rglob("*") if p.is_file()) < 5_000_000


@pytest.mark.timeout(120)
def test_huge_model_answer_is_cut_off(tmp_path):
    head = b'{"choices": [{"message": {"content": "'
    with HostileServer(lambda req: Reply(prefix=head, body=b"y" * 1_000_000, repeat=200, suffix=b'"}}]}'),
                       url_path="/v1") as api:
        out = _vlm_run(api, tmp_path)
    assert "larger than 2,000,000 bytes" in out.loc[0, "error"]


# --------------------------------------------------------------------------- malformed shapes

@pytest.mark.parametrize("body, words", [
    (b'{"choices":[{"message":"hello"}]}', "choices[0].message is a str"),
    (b"[" * 200_000 + b"]" * 200_000, "unexpected response"),
    (b'{"choices": "none"}', "answer without choices"),
])
def test_malformed_model_answers_are_clear_row_errors(tmp_path, body, words):
    with HostileServer(lambda req: Reply(body=body), url_path="/v1") as api:
        out = _vlm_run(api, tmp_path)
    error = out.loc[0, "error"]
    assert words in error
    assert "RecursionError" not in error and "AttributeError" not in error


def test_deeply_nested_api_answer_is_a_clear_row_error(tmp_path):
    with HostileServer(lambda req: Reply(body=b"[" * 200_000 + b"]" * 200_000)) as api:
        out = _api_run(api, tmp_path)
    assert "unexpected response" in out.loc[0, "error"]


def test_deeply_nested_json_in_the_content_is_an_output_problem():
    with pytest.raises(OutputProblem):
        parse_answer('{"tags": ' + "[" * 100_000 + "]" * 100_000 + "}", "en")


@pytest.mark.timeout(60)
def test_many_unclosed_think_tags_parse_in_linear_time():
    # 100,000 tags: the old pattern took ~14 s for 16,000 and grew with the square.
    text = "<think>" * 100_000 + '{"tags": ["cat"], "title": "t", "description": "d"}'
    with pytest.raises(OutputProblem, match="only reasoning"):
        parse_answer(text, "en")
    assert strip_reasoning("</think>" * 100_000 + "answer") == "answer"


def test_reasoning_blocks_still_come_off():
    assert strip_reasoning("<think>a</think> {} <THINK>b</think>") == "{}"
    assert strip_reasoning("<thinking>a <think> b</thinking>{}") == "{}"
    assert strip_reasoning("plan</think>{}") == "{}"
    assert strip_reasoning("{} <think>never closed") == "{}"


def _echo_ok(req: Request) -> Reply:
    return Reply(body=_chat(json.dumps({"tags": ["cat"], "title": "A cat", "description": "A cat."})))


def test_a_model_answer_within_bounds_still_tags(tmp_path):
    with HostileServer(_echo_ok, url_path="/v1") as api:
        out = _vlm_run(api, tmp_path)
    assert out.loc[0, "error"] is None and out.loc[0, "tags"] == ["cat"]
