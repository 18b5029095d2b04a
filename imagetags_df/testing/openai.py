"""A scriptable OpenAI-compatible chat-completions server on 127.0.0.1, for tests and benchmarks.

No vision model can run here, so this stands in for one over real HTTP: it checks
each request's shape (the checks Ollama, vLLM and llama.cpp make), answers in the
language the prompt asks for, honours or refuses ``response_format``, counts
tokens, enforces a request limit announced through ``x-ratelimit-*`` headers, and
plays any scripted misbehaviour::

    with FakeVisionModel(models={"qwen2.5vl:7b"}) as srv:
        srv.script_next(["fenced", "ok"])          # first answer in a code fence
        be = OpenAICompatibleBackend(model="qwen2.5vl:7b", base_url=srv.url, preset="ollama")

Steps: ``ok``; answer shapes ``fenced``, ``prose``, ``think``, ``truncated``,
``english`` (wrong language), ``garbage``, ``no-title``, ``refusal``; errors
``429`` (Retry-After in seconds), ``429-date`` (as an HTTP date), ``429-headers``
(only ``x-ratelimit-*``), ``503`` (Ollama's "server busy"), ``500``, ``402``,
``401``, ``403``, ``404``, ``400-noimage``, ``200-error-502`` / ``200-error-400``
(an error object in a 200, as OpenRouter sends), ``drop`` (close without
answering), ``slow`` (sleep past any sane timeout).
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import io
import json
import random
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from ..backends.vlm_image import estimate_image_tokens
from ..backends.vlm_prompt import LANGUAGE_NAMES
from .loopback import LoopbackServer, ScriptedHTTPServer

#: MIME types Ollama's ``decodeImageURL`` accepts in a data URI (``openai/openai.go``).
DATA_URI = re.compile(r"^data:image/(jpeg|jpg|png|webp);base64,(.+)$", re.DOTALL)

_WORDS = {
    "en": ("Image", "An image with {n} tags.", ["photo", "scene", "object", "colour", "light"]),
    "fr": ("Image", "Une image avec {n} mots-clés.", ["photo", "scène", "objet", "couleur", "lumière"]),
    "de": ("Bild", "Ein Bild mit {n} Schlagwörtern.", ["Foto", "Szene", "Objekt", "Farbe", "Licht"]),
    "es": ("Imagen", "Una imagen con {n} etiquetas.", ["foto", "escena", "objeto", "color", "luz"]),
    "zh": ("图片", "一张有{n}个标签的图片。", ["照片", "场景", "物体", "颜色", "光线"]),
    "ja": ("画像", "{n}個のタグがある画像です。", ["写真", "風景", "物体", "色", "光"]),
    "ko": ("이미지", "태그가 {n}개 있는 이미지입니다.", ["사진", "장면", "물체", "색상", "빛"]),
}


@dataclass
class Call:
    """One request the server saw."""

    at: float
    key: str | None
    model: str | None
    digest: str | None  # SHA-256 of the image bytes sent
    width: int
    height: int
    lang: str | None
    response_format: str | None
    outcome: str
    body: dict[str, Any] = field(repr=False, default_factory=dict)


@dataclass
class _State:
    keys: set[str] | None
    models: set[str] | None
    formats: set[str]
    ignore_format: bool
    latency: tuple[float, float]
    limit: int | None
    window: float
    scripts: dict[str, deque[str]] = field(default_factory=dict)
    default_script: deque[str] = field(default_factory=deque)
    hits: deque[float] = field(default_factory=deque)
    calls: list[Call] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _detect_lang(text: str) -> str | None:
    for code, name in LANGUAGE_NAMES.items():
        if f"in {name}" in text:
            return code
    return None


def _labels_in(text: str) -> list[str] | None:
    m = re.search(r"Labels: (\[.*\])", text)
    return json.loads(m.group(1)) if m else None


def request_problems(body: Any) -> list[str]:
    """What a strict OpenAI-compatible server would refuse in a chat-completions body."""
    if not isinstance(body, dict):
        return ["the body is not a JSON object"]
    problems = []
    if not isinstance(body.get("model"), str) or not body["model"]:
        problems.append("'model' must be a non-empty string")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return [*problems, "'messages' must be a non-empty list"]
    for m in messages:
        if not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant"):
            problems.append("each message needs a role of system, user or assistant")
            continue
        content = m.get("content")
        if isinstance(content, str):
            continue
        if not isinstance(content, list):
            problems.append("content must be a string or a list of parts")
            continue
        for part in content:
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "text" and isinstance(part.get("text"), str):
                continue
            if kind == "image_url":
                iu = part.get("image_url")
                url = iu.get("url") if isinstance(iu, dict) else iu
                if not isinstance(url, str):
                    problems.append("image_url needs a url")
                elif url.startswith(("http://", "https://")):
                    # Ollama's own words (openai/openai.go, decodeImageURL).
                    problems.append("image URLs are not currently supported, please use base64 encoded data instead")
                elif not DATA_URI.match(url):
                    problems.append("invalid image input")
                continue
            problems.append("invalid message format")
    rf = body.get("response_format")
    if rf is not None:
        if not isinstance(rf, dict) or rf.get("type") not in ("text", "json_object", "json_schema"):
            problems.append('response_format type must be one of "text", "json_object" or "json_schema"')
        elif rf["type"] == "json_schema":
            js = rf.get("json_schema")
            if not isinstance(js, dict) or not isinstance(js.get("schema"), dict):
                problems.append("response_format.json_schema.schema must be an object")
    return problems


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ScriptedHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None,
              raw: bytes | None = None) -> None:
        data = raw if raw is not None else json.dumps(payload, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("x-request-id", "req_" + uuid.uuid4().hex[:12])
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str, headers: dict[str, str] | None = None,
               code: Any = None) -> None:
        etype = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
                 429: "rate_limit_error"}.get(status, "api_error")
        self._send(status, {"error": {"message": message, "type": etype, "param": None, "code": code}},
                   headers)

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            st = self.server.state
            self._send(200, {"object": "list", "data": [{"id": m, "object": "model"} for m in sorted(st.models or [])]})
            return
        self._error(404, "not found")

    def do_POST(self) -> None:
        st = self.server.state
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._error(404, f"no route {self.path}")
            return
        auth = self.headers.get("authorization") or ""
        key = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        now = time.time()
        call = Call(now, key, None, None, 0, 0, None, None, "")

        def record(outcome: str) -> None:
            call.outcome = outcome
            with st.lock:
                st.calls.append(call)

        try:
            body = json.loads(raw)
        except ValueError:
            record("400")
            self._error(400, "invalid JSON body")
            return
        call.body = body
        if st.keys is not None and key not in st.keys:
            record("401")
            self._error(401, "Incorrect API key provided: " + (key[:3] + "***" + key[-4:] if key else "none"),
                        code="invalid_api_key")
            return
        problems = request_problems(body)
        if problems:
            record("400")
            self._error(400, "; ".join(problems))
            return
        call.model = body["model"]
        text = " ".join(p.get("text", "") for m in body["messages"] if isinstance(m.get("content"), list)
                        for p in m["content"] if p.get("type") == "text")
        call.lang = _detect_lang(text)
        for m in body["messages"]:
            for p in m["content"] if isinstance(m.get("content"), list) else []:
                if p.get("type") == "image_url":
                    iu = p["image_url"]
                    found = DATA_URI.match(iu["url"] if isinstance(iu, dict) else iu)
                    assert found is not None  # request_problems checked it
                    data = base64.b64decode(found.group(2))
                    call.digest = hashlib.sha256(data).hexdigest()
                    from PIL import Image

                    with Image.open(io.BytesIO(data)) as img:
                        call.width, call.height = img.size
        rf = body.get("response_format")
        call.response_format = rf.get("type") if isinstance(rf, dict) else None
        if st.models is not None and body["model"] not in st.models:
            record("404")
            # Ollama's wording (server/routes.go).
            self._error(404, f'model "{body["model"]}" not found, try pulling it first')
            return
        limit_headers: dict[str, str] = {}
        if st.limit is not None:
            with st.lock:
                while st.hits and st.hits[0] <= now - st.window:
                    st.hits.popleft()
                allowed = len(st.hits) < st.limit
                if allowed:
                    st.hits.append(now)
                remaining = st.limit - len(st.hits)
                reset = (st.hits[0] + st.window - now) if st.hits else 0.0
            limit_headers = {"x-ratelimit-limit-requests": str(st.limit),
                             "x-ratelimit-remaining-requests": str(remaining),
                             "x-ratelimit-reset-requests": f"{max(0.001, reset):.3f}s"}
            if not allowed:
                record("429")
                self._error(429, "Rate limit reached for requests", limit_headers, code="rate_limit_exceeded")
                return
        with st.lock:
            queue = st.scripts.get(call.digest or "")
            step = queue.popleft() if queue else (st.default_script.popleft() if st.default_script else "ok")
        lo, hi = st.latency
        if hi > 0:
            time.sleep(random.uniform(lo, hi))
        if call.response_format and call.response_format not in st.formats and call.response_format != "text":
            record("400-format")
            self._error(400, f"response_format type {call.response_format!r} is not supported by this server")
            return
        record(step)
        self._answer(step, body, call, text, limit_headers)

    def _answer(self, step: str, body: dict[str, Any], call: Call, text: str, headers: dict[str, str]) -> None:
        if step == "drop":
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if step == "slow":
            time.sleep(30)
        errors = {"500": (500, "internal error"), "402": (402, "Insufficient credits"),
                  "403": (403, "forbidden"), "401": (401, "Incorrect API key provided: sk-***abcd"),
                  "404": (404, f"The model `{call.model}` does not exist"),
                  "400-noimage": (400, "Invalid content type. image_url is only supported by certain models.")}
        if step in errors:
            status, error_text = errors[step]
            self._error(status, error_text, headers)
            return
        if step == "503":
            # Ollama's queue is full (server/sched.go).
            self._error(503, "server busy, please try again.  maximum pending requests exceeded",
                        {**headers, "retry-after": "1"})
            return
        if step.startswith("429"):
            extra = dict(headers)
            if step == "429":
                extra["retry-after"] = "1"
            elif step == "429-date":
                extra["retry-after"] = email.utils.formatdate(time.time() + 1, usegmt=True)
            elif step == "429-headers":
                extra.update({"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "1s"})
            self._error(429, "Rate limit reached", extra)
            return
        if step.startswith("200-error-"):
            code = int(step.rsplit("-", 1)[1])
            self._send(200, {"id": "gen-1", "object": "chat.completion", "choices": [],
                             "error": {"code": code, "message": "Upstream provider failed mid-generation"}},
                       headers)
            return
        lang = call.lang or "en"
        labels = _labels_in(text)
        title, desc, words = _WORDS[lang]
        tags = ([*labels[:2], labels[0].upper(), "not-a-label"] if labels else
                [*words, words[0], f"id-{(call.digest or '')[:6]}"])
        answer = {"tags": tags, "title": f"{title} {(call.digest or '')[:6]}",
                  "description": desc.format(n=len(tags))}
        if step == "english":
            answer = {"tags": ["photo", "scene"], "title": "An image", "description": "An image."}
        content = json.dumps(answer, ensure_ascii=False)
        finish = "stop"
        wrapped = {"fenced": f"```json\n{content}\n```",
                   "prose": f"Here are the tags you asked for:\n{content}\nI hope this helps!",
                   "think": f"<think>The user wants tags. {{\"draft\": true}}</think>\n{content}",
                   "garbage": "I cannot produce JSON today.",
                   "no-title": json.dumps({"tags": tags, "description": "x"})}
        if step in wrapped:
            content = wrapped[step]
        elif step == "truncated":
            content, finish = content[: len(content) // 2], "length"
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if step == "refusal":
            message = {"role": "assistant", "content": None, "refusal": "I can't help with that."}
        prompt_tokens = len(text) // 4 + estimate_image_tokens(call.width, call.height)
        completion_tokens = max(1, len(content or "") // 4)
        self._send(200, {
            "id": "chatcmpl-" + uuid.uuid4().hex[:12], "object": "chat.completion", "created": int(time.time()),
            "model": call.model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        }, headers)


class FakeVisionModel(LoopbackServer):
    """Start with ``with FakeVisionModel(...) as srv:``; ``srv.url`` is the base URL (with ``/v1``).

    ``formats``: the ``response_format`` types honoured (others get a 400);
    ``ignore_format``: accept any and ignore it (Anthropic's compatibility layer);
    ``limit``/``window``: requests allowed per sliding window, announced in headers.
    """

    url_path = "/v1"

    def __init__(self, *, keys: Iterable[str] | None = None, models: Iterable[str] | None = None,
                 formats: Iterable[str] = ("json_schema", "json_object"), ignore_format: bool = False,
                 latency: float | tuple[float, float] = 0.0, limit: int | None = None,
                 window: float = 60.0) -> None:
        lat = (latency, latency) if isinstance(latency, (int, float)) else (float(latency[0]), float(latency[1]))
        state = _State(keys=set(keys) if keys is not None else None,
                       models=set(models) if models is not None else None,
                       formats={"json_schema", "json_object"} if ignore_format else set(formats),
                       ignore_format=ignore_format, latency=lat, limit=limit, window=window)
        super().__init__(state, _Handler)
