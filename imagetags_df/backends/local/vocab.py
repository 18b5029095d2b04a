"""The tagger's vocabulary: model classes mapped to clean terms, and every term in 7 languages.

The JSON files in ``vocab/`` share one schema (``{"classes": {...}, "terms": {...}}``):

* ``classes`` maps a model class index to ``{"name", "tag", "broader": [...], "kind"}``:
  the clean specific term, more general terms (general → e.g. ``["cat", "animal", "pet"]``)
  and a coarse kind (animal, food, vehicle, ...). COCO classes may also carry ``indoor``.
* ``terms`` maps an English term key to its word in each language, grammatical gender
  (``g``), plurals (``pl``) and, for colours and light words, adjective forms (``adj``).

Files are merged in a fixed order and the first definition of a term wins, so the curated
attribute words are never overridden by a class file. ``overrides.json`` (next to this
module) then corrects a few classes' broader terms where real photos showed a need (a
moped is a motorcycle; ImageNet's "missile" fires on space launches, so it must not imply
"weapon"); each entry says why.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

VOCAB_DIR = Path(__file__).resolve().parent / "vocab"
OVERRIDES_FILE = Path(__file__).resolve().parent / "overrides.json"
#: Load order; the first definition of a term wins.
TERM_FILES = ("attributes.json", "coco.json", "imagenet_0000_0499.json", "imagenet_0500_0999.json")
IMAGENET_FILES = ("imagenet_0000_0499.json", "imagenet_0500_0999.json")
COCO_FILE = "coco.json"
N_IMAGENET = 1000
N_COCO = 80


@dataclass(frozen=True)
class ClassInfo:
    tag: str
    broader: tuple[str, ...]
    kind: str
    indoor: bool | None = None


@dataclass
class Vocabulary:
    imagenet: list[ClassInfo | None]
    coco: list[ClassInfo | None]
    terms: dict[str, dict[str, Any]]
    digest: str
    missing: list[str] = field(default_factory=list)  # files not found (reported, not fatal)
    _kinds: dict[str, str] | None = field(default=None, repr=False)
    _words: dict[str, dict[str, str]] = field(default_factory=dict, repr=False)

    def word(self, key: str, lang: str) -> str:
        """The term in ``lang``; the key itself only for English (never leak English)."""
        entry = self.terms.get(key)
        if entry and entry.get(lang):
            return str(entry[lang])
        if lang == "en":
            return key
        raise KeyError(f"term {key!r} has no {lang} translation")

    def lookup(self, word: str, lang: str) -> str | None:
        """The term key whose word (or plural) in ``lang`` is ``word``, compared case-insensitively."""
        return self.words(lang).get(" ".join(word.split()).casefold())

    def words(self, lang: str) -> dict[str, str]:
        """Every term the tagger can say in ``lang`` (singular and plural, case-folded) -> its key."""
        cached = self._words.get(lang)
        if cached is None:
            cached = {}
            for key in self.terms:
                if lang == "en" or self.has(key, lang):
                    for form in (self.word(key, lang), self.plural(key, lang)):
                        cached.setdefault(" ".join(form.split()).casefold(), key)
            self._words[lang] = cached
        return cached

    def has(self, key: str, lang: str) -> bool:
        entry = self.terms.get(key)
        return bool(entry and entry.get(lang))

    def plural(self, key: str, lang: str) -> str:
        """Plural form where the language has one in the data; CJK words do not inflect."""
        entry = self.terms.get(key) or {}
        pl = (entry.get("pl") or {}).get(lang)
        if pl:
            return str(pl)
        word = self.word(key, lang)
        if lang == "en":
            return word + ("es" if word.endswith(("s", "x", "ch", "sh")) else "s")
        if lang in ("fr", "es"):
            return word if word.endswith(("s", "x", "z")) else word + "s"
        return word

    def kind(self, key: str) -> str:
        """Coarse kind of a term (animal, vehicle, ...) from the classes that use it."""
        if self._kinds is None:
            kinds: dict[str, str] = {}
            for info in (*self.coco, *self.imagenet):
                if info is not None:
                    kinds.setdefault(info.tag, info.kind)
            for info in (*self.coco, *self.imagenet):
                if info is not None:
                    for b in info.broader:
                        kinds.setdefault(b, info.kind)
            self._kinds = kinds
        return self._kinds.get(key, "other")

    def gender(self, key: str, lang: str) -> str:
        """Grammatical gender (fr/es: m|f, de: m|f|n); masculine/neuter when unknown."""
        entry = self.terms.get(key) or {}
        return str((entry.get("g") or {}).get(lang) or ("n" if lang == "de" else "m"))

    def adjective(self, key: str, lang: str, gender: str = "m", plural: bool = False) -> str:
        """Adjective form of a colour or light term, agreeing where the data says how."""
        entry = self.terms.get(key) or {}
        forms = (entry.get("adj") or {}).get(lang) or {}
        if lang in ("fr", "es") and forms:
            return str(forms.get(gender + ("pl" if plural else "")) or forms.get(gender) or forms.get("m"))
        if lang == "de" and forms.get("base"):
            return str(forms["base"])
        return self.word(key, lang)


def _load_json(path: Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    if not isinstance(data, dict):
        raise ValueError(f"{path.name}: expected a JSON object")
    return data


def _class_info(raw: dict[str, Any]) -> ClassInfo:
    return ClassInfo(tag=str(raw["tag"]).lower(), broader=tuple(str(b).lower() for b in raw.get("broader", [])),
                     kind=str(raw.get("kind", "other")), indoor=raw.get("indoor"))


def load_vocabulary(vocab_dir: Path = VOCAB_DIR, overrides: Path | None = OVERRIDES_FILE) -> Vocabulary:
    """Merge the vocabulary files (see module docstring). Missing class files leave gaps."""
    h = hashlib.sha256()
    terms: dict[str, dict[str, Any]] = {}
    imagenet: list[ClassInfo | None] = [None] * N_IMAGENET
    coco: list[ClassInfo | None] = [None] * N_COCO
    missing: list[str] = []
    for name in TERM_FILES:
        path = vocab_dir / name
        if not path.exists():
            missing.append(name)
            continue
        blob = path.read_bytes()
        h.update(name.encode() + b"\0" + blob)
        data = json.loads(blob.decode("utf-8"))
        for key, entry in (data.get("terms") or {}).items():
            terms.setdefault(str(key).lower(), entry)
        target = coco if name == COCO_FILE else imagenet if name in IMAGENET_FILES else None
        if target is None:
            continue
        for idx, raw in (data.get("classes") or {}).items():
            i = int(idx)
            if 0 <= i < len(target) and target[i] is None:
                target[i] = _class_info(raw)
    if overrides is not None and overrides.exists():
        blob = overrides.read_bytes()
        h.update(b"overrides\0" + blob)
        _apply_overrides(json.loads(blob.decode("utf-8")), imagenet, coco, terms)
    return Vocabulary(imagenet=imagenet, coco=coco, terms=terms, digest=h.hexdigest()[:12], missing=missing)


def _apply_overrides(data: dict[str, Any], imagenet: list[ClassInfo | None],
                     coco: list[ClassInfo | None], terms: dict[str, dict[str, Any]]) -> None:
    for table_name, table in (("imagenet", imagenet), ("coco", coco)):
        for idx, extra in (data.get(table_name) or {}).items():
            info = table[int(idx)]
            if info is None:
                continue
            if "broader" in extra:  # the whole chain, narrowest first, where order matters
                broader = tuple(extra["broader"])
            else:
                removed = set(extra.get("remove_broader", []))
                added = tuple(b for b in extra.get("add_broader", []) if b not in info.broader and b != info.tag)
                broader = tuple(b for b in added + info.broader if b not in removed)
            # "tag" renames what a class is called where its ImageNet name misleads
            # ("web site" holds screen captures of any program).
            table[int(idx)] = ClassInfo(str(extra.get("tag", info.tag)), broader, str(extra.get("kind", info.kind)),
                                        info.indoor)
    for key, entry in (data.get("terms") or {}).items():
        terms.setdefault(key, entry)
    for key, entry in (data.get("replace_terms") or {}).items():
        terms[key] = {k: v for k, v in entry.items() if k != "why"}


_lock = threading.Lock()
_vocab: Vocabulary | None = None


def get_vocabulary() -> Vocabulary:
    """The process-wide merged vocabulary (loaded on first use, thread-safe)."""
    global _vocab
    if _vocab is None:
        with _lock:
            if _vocab is None:
                _vocab = load_vocabulary()
    return _vocab
