"""What we ask a vision-language model, and how we read what it answers.

Pure functions, no HTTP: the prompt, the JSON schema sent as ``response_format``,
and a tolerant parser. Models wrap JSON in code fences, prose or ``<think>``
blocks, cut it off at the token limit, or answer in the wrong language; some
servers ignore ``response_format`` without a word. The parser accepts every
answer that holds the three fields with the right types and says precisely what
was wrong otherwise, so the one re-ask can tell the model.

Bump :data:`PROMPT_VERSION` whenever the wording or the parsing changes what an
image gets: it is part of the cache identity.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

PROMPT_VERSION = 1
MAX_TAGS = 15

#: Each language named in English and in itself: models follow the native name better.
LANGUAGE_NAMES: dict[str, str] = {
    "en": "English",
    "zh": "Simplified Chinese (简体中文)",
    "fr": "French (français)",
    "de": "German (Deutsch)",
    "es": "Spanish (español)",
    "ja": "Japanese (日本語)",
    "ko": "Korean (한국어)",
}

# OpenAI's structured outputs cap enums at 1000 values across a schema, and a single
# enum of more than 250 values at 15,000 characters; larger sets go in the prompt only.
ENUM_MAX_VALUES = 1000
ENUM_MAX_SMALL = 250
ENUM_MAX_CHARS = 15_000

SYSTEM_PROMPT = ("You label images for a searchable photo collection. You answer with one JSON "
                 "object and nothing else.")


class OutputProblem(ValueError):
    """The model's text is not a usable answer; the message says why, for the re-ask."""


@dataclass(frozen=True)
class Answer:
    tags: list[str]
    title: str
    description: str


# --------------------------------------------------------------------------- labels
def normalise(text: str) -> str:
    """Unicode NFKC, whitespace collapsed, trimmed (the form tags are compared in)."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


def label_key(text: str) -> str:
    """Case-insensitive comparison key of a tag or label."""
    return normalise(text).casefold()


def clean_labels(labels: Sequence[str]) -> list[str]:
    """The label set as given, normalised, empty entries and duplicates dropped.

    >>> clean_labels([" Dent ", "dent", "no  defect", ""])
    ['Dent', 'no defect']
    """
    out: dict[str, str] = {}
    for raw in labels:
        if not isinstance(raw, str):
            raise TypeError(f"labels must be strings, got {type(raw).__name__} {raw!r}")
        label = normalise(raw)
        if label and label_key(label) not in out:
            out[label_key(label)] = label
    return list(out.values())


def labels_fit_enum(labels: Sequence[str]) -> bool:
    """True when the label set is small enough to constrain the schema with an enum."""
    if len(labels) > ENUM_MAX_VALUES:
        return False
    return len(labels) <= ENUM_MAX_SMALL or sum(len(x) for x in labels) <= ENUM_MAX_CHARS


# --------------------------------------------------------------------------- request
def response_schema(labels: Sequence[str] | None = None) -> dict[str, Any]:
    """The JSON schema of an answer; tags restricted to ``labels`` when they fit an enum.

    Written to satisfy OpenAI's strict mode (every property required, no extra
    properties, no length keywords), which every other server also accepts.
    """
    item: dict[str, Any] = {"type": "string"}
    if labels and labels_fit_enum(labels):
        item["enum"] = list(labels)
    return {
        "type": "object",
        "properties": {
            "tags": {"type": "array", "items": item},
            "title": {"type": "string"},
            "description": {"type": "string"},
        },
        "required": ["tags", "title", "description"],
        "additionalProperties": False,
    }


def response_format(mode: str, labels: Sequence[str] | None = None) -> dict[str, Any] | None:
    """``response_format`` for ``mode`` ``"json_schema"``, ``"json_object"`` or ``"prompt"`` (none)."""
    if mode == "json_schema":
        return {"type": "json_schema",
                "json_schema": {"name": "image_tags", "strict": True, "schema": response_schema(labels)}}
    if mode == "json_object":
        return {"type": "json_object"}
    return None


def prompt_text(lang: str, labels: Sequence[str] | None = None, instructions: str | None = None) -> str:
    """The user message's text part."""
    language = LANGUAGE_NAMES[lang]
    lines = [f"Describe this image for a photo library, in {language}.",
             'Answer with only this JSON object: {"tags": [...], "title": "...", "description": "..."}']
    if labels:
        lines.append("- tags: every label from the list below that applies to the image, copied exactly "
                     "as written. Use no other words. If none applies, give an empty list.")
        lines.append("  Labels: " + json.dumps(list(labels), ensure_ascii=False))
    else:
        lines.append(f"- tags: 5 to {MAX_TAGS} short keywords (nouns or short noun phrases) for what is "
                     "visible: objects, people, animals, setting, colours, style. No duplicates.")
    lines.append("- title: a short title, at most 8 words.")
    lines.append("- description: 1 to 3 sentences about what the image shows.")
    what = "the title and the description" if labels else "the tags, the title and the description"
    lines.append(f"Write {what} in {language}.")
    if instructions:
        lines.append("Context from the user: " + instructions.strip())
    return "\n".join(lines)


