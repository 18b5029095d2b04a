"""The OpenAI-compatible backend against a real loopback server speaking the wire format."""

from __future__ import annotations

import asyncio
import io
import json
import math
import socket
import time
from pathlib import Path

import pytest
from PIL import Image

from imagetags_df import images
from imagetags_df._exceptions import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    ConfigurationError,
    InsufficientCreditsError,
    InternalServerError,
    InvalidOutputError,
    InvalidParameterError,
    ModelCapabilityError,
    ModelNotFoundError,
    RateLimitError,
    ServerUnreachableError,
)
from imagetags_df._types import RateLimit, TagResult
from imagetags_df.backends import resolve_backend
from imagetags_df.backends.openai import OpenAICompatibleBackend, limit_pause
from imagetags_df.backends.vlm_prompt import build_messages
from imagetags_df.infra.ratelimit import Pacer
from imagetags_df.infra.retry import parse_duration, should_retry
from imagetags_df.testing.openai import FakeVisionModel, request_problems

MODEL = "qwen2.5vl:7b"
KEY = "sk-vlm-secret-0123456789"
FIXTURES = Path(__file__).parent / "fixtures" / "vlm_requests"


def _jpeg(size=(200, 150), color=(30, 120, 200)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "JPEG")
    return buf.getvalue()


def _prepared(size=(200, 150), color=(30, 120, 200)):
    return images.prepare(_jpeg(size, color), source=f"img-{size}-{color}.jpg")


def _tag(be: OpenAICompatibleBackend, img, lang="en") -> TagResult | BaseException:
    async def go():
        try:
            return (await be.tag_batch([img], lang))[0]
        finally:
            await be.aclose()
    return asyncio.run(go())


def _backend(srv: FakeVisionModel, **kw) -> OpenAICompatibleBackend:
    kw.setdefault("preset", "ollama")
    return OpenAICompatibleBackend(model=kw.pop("model", MODEL), base_url=srv.url, **kw)


@pytest.fixture
def srv():
    with FakeVisionModel(models={MODEL}) as server:
        yield server


# --------------------------------------------------------------------------- success and shape
def test_answer_request_shape_and_tokens(srv):
    res = _tag(_backend(srv), _prepared(), "de")
    assert isinstance(res, TagResult), res
    assert res.tags[:2] == ["Foto", "Szene"] and len(res.tags) == 6  # the duplicate "Foto" collapsed
    assert res.title.startswith("Bild") and res.description
    assert res.input_tokens and res.input_tokens > 85 and res.output_tokens and res.backend == "ollama"
    (call,) = srv.calls
    body = call.body
    assert request_problems(body) == []
    assert body["model"] == MODEL and body["stream"] is False
    part = body["messages"][1]["content"][1]
    assert part["type"] == "image_url" and part["image_url"]["url"].startswith("data:image/jpeg;base64,")
    rf = body["response_format"]
    assert rf["type"] == "json_schema" and rf["json_schema"]["strict"] is True
    assert rf["json_schema"]["schema"]["required"] == ["tags", "title", "description"]
    assert "German (Deutsch)" in body["messages"][1]["content"][0]["text"]


@pytest.mark.parametrize("shape", ["fenced", "prose", "think"])
def test_tolerant_parsing_needs_one_call(srv, shape):
    srv.script_next([shape])
    res = _tag(_backend(srv), _prepared())
    assert isinstance(res, TagResult) and res.tags[0] == "photo"
    assert srv.count() == 1


def test_truncated_answer_is_asked_again_with_the_reason(srv):
    srv.script_next(["truncated", "ok"])
    res = _tag(_backend(srv), _prepared())
    assert isinstance(res, TagResult) and res.tags
    first, second = srv.calls
    follow_up = second.body["messages"][-1]["content"]
    assert "cut off" in follow_up and second.body["messages"][-2]["role"] == "assistant"
    # Both calls are paid for: the tokens add up.
    assert res.output_tokens and res.output_tokens > 1


def test_wrong_language_is_asked_again(srv):
    srv.script_next(["english", "ok"])
    res = _tag(_backend(srv), _prepared(), "ja")
    assert isinstance(res, TagResult) and res.title.startswith("画像")
    assert "Japanese (日本語)" in srv.calls[1].body["messages"][-1]["content"]
    assert "not written in Japanese" in srv.calls[1].body["messages"][-1]["content"]


def test_unusable_twice_is_a_row_error_not_a_crash(srv):
    srv.script_next(["garbage", "no-title"])
    res = _tag(_backend(srv), _prepared())
    assert isinstance(res, InvalidOutputError)
    assert "img-" in str(res) and '"title"' in str(res) and not should_retry(res)
    assert srv.count() == 2


