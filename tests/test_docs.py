"""The documentation a user reads links only to files that ship with the repository."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINK = re.compile(r"\]\(([^)\s]+)\)|`(\.\./[^`]+)`")


def _local_targets(doc: Path) -> list[str]:
    targets = []
    for m in LINK.finditer(doc.read_text(encoding="utf-8")):
        target = (m.group(1) or m.group(2)).split("#", 1)[0]
        if target and not re.match(r"[a-z]+:", target):  # http:, https:, mailto:
            targets.append(target)
    return targets


def test_readme_and_docs_links_stay_inside_the_repository():
    docs = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    assert ROOT / "docs" / "api.md" in docs
    checked = 0
    for doc in docs:
        for target in _local_targets(doc):
            resolved = (doc.parent / target).resolve()
            assert resolved.is_relative_to(ROOT), f"{doc.name} links outside the repository: {target}"
            assert resolved.exists(), f"{doc.name} links to a missing file: {target}"
            checked += 1
    assert "docs/api.md" in _local_targets(ROOT / "README.md")
    assert checked >= 2


def test_every_markdown_table_starts_with_a_header_and_is_not_split():
    """A table row after a blank line that is not a header renders as stray pipes."""
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        lines = doc.read_text(encoding="utf-8").splitlines()
        fenced = False
        for i, line in enumerate(lines):
            if line.startswith("```"):
                fenced = not fenced
            starts = line.startswith("|") and (i == 0 or not lines[i - 1].strip())
            if starts and not fenced:
                below = lines[i + 1] if i + 1 < len(lines) else ""
                assert re.match(r"^\|[\s:|-]+\|$", below), f"{doc.name}:{i + 1}: a table row without a header"


def test_readme_documents_every_backend_name():
    from imagetags_df.backends import backend_names

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in backend_names():
        assert f'"{name}"' in readme, f"backend {name!r} is offered by --backend but not in the README"
