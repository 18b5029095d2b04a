"""Title and description in seven languages, composed from an :class:`~.tags.Analysis`.

No captioning model exists offline, so the sentences are templates filled with vocabulary
words. Each language has its own small grammar here (articles and gender for fr/de/es,
counters for zh/ja/ko, the Korean particle that depends on the last syllable) because
"A photo of {x}" translated word for word reads badly everywhere but in English.
Every word that is not in a template comes from the vocabulary in the requested language,
so no English can leak into another language's text.
"""

from __future__ import annotations

from dataclasses import replace

from .tags import Analysis
from .vocab import Vocabulary

VOWEL_SOUND = ("a", "e", "i", "o", "u")
#: English words whose first letter's sound breaks the vowel rule.
_AN_EXCEPTIONS = ("hour", "honest", "heir")
_A_EXCEPTIONS = ("uni", "use", "usu", "eu", "one", "ur")


def _en_article(word: str) -> str:
    w = word.lower()
    vowel = w.startswith(VOWEL_SOUND) and not w.startswith(_A_EXCEPTIONS)
    return ("an " if vowel or w.startswith(_AN_EXCEPTIONS) else "a ") + word


def _fr_article(word: str, gender: str) -> str:
    return ("une " if gender == "f" else "un ") + word


def _fr_de(word: str, gender: str) -> str:
    """« d'un chat », « d'une tasse »."""
    return ("d’une " if gender == "f" else "d’un ") + word


def _de_article(word: str, gender: str, case: str = "nom") -> str:
    table = {"nom": {"m": "ein", "f": "eine", "n": "ein"}, "dat": {"m": "einem", "f": "einer", "n": "einem"}}
    return f"{table[case].get(gender, 'ein')} {word}"


def _es_article(word: str, gender: str) -> str:
    return ("una " if gender == "f" else "un ") + word


def _ko_has_final(word: str) -> bool:
    """Whether the last Hangul syllable ends in a consonant (picks 과/와, 은/는, 이/가)."""
    last = word.strip()[-1:]
    if not last or not ("\uac00" <= last <= "\ud7a3"):
        return False
    return (ord(last) - 0xAC00) % 28 != 0


def _join(items: list[str], lang: str) -> str:
    if not items:
        return ""
    if len(items) == 1:
        return items[0]
    if lang in ("zh", "ja"):
        sep, last = "、", {"zh": "和", "ja": "と"}[lang]
        return sep.join(items[:-1]) + last + items[-1]
    if lang == "ko":
        head = ", ".join(items[:-1])
        prev = items[-2]
        return f"{head}{'과' if _ko_has_final(prev) else '와'} {items[-1]}"
    conj = {"en": "and", "fr": "et", "de": "und", "es": "y"}[lang]
    return ", ".join(items[:-1]) + f" {conj} " + items[-1]


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:] if s else s


