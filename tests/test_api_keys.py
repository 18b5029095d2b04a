"""API keys as users really supply them: read from files, from the environment, mistyped."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import API_KEY

import imagetags_df
from imagetags_df import ConfigurationError, ImageDescriberClient


def _run(df, api, cache_dir, **kw):
    opts = dict(base_url=api.url, cache_dir=cache_dir, rate_limit="600/min", progress=False, max_retries=0)
    opts.update(kw)
    return df.imagetags.generate(**opts)


@pytest.mark.parametrize("padded", [API_KEY + "\n", f"  {API_KEY}\r\n", f"\t{API_KEY} "])
def test_key_read_from_a_file_is_stripped(photos, api, cache_dir, padded, tmp_path):
    keyfile = tmp_path / "key.txt"
    keyfile.write_text(padded)
    df = pd.DataFrame({"path": [str(photos[0])]})
    out = _run(df, api, cache_dir, backend="imagedescriber", api_key=open(keyfile).read())
    assert out.error.isna().all(), out.error[0]
    assert [c.key for c in api.calls] == [API_KEY]
    with ImageDescriberClient(api_key=padded, base_url=api.url, max_retries=0) as client:
        assert client.generate_tags(str(photos[1])).tags


def test_key_from_the_environment_is_stripped(photos, api, cache_dir, monkeypatch):
    monkeypatch.setenv("IMAGEDESCRIBER_API_KEY", API_KEY + "\n")
    out = _run(pd.DataFrame({"path": [str(photos[0])]}), api, cache_dir)  # backend="auto"
    assert out.error.isna().all() and out.backend[0] == "imagedescriber"
    assert api.count("ok") == 1


@pytest.mark.parametrize("bad, words", [
    ("", "is empty"),
    (" \n", "is empty"),
    ("sk-test 0123", "a space or tab at character 8"),
    ("sk-te\x1bst", "a control character at character 6"),
    ("sk-tést-123", "a non-ASCII character at character 5"),
    ("sk-\u200btest", "a non-ASCII character at character 4"),
])
def test_unusable_keys_are_refused_before_any_call(photos, api, cache_dir, monkeypatch, bad, words):
    df = pd.DataFrame({"path": [str(photos[0])]})
    with pytest.raises(ConfigurationError, match=words) as info:
        _run(df, api, cache_dir, backend="imagedescriber", api_key=bad)
    assert "the api_key argument" in str(info.value)
    if bad.strip():
        assert bad.strip() not in str(info.value)
    monkeypatch.setenv("IMAGEDESCRIBER_API_KEY", bad)
    with pytest.raises(ConfigurationError, match=words) as info:
        _run(df, api, cache_dir)  # backend="auto" picks the server, then refuses the key
    assert "$IMAGEDESCRIBER_API_KEY" in str(info.value)
    with pytest.raises(ConfigurationError, match=words):
        ImageDescriberClient(base_url=api.url)
    assert api.count() == 0


def test_auto_with_base_url_but_no_key_is_the_missing_key_error(photos, api, cache_dir):
    df = pd.DataFrame({"path": [str(photos[0])]})
    with pytest.raises(ConfigurationError, match="IMAGEDESCRIBER_API_KEY") as info:
        _run(df, api, cache_dir)  # backend="auto", base_url=api.url, no key anywhere
    assert api.url in str(info.value)
    with pytest.raises(ConfigurationError, match="IMAGEDESCRIBER_API_KEY"):
        imagetags_df.resolve_backend("auto", base_url=api.url)
    assert imagetags_df.resolve_backend("auto").name == "local"  # no URL, no key: offline, as before
    assert api.count() == 0
