"""The vocabulary's hierarchy: which terms are broader than which, each term's broader term
and siblings, how many classes a term covers, and the order that lists a specific term
before the broader ones it implies."""

from __future__ import annotations

from collections import defaultdict

from .vocab import Vocabulary, get_vocabulary  # noqa: F401  (get_vocabulary: the doctest)

_breadth_index: dict[str, dict[str, int]] = {}


def term_classes(vocab: Vocabulary) -> dict[str, int]:
    """How many classes a term covers: the fewer, the more specific (better as a subject)."""
    counts = _breadth_index.get(vocab.digest)
    if counts is None:
        counts = defaultdict(int)
        for info in (*vocab.imagenet, *vocab.coco):
            if info is not None:
                for term in dict.fromkeys((info.tag, *info.broader)):
                    counts[term] += 1
        _breadth_index[vocab.digest] = counts
    return counts




_classifier_index: dict[str, frozenset[str]] = {}


def classifier_terms(vocab: Vocabulary) -> frozenset[str]:
    """Every term some ImageNet class carries (its tag or a broader term)."""
    got = _classifier_index.get(vocab.digest)
    if got is None:
        got = _classifier_index[vocab.digest] = frozenset(
            t for info in vocab.imagenet if info is not None for t in (info.tag, *info.broader))
    return got


_family_index: dict[str, tuple[dict[str, str], dict[str, set[str]]]] = {}


def family(vocab: Vocabulary) -> tuple[dict[str, str], dict[str, set[str]]]:
    """Each term's broader term (the next one up its classes' chains, leaving out "pet",
    which is a side of an animal, not a kind) and each term's narrower terms."""
    got = _family_index.get(vocab.digest)
    if got is None:
        votes: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for info in vocab.imagenet:
            if info is not None:
                chain = [t for t in dict.fromkeys((info.tag, *info.broader)) if t != "pet"]
                for narrow, broad in zip(chain, chain[1:]):
                    votes[narrow][broad] += 1
        parents = {t: max(v, key=lambda b: v[b]) for t, v in votes.items()}
        children: dict[str, set[str]] = defaultdict(set)
        for t, b in parents.items():
            children[b].add(t)
        got = _family_index[vocab.digest] = (parents, children)
    return got


def specific_first(by_score: list[str], vocab: Vocabulary) -> list[str]:
    """Terms in the order given (by score), but every term after the narrower ones it is a
    broader term of: "cheetah, big cat, mammal, animal", not "animal, mammal, big cat,
    cheetah".

    >>> specific_first(["animal", "mammal", "big cat", "cheetah"], get_vocabulary())
    ['cheetah', 'big cat', 'mammal', 'animal']
    """
    out: list[str] = []
    seen: set[str] = set()

    def emit(term: str) -> None:
        if term in seen:
            return
        seen.add(term)
        for narrower in by_score:
            if narrower not in seen and term in broader_of(narrower, vocab):
                emit(narrower)
        out.append(term)

    for term in by_score:
        emit(term)
    return out


_broader_index: dict[str, dict[str, set[str]]] = {}


def broader_of(term: str | None, vocab: Vocabulary) -> set[str]:
    """Every broader term any class with this tag has (empty for unknown terms)."""
    if term is None:
        return set()
    index = _broader_index.get(vocab.digest)
    if index is None:
        index = defaultdict(set)
        for info in (*vocab.imagenet, *vocab.coco):
            if info is not None:
                index[info.tag].update(info.broader)
                for i, b in enumerate(info.broader):
                    index[b].update(info.broader[i + 1:])
        _broader_index[vocab.digest] = index
    return set(index.get(term, set()))


def is_animal_term(term: str, vocab: Vocabulary) -> bool:
    return "animal" in broader_of(term, vocab) or term == "animal"


__all__ = ["broader_of", "classifier_terms", "family", "is_animal_term", "specific_first", "term_classes"]