# --------------------------------------------------------------------------- response_format fallbacks
def test_schema_refused_falls_back_to_json_object_and_remembers():
    with FakeVisionModel(formats={"json_object"}) as srv:
        be = _backend(srv)

        async def go():
            out = [await be.tag_one(_prepared(color=(i, 0, 0)), "en") for i in range(3)]
            await be.aclose()
            return out
        results = asyncio.run(go())
        assert all(isinstance(r, TagResult) for r in results)
        assert [c.response_format for c in srv.calls] == ["json_schema", "json_object", "json_object",
                                                         "json_object"]
        assert be.format_mode == "json_object"


def test_every_format_refused_falls_back_to_the_prompt_alone():
    with FakeVisionModel(formats=()) as srv:
        srv.script_next(["ok", "ok", "prose"])
        be = _backend(srv)
        res = _tag(be, _prepared())
        assert isinstance(res, TagResult)
        assert [c.response_format for c in srv.calls] == ["json_schema", "json_object", None]
        assert "response_format" not in srv.calls[-1].body


def test_format_ignored_silently_still_parses():
    with FakeVisionModel(ignore_format=True) as srv:
        srv.script_next(["prose"])
        assert isinstance(_tag(_backend(srv), _prepared()), TagResult)


# --------------------------------------------------------------------------- HTTP as servers behave
@pytest.mark.parametrize("step", ["429", "429-date", "429-headers"])
def test_429_carries_when_to_come_back(srv, step, monkeypatch):
    # Waits longer than the backend's own patience go to the engine, with the server's time.
    monkeypatch.setattr("imagetags_df.backends.openai.RATE_LIMIT_WAIT_MAX", 0.0)
    srv.script_next([step])
    res = _tag(_backend(srv), _prepared())
    assert isinstance(res, RateLimitError) and should_retry(res)
    assert res.retry_after is not None and 0 <= res.retry_after <= 1.5


@pytest.mark.parametrize("step", ["429", "429-headers"])
def test_429_is_waited_out_without_spending_an_engine_retry(srv, step):
    srv.script_next([step, step, "ok"])
    be = _backend(srv)
    pacer = Pacer(RateLimit(math.inf), f"vlm-test-bucket-{step}")
    be.attach_pacer(pacer)
    res = _tag(be, _prepared())
    assert isinstance(res, TagResult)
    first, second, third = srv.calls
    # Each came back after the second the server asked for, and held every worker meanwhile.
    assert second.at - first.at >= 0.9 and third.at - second.at >= 0.9


def test_spent_request_budget_pauses_every_worker_through_the_pacer():
    with FakeVisionModel(limit=1, window=5.0) as srv:
        be = _backend(srv)
        pacer = Pacer(RateLimit(math.inf), "vlm-test-bucket")
        be.attach_pacer(pacer)
        assert isinstance(_tag(be, _prepared()), TagResult)
        # The answer said "0 remaining, reset in ~5 s": every caller of the pacer now waits.
        assert pacer.paused_until() > time.time() + 3


def test_the_pause_is_measured_from_when_the_request_was_sent():
    # The server counts the request on arrival and describes the window as it was then;
    # the answer comes 1.5 s later. The pause must end when the window frees, not 1.5 s after.
    with FakeVisionModel(limit=1, window=3.0, latency=1.5) as srv:
        be = _backend(srv)
        pacer = Pacer(RateLimit(math.inf), "vlm-test-bucket-2")
        be.attach_pacer(pacer)
        assert isinstance(_tag(be, _prepared()), TagResult)
        left = pacer.paused_until() - time.time()
        assert 0.5 < left < 2.5


