"""The VLM backends through the one engine: cache, tokens, budgets, stops, pauses."""

from __future__ import annotations

import socket

import pandas as pd
import pytest
from conftest import API_KEY, make_photo

import imagetags_df
from imagetags_df._exceptions import AuthenticationError, ModelNotFoundError, ServerUnreachableError
from imagetags_df.testing.openai import FakeVisionModel

MODEL = "qwen2.5vl:7b"


@pytest.fixture
def srv():
    with FakeVisionModel(models={MODEL}) as server:
        yield server


@pytest.fixture
def frame(tmp_path):
    paths = [make_photo(tmp_path / f"p{i}.jpg", seed=i, size=(96, 64)) for i in range(4)]
    return pd.DataFrame({"path": [str(p) for p in [*paths, paths[0]]]})  # the last row repeats the first


def _gen(df, srv, cache_dir, **kw):
    kw.setdefault("backend", "ollama")
    kw.setdefault("model", MODEL)
    return imagetags_df.generate(df, base_url=srv.url, cache_dir=cache_dir, progress=False, **kw)


def test_tags_tokens_and_a_rerun_that_calls_nothing(srv, frame, cache_dir):
    out = _gen(frame, srv, cache_dir, lang="ko")
    assert out.error.isna().all(), out.error.tolist()
    assert srv.count() == 4  # four unique images
    assert out.title.str.startswith("이미지").all() and (out.backend == "ollama").all()
    assert str(out.input_tokens.dtype) == "Int64" and str(out.output_tokens.dtype) == "Int64"
    assert (out.input_tokens.iloc[:4] > 0).all() and out.input_tokens.iloc[4] == 0  # the repeat is free
    again = _gen(frame, srv, cache_dir, lang="ko")
    assert srv.count() == 4 and again.cached.all()
    assert again.tags.tolist() == out.tags.tolist() and (again.input_tokens == 0).all()


def test_every_prompt_input_is_part_of_the_cache_identity(srv, frame, cache_dir):
    one = frame.iloc[:1]
    _gen(one, srv, cache_dir)
    for change in ({"labels": ["photo", "scene"]}, {"instructions": "Inspection photos."}, {"max_side": 512},
                   {"lang": "fr"}):
        before = srv.count()
        _gen(one, srv, cache_dir, **change)
        assert srv.count() == before + 1, change
    _gen(one, srv, cache_dir, api_key="sk-any-key-123456")  # the key is not part of it
    assert srv.count() == 5


def test_labels_through_generate(srv, frame, cache_dir):
    out = _gen(frame.iloc[:2], srv, cache_dir, backend="openai", labels=["scratch", "dent", "crack"])
    assert out.tags.tolist() == [["scratch", "dent"], ["scratch", "dent"]]


def test_other_backends_have_no_token_counts(api, frame, cache_dir):
    out = imagetags_df.generate(frame, backend="imagedescriber", api_key=API_KEY, base_url=api.url,
                                cache_dir=cache_dir, progress=False)
    assert out.error.isna().all() and out.input_tokens.isna().all() and out.output_tokens.isna().all()


def test_refused_key_stops_the_run(frame, cache_dir):
    with FakeVisionModel(keys={"sk-right-0000000000"}) as srv:
        with pytest.raises(AuthenticationError) as info:
            _gen(frame, srv, cache_dir, backend="openai", api_key="sk-wrong-1111111111", max_concurrency=1)
        assert "sk-wrong-1111111111" not in str(info.value)
        assert srv.count() == 1


def test_402_stops_sending_and_keeps_what_was_done(srv, frame, cache_dir):
    srv.script_next(["ok", "402"])
    out = _gen(frame, srv, cache_dir, max_concurrency=1)
    assert srv.count() == 2
    assert out.error.isna().tolist() == [True, False, False, False, True]
    assert "out of credits" in out.error[1] and out.error[2].startswith("not sent")


def test_unknown_model_stops_the_run_with_the_pull_hint(srv, frame, cache_dir):
    with pytest.raises(ModelNotFoundError, match="ollama pull llava:13b"):
        _gen(frame, srv, cache_dir, model="llava:13b")


def test_nothing_listening_fails_fast(frame, cache_dir):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    with pytest.raises(ServerUnreachableError, match=f"cannot reach {url}; is the server running"):
        imagetags_df.generate(frame, backend="openai", model="m", base_url=url, cache_dir=cache_dir,
                              progress=False, max_concurrency=2)


def test_token_budget_stops_before_it_would_be_exceeded(srv, frame, cache_dir):
    first = _gen(frame.iloc[:1], srv, cache_dir=False)
    per_image = int(first.input_tokens[0] + first.output_tokens[0])
    budget = int(per_image * 2.5)
    out = _gen(frame, srv, cache_dir, max_tokens_budget=budget, max_concurrency=1)
    used = int(out.input_tokens.sum() + out.output_tokens.sum())
    assert used <= budget
    assert srv.count() == 1 + 2  # the one above, then two that fit
    unsent = out.error.dropna()
    assert len(unsent) == 2 and all("max_tokens_budget" in e for e in unsent)


def test_budget_needs_a_backend_that_counts_tokens(frame):
    with pytest.raises(imagetags_df.ConfigurationError, match="max_tokens_budget"):
        imagetags_df.generate(frame, backend="local", max_tokens_budget=100, progress=False)


def test_a_spent_budget_in_headers_pauses_instead_of_hitting_429(frame, cache_dir):
    with FakeVisionModel(limit=2, window=1.0) as srv:
        out = _gen(frame, srv, cache_dir, max_concurrency=1)
        assert out.error.isna().all()
        # Each answer that said "0 remaining" held the next call until the window had room.
        assert srv.count("429") == 0 and srv.count("ok") == 4