class Composer:
    """Builds titles and descriptions in one language from the shared vocabulary."""

    def __init__(self, vocab: Vocabulary, lang: str) -> None:
        self.v = vocab
        self.lang = lang

    # Words ----------------------------------------------------------------------
    def word(self, term: str) -> str:
        return self.v.word(term, self.lang)

    def counted(self, term: str, n: int) -> str:
        """"2 cups" / "a cup" in the language's grammar."""
        lang, v = self.lang, self.v
        w = v.word(term, lang)
        person = term in ("person", "people")
        if lang == "en":
            return _en_article(w) if n == 1 else f"{n} {v.plural(term, lang)}"
        if lang == "fr":
            return _fr_article(w, v.gender(term, lang)) if n == 1 else f"{n} {v.plural(term, lang)}"
        if lang == "de":
            return _de_article(w, v.gender(term, lang)) if n == 1 else f"{n} {v.plural(term, lang)}"
        if lang == "es":
            return _es_article(w, v.gender(term, lang)) if n == 1 else f"{n} {v.plural(term, lang)}"
        if n == 1:
            return w
        counter = _COUNTERS[lang].get("person" if person else v.kind(term), _COUNTERS[lang]["other"])
        if lang == "zh":
            return f"{n}{counter}{w}"
        if lang == "ja":
            # "3人" already says "three people"; other things keep their noun: "猫2匹".
            return f"{n}人" if person else f"{w}{n}{counter}"
        if lang == "ko":
            return f"{w} {n}{counter}"
        raise ValueError(lang)

    # Title ------------------------------------------------------------------------
    def title(self, a: Analysis) -> str:
        lang = self.lang
        if a.subject is None:
            # Found text is the most telling thing about a picture with no known object;
            # then a scene ("Sky"); with nothing recognised the title stays empty rather
            # than calling a drawing or a screen capture a "Photo".
            if a.text:
                return _cap(self.word("text"))
            scene = next((t.term for t in a.tags if t.role in ("scene", "category", "object")
                          and self.v.has(t.term, lang)), None)
            return _cap(self.word(scene)) if scene else ""
        worn = all(self.v.kind(t) == "clothing" for t, _ in a.others)  # a tie does not change the picture
        if a.portrait and worn:
            return {"en": "Portrait of a person", "fr": "Portrait d’une personne", "de": "Porträt einer Person",
                    "es": "Retrato de una persona", "zh": "人物肖像", "ja": "人物のポートレート",
                    "ko": "인물 사진"}[lang]
        if a.subject in ("people", "person") and a.subject_count >= 2:
            n = a.subject_count
            return {"en": f"Group of {n} people", "fr": f"Groupe de {n} personnes", "de": f"Gruppe von {n} Personen",
                    "es": f"Grupo de {n} personas", "zh": f"{n}人合影", "ja": f"{n}人のグループ",
                    "ko": f"{n}명의 사람들"}[lang]
        main = self.word(a.subject) if a.subject_count <= 1 else self.counted(a.subject, a.subject_count)
        if a.others:
            other = self.word(a.others[0][0])
            joined = {"en": f"{main} and {other}", "fr": f"{main} et {other}", "de": f"{main} und {other}",
                      "es": f"{main} y {other}", "zh": f"{main}和{other}", "ja": f"{main}と{other}",
                      "ko": f"{main}{'과' if _ko_has_final(main) else '와'} {other}"}[lang]
            return _cap(joined)
        return _cap(main)

    @staticmethod
    def _photo_key(a: Analysis) -> str:
        return "bw" if a.black_and_white else (a.light or "plain")

    # Description --------------------------------------------------------------------
    def description(self, a: Analysis) -> str:
        """Main subject; other objects with counts; found text (<= 3 sentences).

        With no subject there is no sentence to write honestly: only found text, else "".
        """
        if a.subject is None:
            return self._text_sentence(a.text) if a.text else ""
        sentences = [self._main_sentence(a)]
        others = self._others_sentence(a)
        if others:
            sentences.append(others)
        if a.text:
            sentences.append(self._text_sentence(a.text))
        # No "Dominant color: brown." sentence: descriptions become alt text, where a screen
        # reader would read it aloud for nothing; the look is in the colors column.
        sep = "" if self.lang in ("zh", "ja") else " "
        return sep.join(sentences)

    def _main_sentence(self, a: Analysis) -> str:
        lang = self.lang
        assert a.subject is not None
        if a.subject in NOT_PHOTOS:  # "A screenshot.", not "A photo of a screenshot."
            word = self.word(a.subject)
            return {"zh": f"{word}。", "ja": f"{word}です。", "ko": f"{word}입니다."}.get(
                lang, _cap(self.counted(a.subject, 1)) + ".")
        photo = _PHOTO_PHRASE[lang][self._photo_key(a)]
        n = max(1, a.subject_count)
        term = "person" if a.subject == "people" else a.subject
        thing = self.counted(term, n)
        if lang == "fr" and n == 1:
            return f"{photo} {_fr_de(self.word(term), self.v.gender(term, lang))}."
        if lang == "de" and n == 1:
            thing = _de_article(self.word(term), self.v.gender(term, lang), "dat")
        return _MAIN[lang].format(photo=photo, thing=thing)

    def _others_sentence(self, a: Analysis) -> str:
        items = [self.counted(t, n) for t, n in a.others if self.v.has(t, self.lang)]
        if not items:
            return ""
        listed = _join(items, self.lang)
        es_verb = "aparecen" if len(items) > 1 or a.others[0][1] > 1 else "aparece"  # agrees with the list
        return {"en": f"Also in the picture: {listed}.", "fr": f"On y voit aussi {listed}.",
                "de": f"Außerdem zu sehen: {listed}.", "es": f"También {es_verb} {listed}.",
                "zh": f"画面中还有{listed}。", "ja": f"ほかに{listed}が写っています。",
                "ko": f"그 밖에 {listed}도 보입니다."}[self.lang]

    def _text_sentence(self, text: str) -> str:
        snippet = text if len(text) <= 60 else text[:57].rstrip() + "…"
        return {"en": f"Text in the image reads “{snippet}”.", "fr": f"On peut y lire « {snippet} ».",
                "de": f"Im Bild steht „{snippet}“.", "es": f"Se lee el texto «{snippet}».",
                "zh": f"图中文字：“{snippet}”。", "ja": f"「{snippet}」という文字が写っています。",
                "ko": f"“{snippet}”라는 글자가 보입니다."}[self.lang]


