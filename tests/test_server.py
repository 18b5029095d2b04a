"""``imagetags serve`` over real HTTP on 127.0.0.1: the contract of API.md, code by code.

The server runs in a background thread (uvicorn on a free port) with a stub
backend, and is driven with httpx, with our own client, and with the seed
document's own Python ``requests`` example, curl command and JavaScript ``fetch``
example, each unchanged but for the URL (and the key and image placeholders).
"""

from __future__ import annotations

import base64
import io
import json
import logging
import re
import socket
import struct
import subprocess
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from PIL import Image

from imagetags_df import ImageDescriberClient
from imagetags_df import _constants as C
from imagetags_df._exceptions import ContentBlockedError, UploadFailedError
from imagetags_df.backends.base import Backend
from imagetags_df.server import create_app
from imagetags_df.server.keystore import KeyStore
from imagetags_df.server.testing import PromptStubBackend, ServerThread, StubBackend

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"
CAT = SAMPLES / "chelsea_cat.jpg"
COINS = SAMPLES / "coins.png"
TAGS_PATH = C.GENERATE_TAGS_PATH


@dataclass
class Served:
    url: str
    key: str
    store: KeyStore
    backend: Backend
    key_id: int

    @property
    def endpoint(self) -> str:
        return self.url + TAGS_PATH

    def headers(self, key: str | None = None) -> dict[str, str]:
        return {"content-type": "application/json", "authorization": f"Bearer {key or self.key}"}

    def post(self, body: dict | bytes | str, *, key: str | None = None, headers: dict[str, str] | None = None,
             path: str = TAGS_PATH) -> httpx.Response:
        content = body if isinstance(body, (bytes, str)) else json.dumps(body)
        return httpx.post(self.url + path, content=content,
                          headers=headers if headers is not None else self.headers(key), timeout=30)

    def credits(self, key_id: int | None = None) -> int:
        return self.store.get(key_id or self.key_id).credits


@pytest.fixture
def serve(tmp_path) -> Iterator[Callable[..., Served]]:
    """Start a server: ``serve(backend=..., credits=..., rate_limit=...)``; stopped after the test."""
    running: list[ServerThread] = []

    def start(backend: Backend | None = None, *, credits: int = 100, rate_limit: str = "100000/min",
              **options) -> Served:
        store = KeyStore(tmp_path / f"keys{len(running)}.sqlite3")
        key, info = store.create("tester", credits)
        backend = backend or StubBackend()
        server = ServerThread(create_app(store, backend=backend, rate_limit=rate_limit, **options)).start()
        running.append(server)
        return Served(server.url, key, store, backend, info.id)

    yield start
    for server in running:
        server.stop()


@pytest.fixture
def served(serve) -> Served:
    return serve()


def data_uri(data: bytes, mime: str = "image/jpeg") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def encoded(fmt: str, size=(40, 30), color="navy", **save) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format=fmt, **save)
    return buf.getvalue()


def assert_error(response: httpx.Response, code: int) -> dict:
    """The error shape of API.md: code, message, request_id, no data, the status for the code."""
    assert response.status_code == C.HTTP_STATUS_FOR_CODE[code], response.text
    body = response.json()
    assert body["code"] == code, body
    assert set(body) == {"code", "message", "request_id"}, body
    assert body["message"] and "Traceback" not in body["message"]
    assert re.fullmatch(r"[0-9a-f]{32}", body["request_id"])
    assert response.headers["x-request-id"] == body["request_id"]
    return body


# --------------------------------------------------------------------------- success