def test_limit_headers_parse():
    assert parse_duration("1s") == 1.0 and parse_duration("6m30s") == 390.0 and parse_duration("250ms") == 0.25
    assert limit_pause({"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "6m30s"}) == 390.0
    assert limit_pause({"x-ratelimit-remaining-requests": "3", "x-ratelimit-reset-requests": "1s"}) is None


@pytest.mark.parametrize("step", ["503", "500", "200-error-502"])
def test_server_failures_are_retryable(srv, step):
    srv.script_next([step])
    res = _tag(_backend(srv), _prepared())
    assert isinstance(res, InternalServerError) and should_retry(res)
    if step == "503":
        assert res.retry_after == 1.0 and "server busy" in str(res)


def test_200_with_client_error_body_is_not_an_empty_success(srv):
    srv.script_next(["200-error-400"])
    res = _tag(_backend(srv), _prepared())
    assert isinstance(res, InvalidParameterError) and not should_retry(res)
    assert "mid-generation" in str(res)


def test_402_stops_sending(srv):
    srv.script_next(["402"])
    assert isinstance(_tag(_backend(srv), _prepared()), InsufficientCreditsError)


@pytest.mark.parametrize("step", ["401", "403"])
def test_refused_key_stops_the_run_without_showing_the_key(step):
    with FakeVisionModel(keys={"sk-the-right-one-123456"}) as srv:
        be = OpenAICompatibleBackend(model=MODEL, preset="openai", base_url=srv.url, api_key=KEY)
        if step == "403":
            srv.state.keys = None
            srv.script_next(["403"])
        res = _tag(be, _prepared())
        assert isinstance(res, AuthenticationError) and res.stops_run
        text = f"{res} {res!r} {be!r} {be.cache_identity()} {be.limiter_id()}"
        assert KEY not in text and KEY[3:12] not in text
        assert "OPENAI_API_KEY" in str(res)


def test_unknown_model_names_it_and_says_ollama_pull(srv):
    res = _tag(_backend(srv, model="llava:13b"), _prepared())
    assert isinstance(res, ModelNotFoundError) and res.stops_run
    assert "'llava:13b'" in str(res) and "ollama pull llava:13b" in str(res)


def test_model_without_vision_says_so(srv):
    srv.script_next(["400-noimage"])
    res = _tag(_backend(srv, preset="openai"), _prepared())
    assert isinstance(res, ModelCapabilityError) and res.stops_run
    assert "does not take images" in str(res)


def test_connection_refused_fails_fast():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    be = OpenAICompatibleBackend(model=MODEL, preset="ollama", base_url=url)
    res = _tag(be, _prepared())
    assert isinstance(res, ServerUnreachableError) and res.stops_run and not should_retry(res)
    assert f"cannot reach {url}; is the server running?" in str(res) and "ollama serve" in str(res)


def test_refused_after_the_server_answered_is_an_ordinary_retry():
    srv = FakeVisionModel().start()

    async def go():
        # No keep-alive, so the second call needs a new connection, which the stopped server refuses.
        import httpx

        be = _backend(srv, http_client=httpx.AsyncClient(limits=httpx.Limits(max_keepalive_connections=0)))
        first = await be.tag_one(_prepared(), "en")
        srv.stop()
        try:
            await be.tag_one(_prepared(color=(1, 2, 3)), "en")
        except Exception as exc:  # noqa: BLE001
            return first, exc
        finally:
            await be._http.aclose()
        return first, None
    first, exc = asyncio.run(go())
    assert isinstance(first, TagResult)
    assert isinstance(exc, APIConnectionError) and not isinstance(exc, ServerUnreachableError)
    assert should_retry(exc)


def test_no_answer_in_time_is_retryable():
    with FakeVisionModel(latency=1.5) as srv:
        res = _tag(_backend(srv, timeout=0.3), _prepared())
        assert isinstance(res, APITimeoutError) and should_retry(res) and "0.3 s" in str(res)


def test_dropped_connection_is_retryable(srv):
    srv.script_next(["drop"])
    res = _tag(_backend(srv), _prepared())
    assert isinstance(res, APIConnectionError) and should_retry(res)


# --------------------------------------------------------------------------- labels and max_side
def test_labels_constrain_schema_and_tags(srv):
    labels = ["Scratch", "dent", "crack", "no defect"]
    be = _backend(srv, labels=[" Scratch", "dent", "crack", "no  defect", "DENT"],
                  instructions="Photos of car panels.")
    res = _tag(be, _prepared(), "fr")
    assert isinstance(res, TagResult)
    # The server answered Scratch, dent, SCRATCH, not-a-label: only members, once, in the set's spelling.
    assert res.tags == ["Scratch", "dent"]
    body = srv.calls[0].body
    assert body["response_format"]["json_schema"]["schema"]["properties"]["tags"]["items"]["enum"] == labels
    text = body["messages"][1]["content"][0]["text"]
    assert json.dumps(labels) in text and "Photos of car panels." in text


def test_labels_change_the_cache_identity_but_the_key_never_enters_it(srv):
    a = OpenAICompatibleBackend(model=MODEL, base_url=srv.url, api_key=KEY)
    b = OpenAICompatibleBackend(model=MODEL, base_url=srv.url, api_key="sk-other-key-99999999")
    c = OpenAICompatibleBackend(model=MODEL, base_url=srv.url, labels=["dent"])
    d = OpenAICompatibleBackend(model=MODEL, base_url=srv.url, instructions="cars")
    e = OpenAICompatibleBackend(model=MODEL, base_url=srv.url, max_side=512)
    f = OpenAICompatibleBackend(model="other", base_url=srv.url)
    assert a.cache_identity() == b.cache_identity()
    assert len({a.cache_identity(), c.cache_identity(), d.cache_identity(), e.cache_identity(),
                f.cache_identity()}) == 5
    assert KEY not in a.cache_identity() and a.limiter_id() != b.limiter_id()


def test_max_side_downscales_large_images_and_counts_the_saving(srv):
    big = images.prepare(_jpeg((2400, 1800)), source="big.jpg")
    be = _backend(srv)
    assert isinstance(_tag(be, big), TagResult)
    call = srv.calls[0]
    assert max(call.width, call.height) == 1024
    assert be.stats.bytes_after < be.stats.bytes_before
    assert be.stats.tokens_after <= be.stats.tokens_before


def test_png_is_sent_as_jpeg_and_small_jpeg_untouched(srv):
    buf = io.BytesIO()
    Image.new("RGBA", (40, 30), (255, 0, 0, 128)).save(buf, "PNG")
    png = images.prepare(buf.getvalue(), source="a.png")
    small = _prepared((64, 48))
    be = _backend(srv)
    assert isinstance(_tag(be, png), TagResult)
    be2 = _backend(srv)
    assert isinstance(_tag(be2, small), TagResult)
    urls = [c.body["messages"][1]["content"][1]["image_url"]["url"] for c in srv.calls]
    assert urls[0].startswith("data:image/jpeg;base64,")
    assert srv.calls[1].digest == small.sha256  # sent as it was


# --------------------------------------------------------------------------- settling
def test_missing_model_says_how_to_pass_it():
    with pytest.raises(ConfigurationError, match='model="qwen2.5vl:7b"'):
        resolve_backend("ollama")
    with pytest.raises(ConfigurationError, match="--model"):
        resolve_backend("openai", base_url="http://127.0.0.1:9/v1")


def test_presets_settle_from_the_environment(monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", "gpu-box:11500")
    monkeypatch.setenv("OLLAMA_NUM_PARALLEL", "3")
    be = resolve_backend("ollama", model=MODEL)
    assert be.base_url == "http://gpu-box:11500/v1" and be.max_concurrency == 3
    monkeypatch.setenv("OPENAI_BASE_URL", "http://vllm:8000/v1")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    be = resolve_backend("openai", model="Qwen/Qwen2.5-VL-3B-Instruct")
    assert be.base_url == "http://vllm:8000/v1" and be.max_concurrency == 8
    assert KEY not in repr(be)
    monkeypatch.delenv("OPENAI_BASE_URL")
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
        resolve_backend("openai", model="gpt-4o-mini")


def test_vlm_options_refused_by_other_backends():
    with pytest.raises(ConfigurationError, match="model"):
        resolve_backend("local", model="x")
    with pytest.raises(ConfigurationError, match="labels"):
        resolve_backend("imagedescriber", api_key="sk-x", labels=["a"])


# --------------------------------------------------------------------------- the servers' documented shapes
@pytest.mark.parametrize("name", ["ollama", "vllm", "llamacpp"])
def test_requests_match_each_servers_documented_shape(name):
    spec = json.loads((FIXTURES / f"{name}.json").read_text())
    accepts = spec["accepts"]
    # The fake server accepts what the server's own documentation sends.
    assert request_problems(spec["example_request"]) == []
    be = OpenAICompatibleBackend(model="m", base_url="http://127.0.0.1:9/v1", labels=["a", "b"],
                                 preset="ollama" if name == "ollama" else "openai")
    url = "data:image/jpeg;base64," + "A" * 8
    for mode in ("json_schema", "json_object", "prompt"):
        for previous in (None, "bad"):
            messages = build_messages(url, "ko", be.labels, "ctx", previous=previous,
                                      problem="cut off" if previous else None)
            body = be.request_body(messages, mode)
            assert request_problems(body) == [], (name, mode)
            unknown = set(body) - set(accepts["fields"])
            assert not unknown, f"{spec['server']} does not read {unknown}"
            assert accepts["output_token_field"] in body
            for m in body["messages"]:
                if isinstance(m["content"], list):
                    for part in m["content"]:
                        assert part["type"] in accepts["content_part_types"]
                        if part["type"] == "image_url":
                            assert "object" in accepts["image_url_forms"]
                            mime = part["image_url"]["url"][5:].split(";")[0]
                            assert mime in accepts["image_mimes"]
            rf = body.get("response_format")
            if rf is not None:
                assert rf["type"] in accepts["response_format_types"]
                if rf["type"] == "json_schema":
                    node = rf
                    for key in accepts["json_schema_at"]:
                        node = node[key]
                    assert node["properties"]["tags"]["items"]["enum"] == ["a", "b"]
