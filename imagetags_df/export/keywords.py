"""Hierarchical keywords for photo managers: ``animal|pet|dog`` rather than three flat words.

Lightroom reads ``lr:hierarchicalSubject`` (a Bag of ``Parent|Child`` paths) and
digiKam (and Immich) ``digiKam:TagsList`` (a Seq of ``Parent/Child`` paths). The
offline tagger knows which of its terms are broader than which: each of its model
classes names a specific term and broader ones. A term is placed under another when
every class that uses it also uses the other, and the other is used by more classes
(so it is the broader one); "dog" sits under "pet" and "animal", and "pet" under
"animal". Other backends' tags, and words the vocabulary does not know, stay flat.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

#: The separators of the two fields; a term that contains one would split in two.
LIGHTROOM_SEPARATOR, DIGIKAM_SEPARATOR = "|", "/"
#: Backends whose tags are the offline tagger's vocabulary.
VOCABULARY_BACKENDS = ("local",)


@functools.lru_cache(maxsize=1)
def _ancestors() -> dict[str, tuple[str, ...]]:
    """Every vocabulary term -> its broader terms, broadest first."""
    from ..backends.local.vocab import get_vocabulary

    vocab = get_vocabulary()
    chains = [(info.tag, *info.broader) for info in (*vocab.coco, *vocab.imagenet) if info is not None]
    uses: dict[str, int] = {}
    containing: dict[str, list[tuple[str, ...]]] = {}
    for chain in chains:
        for term in dict.fromkeys(chain):
            uses[term] = uses.get(term, 0) + 1
            containing.setdefault(term, []).append(chain)
    out: dict[str, tuple[str, ...]] = {}
    for term, found in containing.items():
        seen: dict[str, int] = {}
        for chain in found:
            for b in set(chain) - {term}:
                seen[b] = seen.get(b, 0) + 1
        # Most, not all: a parrot is a pet without the vocabulary calling it an animal there.
        common = [b for b, n in seen.items() if 2 * n > len(found)]
        def later(b: str, found: list[tuple[str, ...]] = found, term: str = term) -> int:
            # Chains list narrower terms first: how far after the term b comes, where both are.
            chain = next(c for c in found if b in c)
            return chain.index(b) - chain.index(term)

        broader = [b for b in common if uses[b] > uses[term] or (uses[b] == uses[term] and later(b) > 0)]
        out[term] = tuple(sorted(broader, key=lambda b: (-uses[b], -later(b))))
    # A parrot's chain says "bird" but not "animal"; the bird's own chains do.
    closed: dict[str, tuple[str, ...]] = {}
    for term, direct in out.items():
        found_all, todo = list(direct), list(direct)
        while todo:
            for b in out.get(todo.pop(), ()):
                if b not in found_all and b != term:
                    found_all.append(b)
                    todo.append(b)
        closed[term] = tuple(sorted(found_all, key=lambda b: -uses[b]))
    return closed


def _clean(term: str) -> str:
    return term.replace(LIGHTROOM_SEPARATOR, "-").replace(DIGIKAM_SEPARATOR, "-").strip()


def keyword_paths(tags: Sequence[str], lang: str = "en", backend: str | None = "local") -> list[tuple[str, ...]]:
    """Each tag as a path from its broadest term down to it, in the tags' language.

    A tag that is already on the path of another tag of the image is not repeated
    alone (``animal`` when ``animal|pet|dog`` is there).

    >>> keyword_paths(["golden retriever", "dog", "pet", "animal", "grass"])
    [('animal', 'pet', 'dog', 'golden retriever'), ('grass',)]
    >>> keyword_paths(["Hund", "Haustier", "Tier"], lang="de")
    [('Tier', 'Haustier', 'Hund')]
    >>> keyword_paths(["dog", "beach"], backend="openai")
    [('dog',), ('beach',)]
    """
    words = [t for t in dict.fromkeys(str(t).strip() for t in tags) if t]
    paths: list[tuple[str, ...]] = []
    vocab: Any = None
    if (backend or "").split(":")[0] in VOCABULARY_BACKENDS:
        from ..backends.local.vocab import get_vocabulary

        vocab = get_vocabulary()
    ancestors = _ancestors() if vocab is not None else {}
    for word in words:
        key = vocab.lookup(word, lang) if vocab is not None else None
        if key is None:
            paths.append((_clean(word),))
            continue
        above = [vocab.word(b, lang) for b in ancestors.get(key, ()) if lang == "en" or vocab.has(b, lang)]
        paths.append(tuple(_clean(w) for w in (*above, word)))
    unique = list(dict.fromkeys(paths))
    return [p for p in unique if not any(len(q) > len(p) and p[-1] in q[:-1] for q in unique)]


def lightroom_keywords(paths: Sequence[Sequence[str]]) -> list[str]:
    """``lr:hierarchicalSubject`` values.

    >>> lightroom_keywords([("animal", "dog")])
    ['animal|dog']
    """
    return [LIGHTROOM_SEPARATOR.join(p) for p in paths]


def digikam_keywords(paths: Sequence[Sequence[str]]) -> list[str]:
    """``digiKam:TagsList`` values.

    >>> digikam_keywords([("animal", "dog")])
    ['animal/dog']
    """
    return [DIGIKAM_SEPARATOR.join(p) for p in paths]
