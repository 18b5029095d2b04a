"""``labels=`` on the offline tagger: only terms its vocabulary knows, in the run's language."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import imagetags_df
from imagetags_df import ConfigurationError

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"


def test_labels_restrict_the_tagger_in_the_runs_language(cache_dir):
    df = pd.DataFrame({"path": [str(SAMPLES / "chelsea_cat.jpg"), str(SAMPLES / "motorcycle.jpg")]})
    free = imagetags_df.generate(df, backend="local", lang="de", cache_dir=cache_dir, progress=False)
    assert "Katze" in free.tags[0] and len(free.tags[0]) > 2
    out = imagetags_df.generate(df, backend="local", lang="de", labels=["KATZE", "Hund", "Motorrad"],
                                cache_dir=cache_dir, progress=False)
    assert out.ok.all()
    assert out.tags[0] == ["KATZE"]  # the label's own spelling; "Tier", colours... dropped
    assert out.tags[1] == ["Motorrad"]
    # One shape with learned_scores: a dict tag -> score, in tag order.
    assert [list(s) for s in out.tag_scores] == [["KATZE"], ["Motorrad"]]
    assert all(0 < v <= 1 for s in out.tag_scores for v in s.values())
    assert not out.cached.any()  # a label set is its own cache entry


def test_unknown_labels_are_refused_with_the_nearest_terms():
    df = pd.DataFrame({"path": [str(SAMPLES / "chelsea_cat.jpg")]})
    with pytest.raises(ConfigurationError) as info:
        imagetags_df.generate(df, backend="local", lang="en", labels=["cat", "scratch-dent", "motorcyle"],
                              cache_dir=False, progress=False)
    message = str(info.value)
    assert "'motorcyle' (nearest: motorcycle" in message and "'scratch-dent'" in message
    assert "'cat'" not in message


def test_labels_in_another_language_are_looked_up_in_the_runs_language():
    df = pd.DataFrame({"path": [str(SAMPLES / "chelsea_cat.jpg")]})
    with pytest.raises(ConfigurationError, match="'cat'"):
        imagetags_df.generate(df, backend="local", lang="fr", labels=["cat"], cache_dir=False, progress=False)