def color_words(a: Analysis, vocab: Vocabulary, lang: str) -> list[str]:
    """The picture's look in ``lang``: dominant colours (or black-and-white), then light."""
    keys = ["black and white"] if a.black_and_white else list(a.colors)
    if a.light:
        keys.append(a.light)
    return [vocab.word(k, lang) for k in keys if lang == "en" or vocab.has(k, lang)]


def compose(a: Analysis, vocab: Vocabulary, lang: str) -> tuple[list[str], list[float], str, str]:
    """Tags (in ``lang``), their scores, title and description."""
    if a.subject is not None and not vocab.has(a.subject, lang):
        a = replace(a, subject=None, subject_count=0)  # never name it in English instead
    c = Composer(vocab, lang)
    tags: list[str] = []
    scores: list[float] = []
    seen: set[str] = set()
    for s in a.tags:
        if not vocab.has(s.term, lang) and lang != "en":
            continue  # an untranslated term is left out rather than shown in English
        word = vocab.word(s.term, lang)
        key = word.lower()
        if key in seen:  # two terms can share a word in some languages ("人" for person and people)
            continue
        seen.add(key)
        tags.append(word)
        scores.append(round(s.score, 3))
    return tags, scores, c.title(a), c.description(a)




#: Counter words (measure words) by kind: zh 只/辆, ja 匹/台, ko 마리/대; the general one otherwise.
_COUNTERS: dict[str, dict[str, str]] = {
    "zh": {"person": "个", "animal": "只", "vehicle": "辆", "other": "个"},
    "ja": {"person": "人", "animal": "匹", "vehicle": "台", "device": "台", "other": "つ"},
    "ko": {"person": "명", "animal": "마리", "vehicle": "대", "device": "대", "other": "개"},
}

#: "A photo", "A dark photo", ... as the start of the first sentence (zh/ja/ko: the noun phrase).
_PHOTO_PHRASE: dict[str, dict[str, str]] = {
    "en": {"plain": "A photo", "dark": "A dark photo", "bright": "A bright photo", "bw": "A black-and-white photo"},
    "fr": {"plain": "Une photo", "dark": "Une photo sombre", "bright": "Une photo lumineuse",
           "bw": "Une photo en noir et blanc"},
    "de": {"plain": "Ein Foto", "dark": "Ein dunkles Foto", "bright": "Ein helles Foto", "bw": "Ein Schwarzweißfoto"},
    "es": {"plain": "Una foto", "dark": "Una foto oscura", "bright": "Una foto luminosa",
           "bw": "Una foto en blanco y negro"},
    "zh": {"plain": "照片", "dark": "昏暗照片", "bright": "明亮照片", "bw": "黑白照片"},
    "ja": {"plain": "写真", "dark": "暗い写真", "bright": "明るい写真", "bw": "白黒写真"},
    "ko": {"plain": "사진", "dark": "어두운 사진", "bright": "밝은 사진", "bw": "흑백 사진"},
}
#: Subjects that are not photographs of something.
NOT_PHOTOS = frozenset({"screenshot", "illustration"})
_MAIN: dict[str, str] = {
    "en": "{photo} of {thing}.",
    "fr": "{photo} de {thing}.",
    "de": "{photo} von {thing}.",
    "es": "{photo} de {thing}.",
    "zh": "一张{thing}的{photo}。",
    "ja": "{thing}の{photo}です。",
    "ko": "{thing}의 {photo}입니다.",
}