def test_success_has_the_shape_of_api_md(served):
    r = served.post({"image": data_uri(CAT.read_bytes()), "lang": "en"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert set(body) == {"code", "message", "request_id", "data"}
    assert body["code"] == 0 and body["message"] == "success"
    assert re.fullmatch(r"[0-9a-f]{32}", body["request_id"]) and r.headers["x-request-id"] == body["request_id"]
    assert body["data"]["tags"] == {"tags": ["jpeg", "451x300", "lang-en"], "title": "A jpeg image",
                                    "description": "A 451x300 jpeg image (en)."}
    # Credits are numbers (the table's reading), and the store agrees with the answer.
    assert body["data"]["credits"] == {"amount": 1, "remaining": 99}
    assert served.credits() == 99


def test_formats_are_sniffed_from_bytes_not_from_the_data_uri_label(served):
    # The seed's sample code labels every image image/jpeg, PNGs included.
    png = served.post({"image": data_uri(COINS.read_bytes(), "image/jpeg"), "lang": "de"})
    assert png.json()["data"]["tags"]["tags"][0] == "png"
    webp = served.post({"image": data_uri(encoded("WEBP"), "image/png")})
    assert webp.json()["data"]["tags"]["tags"] == ["webp", "40x30", "lang-en"]  # lang defaults to en


def test_bare_base64_wrapped_lines_and_null_lang_are_accepted(served):
    raw = base64.b64encode(encoded("JPEG")).decode()
    assert served.post({"image": raw}).json()["code"] == 0
    wrapped = "\n".join(raw[i:i + 76] for i in range(0, len(raw), 76))  # MIME-style line breaks
    assert served.post({"image": "data:image/jpeg;base64," + wrapped, "lang": None}).json()["code"] == 0


@pytest.mark.parametrize("lang", C.LANGUAGES)
def test_every_language_of_the_contract(served, lang):
    r = served.post({"image": data_uri(encoded("PNG")), "lang": lang})
    assert r.status_code == 200 and r.json()["data"]["tags"]["tags"][-1] == f"lang-{lang}"


def test_every_answer_has_a_fresh_request_id(served):
    ids = [served.post({"image": data_uri(encoded("JPEG"))}).json()["request_id"] for _ in range(5)]
    ids += [served.post({"image": "!"}).json()["request_id"] for _ in range(5)]
    ids += [httpx.post(served.endpoint, json={}).json()["request_id"] for _ in range(5)]
    assert len(set(ids)) == 15


# --------------------------------------------------------------------------- clients of the hosted API

def test_our_client_works_against_the_server(served):
    from imagetags_df import ImageDescriberClient

    with ImageDescriberClient(api_key=served.key, base_url=served.url, max_retries=0) as client:
        result = client.generate_tags(str(CAT), lang="zh")
    assert result.tags == ["jpeg", "451x300", "lang-zh"]
    assert result.credits_used == 1 and result.credits_remaining == 99
    assert result.request_id and len(result.request_id) == 32


def test_our_client_maps_server_errors_to_the_exception_tree(serve):
    from imagetags_df import ImageDescriberClient
    from imagetags_df._exceptions import AuthenticationError, InsufficientCreditsError

    served = serve(credits=0)
    with ImageDescriberClient(api_key=served.key, base_url=served.url, max_retries=0) as client, \
            pytest.raises(InsufficientCreditsError) as info:
        client.generate_tags(str(CAT))
    assert info.value.code == 2002 and info.value.status_code == 402 and info.value.request_id
    with ImageDescriberClient(api_key="itk_not-a-key", base_url=served.url, max_retries=0) as client, \
            pytest.raises(AuthenticationError) as info:
        client.generate_tags(str(CAT))
    assert info.value.code == 1003 and info.value.status_code == 401


def test_the_seed_documents_requests_example_unchanged_but_for_the_url(served, capsys, tmp_path):
    # Copied from seed-imagedescriber-tag-api.zh.txt; only `url` (and the
    # placeholders for the key and the file) differ. Note it labels the data URI
    # image/jpeg whatever the file is.
    import requests  # noqa: I001 - the seed's own imports, in its order
    import base64

    def image_to_base64(image_path):
        """将图像转换为 Base64 编码"""
        with open(image_path, "rb") as image_file:
            encoded_string = base64.b64encode(image_file.read()).decode("utf-8")
        return encoded_string

    def generate_image_tags(api_key, image_path, lang="zh"):
        """使用 AI 图像标签 API 生成 AI 图像标签"""
        url = served.url + "/api/v1/generate_tags"
        headers = {
            "content-type": "application/json",
            "authorization": f"Bearer {api_key}"
        }
        image_base64_data = image_to_base64(image_path)
        payload = {
            "image": f"data:image/jpeg;base64,{image_base64_data}",
            "lang": lang
        }
        response = requests.post(url, headers=headers, json=payload)
        if response.status_code == 200:
            result = response.json()
            tags_data = result["data"]["tags"]
            print("生成的标签:", tags_data["tags"])
            print("标题:", tags_data["title"])
            print("描述:", tags_data["description"])
            print("剩余积分:", result["data"]["credits"]["remaining"])
        else:
            print(f"错误: {response.status_code}")
            print(response.text)

    # 使用示例
    api_key = served.key
    image_path = str(COINS)  # a PNG, sent as "image/jpeg" by the example
    generate_image_tags(api_key, image_path)
    out = capsys.readouterr().out
    assert "生成的标签: ['png', '384x303', 'lang-zh']" in out
    assert "剩余积分: 99" in out

    generate_image_tags("您的_API_密钥".encode().hex(), image_path)  # a wrong key takes the else branch
    out = capsys.readouterr().out
    assert "错误: 401" in out and '"code":1003' in out


def test_the_seed_documents_curl_command_unchanged_but_for_the_url(served, tmp_path):
    image = data_uri(encoded("JPEG"))
    # The seed's command; the URL, the key and the "..." image placeholder filled in.
    command = f"""curl --location '{served.endpoint}' \\
--header 'content-type: application/json' \\
--header 'authorization: Bearer {served.key}' \\
--data '{{
"image":"{image}",
"lang":"zh"
}}'"""
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=30, check=True)
    body = json.loads(done.stdout)
    assert body["code"] == 0 and body["data"]["tags"]["tags"] == ["jpeg", "40x30", "lang-zh"]
    assert body["data"]["credits"] == {"amount": 1, "remaining": 99}


def test_the_seed_documents_javascript_fetch_example_unchanged_but_for_the_url(served, tmp_path):
    image = tmp_path / "test.jpg"
    image.write_bytes(CAT.read_bytes())
    # The seed's server-side ("服务端实现") lines and its fetch call, as an ES module.
    script = f"""import fs from 'fs';
// 服务端实现
const buffer = await fs.readFileSync("{image}");
const base64Image = buffer.toString('base64');
const imageData = `data:image/jpeg;base64,${{base64Image}}`;
const body = {{
"image": imageData,
"lang": "zh"
}};
const response = await fetch('{served.endpoint}', {{
method: 'POST',
headers: {{
'Content-Type': 'application/json',
'Authorization': 'Bearer {served.key}'
}},
body: JSON.stringify(body),
}});
const result = await response.json();
console.log('AI 生成的标签:', result.data.tags.tags);
console.log('生成的标题:', result.data.tags.title);
console.log('生成的描述:', result.data.tags.description);
"""
    (tmp_path / "seed.mjs").write_text(script, encoding="utf-8")
    done = subprocess.run(["node", str(tmp_path / "seed.mjs")], capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert "AI 生成的标签: [ 'jpeg', '451x300', 'lang-zh' ]" in done.stdout
    assert "生成的标题: A jpeg image" in done.stdout


# --------------------------------------------------------------------------- 1002 / 1003

@pytest.mark.parametrize("header", [None, "", "itk_abc", "Token itk_abc", "Bearer", "Bearer:itk_abc", "Basic dXNlcg==",
                                    "Bearer two words"])
def test_1002_missing_or_malformed_authorization(served, header):
    headers = {"content-type": "application/json"}
    if header is not None:
        headers["authorization"] = header
    assert_error(served.post({"image": data_uri(encoded("JPEG"))}, headers=headers), 1002)


def test_1003_unknown_key_and_revoked_key(served):
    assert_error(served.post({"image": data_uri(encoded("JPEG"))}, key="itk_" + "x" * 43), 1003)
    assert served.post({"image": data_uri(encoded("JPEG"))}).status_code == 200
    served.store.revoke(served.key_id)  # as `imagetags keys revoke` does while the server runs
    assert_error(served.post({"image": data_uri(encoded("JPEG"))}), 1003)
    assert served.credits() == 99


def test_bearer_scheme_is_case_insensitive(served):
    r = served.post({"image": data_uri(encoded("JPEG"))},
                    headers={"content-type": "application/json", "authorization": f"bearer {served.key}"})
    assert r.status_code == 200


# --------------------------------------------------------------------------- 1004

def test_1004_with_retry_after_and_keys_do_not_share_a_limit(serve):
    served = serve(rate_limit="3/min")
    other, _ = served.store.create("other", 10)
    body = {"image": data_uri(encoded("JPEG"))}
    assert [served.post(body).status_code for _ in range(3)] == [200, 200, 200]
    refused = served.post(body)
    assert_error(refused, 1004)
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert served.post(body, key=other).status_code == 200  # another key is untouched
    assert served.credits() == 97  # the refused request cost nothing


def test_rate_limit_comes_before_validation_and_auth_before_the_limit(serve):
    served = serve(rate_limit="1/min")
    assert_error(served.post({"image": "not base64!"}), 1005)  # admitted, then invalid: it counted
    assert_error(served.post({"image": "not base64!"}), 1004)
    assert_error(served.post({"image": "x"}, key="itk_unknown"), 1003)  # unknown keys are not limited


# --------------------------------------------------------------------------- 1005

@pytest.mark.parametrize("content, content_type", [
    ('{"image": "x"}', "text/plain"),
    ('{"image": "x"}', None),
    ("{not json", "application/json"),
    (b"\xff\xfe\x00garbage", "application/json"),
    ('["image"]', "application/json"),
    ("{}", "application/json"),
    ('{"image": 12}', "application/json"),
    ('{"image": ""}', "application/json"),
    ('{"image": "@@@@not-base64@@@@"}', "application/json"),
    ('{"image": "data:image/jpeg,rawbytes"}', "application/json"),
    ('{"image": "data:image/jpeg;base64"}', "application/json"),
    ("[" * 100_000 + "]" * 100_000, "application/json"),
])
def test_1005_content_type_json_shape_and_base64(served, content, content_type):
    headers = {"authorization": f"Bearer {served.key}"}
    if content_type:
        headers["content-type"] = content_type
    assert_error(served.post(content, headers=headers), 1005)
    assert served.credits() == 100


@pytest.mark.parametrize("lang", ["xx", "EN", "zh-CN", 7, ["en"]])
def test_1005_unsupported_lang(served, lang):
    body = assert_error(served.post({"image": data_uri(encoded("JPEG")), "lang": lang}), 1005)
    assert "en, zh, fr, de, es, ja, ko" in body["message"]


def test_content_type_with_charset_is_json(served):
    r = served.post({"image": data_uri(encoded("JPEG"))},
                    headers={**served.headers(), "content-type": "application/json; charset=utf-8"})
    assert r.status_code == 200


def test_unknown_path_and_wrong_method_answer_in_the_api_shape(served):
    r = httpx.get(served.endpoint)
    assert r.status_code == 405 and r.json()["code"] == 1005 and r.json()["request_id"]
    r = httpx.post(served.url + "/api/v2/generate_tags", json={})
    assert r.status_code == 404 and r.json()["code"] == 1005
    assert r.json()["message"].startswith("no such endpoint: POST /api/v2/generate_tags; this server answers")


def test_a_wrong_path_is_logged_named_and_not_filed_as_1005(served, caplog):
    import pandas as pd

    from imagetags_df import generate

    with caplog.at_level(logging.WARNING, logger="imagetags_df.server"):
        r = httpx.post(served.url + "/api/v1/api/v1/generate_tags", json={})
    assert r.status_code == 404
    assert any("POST /api/v1/api/v1/generate_tags" in rec.getMessage() for rec in caplog.records)
    # The client names the URL it asked for and files no API code for a wrong path.
    out = generate(pd.DataFrame({"path": [str(CAT)]}), col="path", backend="imagedescriber", api_key=served.key,
                   base_url=served.url + "/v2", rate_limit="100/s", progress=False, max_retries=0)
    assert not out.ok[0] and pd.isna(out.error_code[0])
    assert f"HTTP 404: {served.url}/v2/api/v1/generate_tags is not an endpoint of this server" in out.error[0]


def test_a_base_url_ending_in_api_v1_is_the_same_server(served):
    import pandas as pd

    from imagetags_df import generate

    for base in (served.url + "/api/v1", served.url + "/api/v1/", served.url + TAGS_PATH):
        out = generate(pd.DataFrame({"path": [str(CAT)]}), col="path", backend="imagedescriber",
                       api_key=served.key, base_url=base, rate_limit="100/s", progress=False)
        assert out.ok[0], (base, out.error[0])


def test_the_server_announces_its_limit_and_the_client_paces_at_it(serve, tmp_path):
    """30 photos through one's own server at 600/min: paced at its limit, not the 30/min default."""
    import asyncio

    import pandas as pd

    from imagetags_df import generate

    served = serve(rate_limit="600/min")
    r = served.post({"image": data_uri(encoded("JPEG"))})
    assert r.headers["ratelimit-policy"] == "600;w=60" and r.headers["x-ratelimit-limit-requests"] == "600"
    assert r.headers["x-ratelimit-remaining-requests"] == "599"
    refused = served.post({"image": data_uri(encoded("JPEG"))}, key="sk-unknown")
    assert "ratelimit-policy" not in refused.headers  # no key, no limit of its own to announce
    # The client's pacer takes the announced limit from the first answer on ...
    from imagetags_df.backends.imagedescriber import ImageDescriberBackend
    from imagetags_df.images import load
    from imagetags_df.infra.ratelimit import Pacer

    for given, expected in ((None, 600.0), ("30/min", 30.0)):  # ... unless the caller set one
        backend = ImageDescriberBackend(api_key=served.key, base_url=served.url, rate_limit=given)
        pacer = Pacer(backend.rate_limit, f"announce-{given}")
        backend.attach_pacer(pacer)
        assert pacer.rate.per_minute == 30.0

        async def one(backend=backend):
            try:
                return await backend.tag_batch([load(str(CAT))], "en")
            finally:
                await backend.aclose()

        (result,) = asyncio.run(one())
        assert not isinstance(result, BaseException), result
        assert pacer.rate.per_minute == expected and pacer.interval < 60 / expected * 1.2
    # ... and a whole run through the engine goes through at that pace (timed in docs, not here).
    paths = []
    for i in range(30):
        Image.new("RGB", (40, 30), (i * 8, 40, 90)).save(tmp_path / f"p{i}.jpg")
        paths.append(str(tmp_path / f"p{i}.jpg"))
    out = generate(pd.DataFrame({"path": paths}), col="path", backend="imagedescriber", api_key=served.key,
                   base_url=served.url, progress=False, cache_dir=tmp_path / "cache")
    assert out.ok.all()


# --------------------------------------------------------------------------- 2002

def test_2002_when_credits_run_out_and_topup_restores(serve):
    served = serve(credits=2)
    body = {"image": data_uri(encoded("JPEG"))}
    assert [served.post(body).json()["data"]["credits"]["remaining"] for _ in range(2)] == [1, 0]
    refused = assert_error(served.post(body), 2002)
    assert "top up" in refused["message"]
    served.store.topup(served.key_id, 1)  # as `imagetags keys topup` while the server runs
    assert served.post(body).json()["data"]["credits"] == {"amount": 1, "remaining": 0}


def test_invalid_request_is_refused_before_the_credit_check(serve):
    served = serve(credits=0)
    assert_error(served.post({"image": "@@"}), 1005)
    assert_error(served.post({"image": data_uri(encoded("GIF"))}), 2004)
    assert_error(served.post({"image": data_uri(encoded("JPEG"))}), 2002)


# --------------------------------------------------------------------------- 2003 / 2004 / 2005 / 5050

def test_2003_from_the_backend_costs_nothing(serve):
    served = serve(StubBackend(error=ContentBlockedError("blocked by the content filter", code=2003)))
    body = assert_error(served.post({"image": data_uri(encoded("JPEG"))}), 2003)
    assert body["message"] == "blocked by the content filter"
    assert served.credits() == 100


@pytest.mark.parametrize("make", [
    lambda: encoded("GIF"),
    lambda: encoded("BMP"),
    lambda: encoded("TIFF"),
    lambda: b"%PDF-1.4 not an image at all",
    lambda: b"hello world",
], ids=["gif", "bmp", "tiff", "pdf", "text"])
def test_2004_formats_other_than_jpeg_png_webp(served, make):
    body = assert_error(served.post({"image": data_uri(make())}), 2004)
    assert "JPEG, PNG or WebP" in body["message"]


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height pixels, with almost no data."""
    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + \
        chunk(b"IEND", b"")


def test_2004_decompression_bomb_is_refused_from_its_header(served):
    body = assert_error(served.post({"image": data_uri(_png_header_only(20_000, 20_000))}), 2004)
    assert "pixel" in body["message"]


def test_2004_image_over_4_mib_under_the_body_cap(served):
    big = b"\xff\xd8\xff\xe0" + b"\0" * (C.SERVER_MAX_IMAGE_BYTES + 10)
    content = json.dumps({"image": data_uri(big)})
    assert len(content) < C.SERVER_MAX_BODY_BYTES  # so this is the image check, not the body cap
    assert "4 MiB" in assert_error(served.post(content), 2004)["message"]


def _progressive(data: bytes) -> bytes:
    buf = io.BytesIO()
    Image.open(io.BytesIO(data)).save(buf, "JPEG", progressive=True, quality=90)
    return buf.getvalue()


@pytest.mark.parametrize("make", [
    lambda: CAT.read_bytes()[:len(CAT.read_bytes()) // 2],
    lambda: CAT.read_bytes()[:-2],  # only the end marker missing
    # Ends early but with its end marker: libjpeg decodes it with a grey bottom and a warning.
    lambda: CAT.read_bytes()[:len(CAT.read_bytes()) * 4 // 5] + b"\xff\xd9",
    lambda: CAT.read_bytes()[:len(CAT.read_bytes()) - 200] + b"\xff\xd9",
    lambda: _progressive(CAT.read_bytes())[:len(_progressive(CAT.read_bytes())) * 19 // 20] + b"\xff\xd9",
    lambda: b"\x89PNG\r\n\x1a\n" + b"garbage" * 20,
    lambda: b"RIFF\x10\x00\x00\x00WEBPVP8 " + b"\x00" * 20,
], ids=["truncated-jpeg", "jpeg-without-end-marker", "jpeg-ending-early", "jpeg-ending-200-bytes-early",
        "progressive-jpeg-ending-early", "png-magic-garbage", "webp-magic-garbage"])
def test_2004_damaged_or_incomplete_image_data_is_bad_for_certain(served, make):
    body = assert_error(served.post({"image": data_uri(make())}), 2004)
    assert "damaged or incomplete" in body["message"]
    assert served.credits() == 100


@pytest.mark.parametrize("data", [CAT.read_bytes(), _progressive(CAT.read_bytes())], ids=["baseline", "progressive"])
def test_whole_jpegs_are_not_mistaken_for_ones_ending_early(served, data):
    assert served.post({"image": data_uri(data)}).json()["code"] == 0


def test_a_4_mb_image_with_base64_wrapped_at_76_columns_is_accepted(served):
    import numpy as np

    noise = np.random.default_rng(1).integers(0, 256, (1170, 1170, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(noise).save(buf, "PNG", compress_level=0)
    png = buf.getvalue()
    assert 4_000_000 < len(png) < C.SERVER_MAX_IMAGE_BYTES
    b64 = base64.b64encode(png).decode()
    wrapped = "\r\n".join(b64[i:i + 76] for i in range(0, len(b64), 76))  # MIME, as email tools write it
    r = served.post({"image": "data:image/png;base64," + wrapped})
    assert r.json()["code"] == 0, r.text
    assert r.json()["data"]["tags"]["tags"][:2] == ["png", "1170x1170"]


def test_backend_upload_failure_passes_as_2005(serve):
    served = serve(StubBackend(error=UploadFailedError("storage unavailable", code=2005)))
    assert_error(served.post({"image": data_uri(encoded("JPEG"))}), 2005)
    assert served.credits() == 100


def test_5050_has_the_request_id_and_no_trace_while_the_log_has_both(serve, caplog):
    served = serve(StubBackend(error=RuntimeError("kaboom in the model")))
    with caplog.at_level(logging.INFO, logger="imagetags_df.server"):
        r = served.post({"image": data_uri(encoded("JPEG"))})
    body = assert_error(r, 5050)
    assert body["message"] == "internal server error"
    assert "kaboom" not in r.text and "Traceback" not in r.text
    failures = [rec for rec in caplog.records if rec.levelno >= logging.ERROR]
    assert failures and body["request_id"] in failures[0].getMessage()
    assert failures[0].exc_info and "kaboom in the model" in str(failures[0].exc_info[1])
    assert served.credits() == 100  # refunded


def test_5050_when_the_backend_breaks_its_contract(serve):
    class Broken(StubBackend):
        async def tag_batch(self, images, lang):
            return []  # no result for the image

    served = serve(Broken())
    assert_error(served.post({"image": data_uri(encoded("JPEG"))}), 5050)
    assert served.credits() == 100


def test_keys_never_reach_the_log(serve, caplog):
    served = serve(StubBackend(error=RuntimeError("boom")))
    with caplog.at_level(logging.DEBUG):
        served.post({"image": data_uri(encoded("JPEG"))})
        served.post({"image": "@@"})
        served.post({"image": "x"}, key=served.key[:-1] + "Z")
    text = "\n".join(rec.getMessage() + str(rec.exc_info or "") for rec in caplog.records)
    assert "tester#1" in text
    assert served.key not in text and served.key[4:20] not in text


# --------------------------------------------------------------------------- body size

def _raw_answer(served: Served, head: bytes, body_parts: list[bytes]) -> tuple[bytes, dict]:
    """Send a request by hand (never finishing its body) and read the answer that arrives anyway."""
    port = int(served.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        for part in body_parts:
            sock.sendall(part)
        answer = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
            if b"\r\n\r\n" in answer and answer.rstrip().endswith(b"}"):
                break
    status_line, _, rest = answer.partition(b"\r\n")
    return status_line, json.loads(rest.split(b"\r\n\r\n", 1)[1])


def test_oversize_content_length_is_refused_before_the_body_is_read(served):
    """The answer arrives although the client has sent almost none of the 50 MB it announced."""
    head = (f"POST {TAGS_PATH} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
            f"authorization: Bearer {served.key}\r\ncontent-length: 50000000\r\n\r\n").encode()
    status, body = _raw_answer(served, head, [b'{"image": "'])
    assert status.startswith(b"HTTP/1.1 400") and body["code"] == 2004


def test_oversize_chunked_body_is_counted_while_streaming(served):
    """A chunked body declares no length: it is refused once the cap is passed, before its end."""
    head = (f"POST {TAGS_PATH} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
            f"authorization: Bearer {served.key}\r\ntransfer-encoding: chunked\r\n\r\n").encode()
    chunk = b"A" * 65536
    framed = b"%x\r\n" % len(chunk) + chunk + b"\r\n"
    parts = [framed] * (C.SERVER_MAX_BODY_BYTES // len(chunk) + 2)  # just over the cap; no final chunk
    status, body = _raw_answer(served, head, parts)
    assert status.startswith(b"HTTP/1.1 400") and body["code"] == 2004


def test_a_body_under_the_cap_sent_chunked_is_read_whole(served):
    def body():
        yield b'{"image": "' + data_uri(encoded("PNG")).encode()
        yield b'", "lang": "ja"}'

    r = httpx.post(served.endpoint, content=body(), headers=served.headers(), timeout=30)
    assert r.status_code == 200 and r.json()["data"]["tags"]["tags"][-1] == "lang-ja"


# --------------------------------------------------------------------------- generate_content

def test_generate_content_answers_with_a_backend_that_can(serve):
    served = serve(PromptStubBackend())
    r = served.post({"image": data_uri(encoded("PNG")), "prompt": "What is this object?", "lang": "fr"},
                    path=C.GENERATE_CONTENT_PATH)
    assert r.status_code == 200
    data = r.json()["data"]
    assert data["content"] == "What is this object? -> a 40x30 image/png image (fr)"
    assert data["credits"] == {"amount": 1, "remaining": 99}
    assert_error(served.post({"image": data_uri(encoded("PNG"))}, path=C.GENERATE_CONTENT_PATH), 1005)


def test_our_client_reads_generate_content_answers(serve):
    served = serve(PromptStubBackend())
    with ImageDescriberClient(api_key=served.key, base_url=served.url, max_retries=0) as client:
        data = client.generate_content(encoded("PNG"), "What is this object?", lang="de")
    assert data["content"] == "What is this object? -> a 40x30 image/png image (de)"


def test_generate_content_is_a_clear_1005_when_the_backend_cannot(served):
    r = served.post({"image": data_uri(encoded("PNG")), "prompt": "What is this?"}, path=C.GENERATE_CONTENT_PATH)
    body = assert_error(r, 1005)
    assert "cannot answer prompts" in body["message"] and TAGS_PATH in body["message"]
    assert served.credits() == 100


def test_health(served):
    r = httpx.get(served.url + "/healthz")
    assert r.status_code == 200 and r.json()["code"] == 0


def test_cors_preflight_and_answers_for_allowed_origins_only(tmp_path):
    store = KeyStore(tmp_path / "keys.sqlite3")
    key, _ = store.create("browser", 10)
    app = create_app(store, backend=StubBackend(), cors_origins=["https://app.example"])
    with ServerThread(app) as server:
        preflight = {"origin": "https://app.example", "access-control-request-method": "POST",
                     "access-control-request-headers": "authorization, content-type"}
        ok = httpx.options(server.url + C.GENERATE_TAGS_PATH, headers=preflight)
        assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == "https://app.example"
        other = httpx.options(server.url + C.GENERATE_TAGS_PATH,
                              headers={**preflight, "origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
        answer = httpx.post(server.url + C.GENERATE_TAGS_PATH, json={"image": data_uri(encoded("JPEG"))},
                            headers={"origin": "https://app.example", "authorization": f"Bearer {key}"})
        assert answer.status_code == 200 and answer.headers["access-control-allow-origin"] == "https://app.example"
    # Without the option, no CORS headers at all.
    with ServerThread(create_app(store, backend=StubBackend())) as server:
        answer = httpx.post(server.url + C.GENERATE_TAGS_PATH, json={"image": data_uri(encoded("JPEG"))},
                            headers={"origin": "https://app.example", "authorization": f"Bearer {key}"})
        assert answer.status_code == 200 and "access-control-allow-origin" not in answer.headers
