"""The ``pip install`` line that adds an extra to *this* installation.

From PyPI the answer is ``pip install "imagetags-df[widgets]"``; from a clone of the
repository that name is not on any index ("No matching distribution"), and the
extra has to come from the checkout itself: ``pip install -e ".[widgets]"``. pip
records where a package came from in ``direct_url.json`` (PEP 610), which is read
here once.
"""

from __future__ import annotations

import functools
import json
import os
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlparse

DISTRIBUTION = "imagetags-df"


@functools.lru_cache(maxsize=1)
def _checkout() -> tuple[Path, bool] | None:
    """The local folder this package was installed from and whether it is editable, if any."""
    for dist in metadata.distributions(name=DISTRIBUTION):
        # A checkout's own stale *.egg-info can shadow the installed record on sys.path:
        # look at every record of the name for pip's.
        raw = dist.read_text("direct_url.json")
        if not raw:
            continue
        try:
            info = json.loads(raw)
        except ValueError:
            continue
        url = urlparse(str(info.get("url", "")))
        if url.scheme != "file" or "vcs_info" in info or "archive_info" in info:
            return None  # a wheel or sdist file, or a VCS URL: installed as from an index
        return Path(unquote(url.path)), bool(info.get("dir_info", {}).get("editable"))
    # No record, but the code runs from a source tree (PYTHONPATH, or the checkout as cwd).
    tree = Path(__file__).resolve().parent.parent
    if (tree / "pyproject.toml").is_file() and (tree / "imagetags_df").is_dir():
        return tree, True
    return None


def pip_install(extra: str, cwd: str | os.PathLike[str] | None = None) -> str:
    """The command that adds ``extra`` to this installation, ready to paste.

    ``pip install -e ".[extra]"`` when installed (editable) from a checkout, with the
    checkout's path instead of ``.`` when the current folder is not that checkout;
    ``pip install "imagetags-df[extra]"`` otherwise.

    >>> pip_install("widgets") in ('pip install "imagetags-df[widgets]"', 'pip install -e ".[widgets]"') \\
    ...     or pip_install("widgets").startswith("pip install -e ")
    True
    """
    where = _checkout()
    if where is None:
        return f'pip install "{DISTRIBUTION}[{extra}]"'
    folder, editable = where
    here = Path(cwd if cwd is not None else os.getcwd())
    try:
        same = here.resolve() == folder.resolve()
    except OSError:
        same = False
    target = "." if same else str(folder)
    return f'pip install {"-e " if editable else ""}"{target}[{extra}]"'