def build_messages(image_url: str, lang: str, labels: Sequence[str] | None = None,
                   instructions: str | None = None, *, previous: str | None = None,
                   problem: str | None = None) -> list[dict[str, Any]]:
    """Chat messages for one image. With ``previous``/``problem``, the re-ask after a bad answer.

    The image travels only as a base64 data URI in an ``image_url`` part: Ollama
    refuses http(s) URLs, and every server takes the data URI.
    """
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": [
            {"type": "text", "text": prompt_text(lang, labels, instructions)},
            {"type": "image_url", "image_url": {"url": image_url}},
        ]},
    ]
    if problem is not None:
        # The bad answer is echoed (shortened) so the model sees what to fix.
        messages.append({"role": "assistant", "content": (previous or "")[:2000]})
        messages.append({"role": "user", "content":
                         f"That answer could not be used: {problem}. Answer again with only the JSON "
                         f"object, written in {LANGUAGE_NAMES[lang]}."})
    return messages


# --------------------------------------------------------------------------- parsing
_THINK_TAG = re.compile(r"<(/?)(think|thinking|reasoning)>", re.IGNORECASE)
_FENCE = re.compile(r"```[ \t]*(?:json|JSON)?[ \t]*\n?(.*?)```", re.DOTALL)

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KANA = re.compile(r"[\u3040-\u309f\u30a0-\u30ff\u31f0-\u31ff\uff66-\uff9f]")
_HANGUL = re.compile(r"[\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]")
#: Scripts an answer must show for languages whose script can be checked.
SCRIPT_CHECKS: dict[str, tuple[re.Pattern[str], str]] = {
    "zh": (_HAN, "Chinese characters"),
    "ja": (re.compile(f"{_HAN.pattern}|{_KANA.pattern}"), "Japanese kana or kanji"),
    "ko": (_HANGUL, "Hangul"),
}


def strip_reasoning(text: str) -> str:
    """Drop ``<think>`` blocks; text after a lone closing tag (templates that open it for the model).

    One pass over the tags, so time grows with the text's length even for thousands of
    unclosed ``<think>`` (a pattern that searched for each one's end would not).

    >>> strip_reasoning("<think>hmm</think> {} <think>more</think>"), strip_reasoning("plan</think>{}")
    ('{}', '{}')
    """
    kept: list[str] = []
    pos = 0
    inside: str | None = None  # the name of the open block, if any
    for tag in _THINK_TAG.finditer(text):
        name, closing = tag.group(2).lower(), tag.group(1) == "/"
        if inside is None and closing:  # a lone close: everything before it was reasoning
            kept, pos = [], tag.end()
        elif inside is None:
            kept.append(text[pos:tag.start()])
            inside = name
        elif closing and name == inside:
            inside, pos = None, tag.end()
    if inside is None:  # else reasoning that never closed: the answer never came
        kept.append(text[pos:])
    return "".join(kept).strip()


