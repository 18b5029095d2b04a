"""The project's contracts with its users: README commands, CI, the public API."""

from __future__ import annotations

import re
from pathlib import Path

import imagetags_df

ROOT = Path(__file__).resolve().parent.parent


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```bash\n(.+?)\n```", text, flags=re.S)[:2]


def test_readme_opens_with_two_commands_and_ci_runs_the_second():
    install_run, install_test = _readme_commands()
    assert "imagetags tag data/samples" in install_run and "pip install" in install_run
    assert "pytest" in install_test and "pip install" in install_test
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert install_test in ci.splitlines(), ".ci/run must run the README's test command verbatim"


def test_public_api_is_pinned():
    # Others rely on these names; changing them is a breaking change.
    expected = {"generate", "estimate", "ImageDescriberClient", "AsyncImageDescriberClient", "TagResult",
                "Backend", "RateLimit", "Estimate", "APIError", "AuthenticationError", "ImageError",
                "ImageTagsError", "RESULT_COLUMNS", "LANGUAGES", "LabelModel",
                "from_label_studio"}
    assert expected <= set(imagetags_df.__all__)
    for name in imagetags_df.__all__:
        assert hasattr(imagetags_df, name), name
    assert imagetags_df.RESULT_COLUMNS == ("tags", "tag_scores", "title", "description", "confidence", "colors",
                                           "orientation", "ok", "error_code", "error", "request_id", "credits_used",
                                           "cached", "backend", "input_tokens", "output_tokens", "sha256")


def test_exception_tree_has_one_root():
    for name in imagetags_df.__all__:
        obj = getattr(imagetags_df, name)
        if isinstance(obj, type) and issubclass(obj, BaseException):
            assert issubclass(obj, imagetags_df.ImageTagsError), name


def test_docstring_examples_run():
    import doctest

    from imagetags_df import images
    from imagetags_df.export import alttext, find, metadata, sidecars, tables
    from imagetags_df.infra import cache, retry

    for module in (cache, images, retry, alttext, find, metadata, sidecars, tables):
        result = doctest.testmod(module)
        assert result.failed == 0, module.__name__
