"""max_tokens_budget holds against servers that make it hard: failed answers that cost tokens,
answers without usage, calls far dearer than the guess, negative usage. Real loopback servers;
the tokens counted are the ones the server said it spent."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from conftest import make_photo

from imagetags_df.testing.hostile import HostileServer, Reply, Request

KEY = "sk-test-0123456789abcdef"
GOOD = json.dumps({"tags": ["cat"], "title": "A cat", "description": "A cat on a mat."})


def _server(content: str, usage: dict | None):
    def answer(req: Request) -> Reply:
        body: dict = {"id": "c", "choices": [{"message": {"role": "assistant", "content": content},
                                              "finish_reason": "stop"}]}
        if usage is not None:
            body["usage"] = usage
        return Reply(body=json.dumps(body).encode())
    return answer


def _run(tmp_path, api, n, budget, concurrency=4):
    df = pd.DataFrame({"path": [str(make_photo(tmp_path / f"p{i}.jpg", seed=i)) for i in range(n)]})
    return df.imagetags.generate(backend="openai", model="m", api_key=KEY, base_url=api.url,
                                 cache_dir=tmp_path / "c", progress=False, max_tokens_budget=budget,
                                 max_concurrency=concurrency, max_retries=0)


@pytest.mark.timeout(120)
def test_failed_answers_count_against_the_budget(tmp_path):
    # Every answer is unusable (so every row is asked twice and fails), and costs 150 tokens.
    with HostileServer(_server("I cannot do JSON today.", {"prompt_tokens": 100, "completion_tokens": 50}),
                       url_path="/v1") as api:
        out = _run(tmp_path, api, 20, 3000, concurrency=1)
        spent = 150 * len(api.calls)
    assert spent <= 3000, f"{len(api.calls)} calls, {spent} tokens for a budget of 3000"
    assert out["error"].str.startswith("not sent: max_tokens_budget").any()


@pytest.mark.timeout(120)
def test_answers_without_usage_are_estimated(tmp_path):
    with HostileServer(_server(GOOD, None), url_path="/v1") as api:
        out = _run(tmp_path, api, 12, 2000)
        calls = len(api.calls)
    done = out[out["error"].isna()]
    assert 0 < len(done) < 12 and calls == len(done)
    # Each counted at the image-token formula and the prompt (its answer by its length).
    assert (done["input_tokens"] > 250).all() and (done["output_tokens"] > 0).all()
    assert int(done["input_tokens"].sum() + done["output_tokens"].sum()) <= 2000


@pytest.mark.timeout(120)
def test_a_first_wave_on_a_low_guess_does_not_overspend(tmp_path):
    # Each call really costs 10,000 tokens; the guess before the first report is under 1,000.
    with HostileServer(_server(GOOD, {"prompt_tokens": 9_900, "completion_tokens": 100}), url_path="/v1") as api:
        _run(tmp_path, api, 10, 25_000, concurrency=4)
        spent = 10_000 * len(api.calls)
    assert spent <= 25_000, f"{len(api.calls)} calls cost {spent} tokens for a budget of 25,000"


def test_negative_or_absurd_usage_is_not_stored(tmp_path):
    with HostileServer(_server(GOOD, {"prompt_tokens": -5000, "completion_tokens": 10**12}),
                       url_path="/v1") as api:
        out = _run(tmp_path, api, 1, None)
    row = out.iloc[0]
    assert row["error"] is None
    assert 0 < row["input_tokens"] < 5000 and 0 < row["output_tokens"] < 1000