def extract_object(text: str) -> dict[str, Any]:
    """The JSON object in ``text``: whole, in a code fence, or inside prose."""
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    decoder = json.JSONDecoder()
    for candidate in candidates:
        candidate = candidate.strip()
        try:
            value = json.loads(candidate)
            if isinstance(value, dict):
                return value
        except (ValueError, RecursionError):  # RecursionError: nesting deeper than Python's stack
            pass
        for start in [i for i, ch in enumerate(candidate) if ch == "{"][:50]:
            try:
                value, _ = decoder.raw_decode(candidate, start)
            except (ValueError, RecursionError):
                continue
            if isinstance(value, dict):
                return value
    if "{" in text and text.count("{") > text.count("}"):
        raise OutputProblem("the JSON object was cut off before its end")
    raise OutputProblem("it contained no JSON object")


def _as_tag_list(value: Any) -> list[str]:
    if isinstance(value, str):  # "a, b, c": a common slip, unambiguous enough to accept
        value = [part for part in re.split(r"[,，、;]", value)]
    if not isinstance(value, list):
        raise OutputProblem(f'"tags" must be a list of strings, not {type(value).__name__}')
    out = []
    for item in value:
        if not isinstance(item, (str, int, float)) or isinstance(item, bool):
            raise OutputProblem('"tags" must be a list of strings')
        out.append(str(item))
    return out


def select_tags(raw: Sequence[str], labels: Sequence[str] | None = None) -> list[str]:
    """Normalised, deduplicated (case-insensitively) tags, at most 15; with ``labels``,
    only members of the set, in the set's own spelling. Nothing is ever invented.

    >>> select_tags(["Dent", "dent ", "rust"], ["dent", "scratch"])
    ['dent']
    """
    allowed = {label_key(x): x for x in labels} if labels else None
    seen: set[str] = set()
    out: list[str] = []
    for tag in raw:
        key = label_key(tag)
        if not key or key in seen:
            continue
        if allowed is not None:
            if key not in allowed:
                continue
            tag = allowed[key]
        seen.add(key)
        out.append(normalise(tag))
        if len(out) >= MAX_TAGS:
            break
    return out


def check_language(answer: Answer, lang: str, *, tags_too: bool) -> None:
    """Raise OutputProblem when a zh/ja/ko answer shows none of the language's script."""
    check = SCRIPT_CHECKS.get(lang)
    if check is None:
        return
    pattern, script = check
    text = " ".join([answer.title, answer.description, *(answer.tags if tags_too else [])])
    if text.strip() and not pattern.search(text):
        raise OutputProblem(f"it was not written in {LANGUAGE_NAMES[lang]} (no {script})")


def parse_answer(text: str | None, lang: str, labels: Sequence[str] | None = None, *,
                 truncated: bool = False) -> Answer:
    """Read a model's answer, or raise OutputProblem saying what was wrong.

    >>> parse_answer('Sure! ```json\\n{"tags": ["Cat", "cat"], "title": "A cat", "description": "A cat."}\\n```',
    ...              "en").tags
    ['Cat']
    """
    if text is None or not text.strip():
        raise OutputProblem("it was empty")
    body = strip_reasoning(text)
    if not body:
        raise OutputProblem("it held only reasoning and no answer")
    try:
        obj = extract_object(body)
    except OutputProblem:
        if truncated:
            raise OutputProblem("it was cut off at the token limit; answer more briefly") from None
        raise
    missing = [k for k in ("tags", "title", "description") if k not in obj]
    if missing:
        raise OutputProblem("the JSON object had no " + " and no ".join(f'"{k}"' for k in missing))
    tags = _as_tag_list(obj["tags"])
    for key in ("title", "description"):
        if not isinstance(obj[key], str):
            raise OutputProblem(f'"{key}" must be a string, not {type(obj[key]).__name__}')
    answer = Answer(tags=select_tags(tags, labels), title=normalise(obj["title"]),
                    description=" ".join(obj["description"].split()))
    if not labels and not answer.tags:
        raise OutputProblem('"tags" was empty')
    check_language(answer, lang, tags_too=not labels)
    return answer
