"""Missing-extra messages name the pip install that works for this installation."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from imagetags_df import _install

ROOT = Path(__file__).resolve().parent.parent


def _record(site: Path, direct_url: dict | None) -> None:
    """A pip install record (PEP 376 dist-info, PEP 610 direct_url.json) in ``site``."""
    info = site / "imagetags_df-9.9.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: imagetags-df\nVersion: 9.9\n", encoding="utf-8")
    if direct_url is not None:
        (info / "direct_url.json").write_text(json.dumps(direct_url), encoding="utf-8")


@pytest.mark.parametrize("direct_url, cwd_is_checkout, expected", [
    ({"url": "file://CHECKOUT", "dir_info": {"editable": True}}, False, 'pip install -e "CHECKOUT[widgets]"'),
    ({"url": "file://CHECKOUT", "dir_info": {"editable": True}}, True, 'pip install -e ".[widgets]"'),
    ({"url": "file://CHECKOUT", "dir_info": {}}, False, 'pip install "CHECKOUT[widgets]"'),
    ({"url": "file:///tmp/imagetags_df-1.0-py3-none-any.whl", "archive_info": {}}, False,
     'pip install "imagetags-df[widgets]"'),
    ({"url": "https://github.com/x/imagetags_df", "vcs_info": {"vcs": "git"}}, False,
     'pip install "imagetags-df[widgets]"'),
])
def test_hint_follows_where_pip_installed_it_from(tmp_path, monkeypatch, direct_url, cwd_is_checkout, expected):
    checkout = tmp_path / "my clone"
    checkout.mkdir()
    direct_url = {**direct_url, "url": direct_url["url"].replace("CHECKOUT", checkout.as_posix().replace(" ", "%20"))}
    _record(tmp_path / "site", direct_url)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    _install._checkout.cache_clear()
    try:
        cwd = checkout if cwd_is_checkout else tmp_path
        assert _install.pip_install("widgets", cwd=cwd) == expected.replace("CHECKOUT", str(checkout))
    finally:
        _install._checkout.cache_clear()


def test_plot_tags_without_matplotlib_names_the_extra():
    """A bare ModuleNotFoundError would not say what to install."""
    code = ("import sys; sys.modules['matplotlib'] = None; sys.modules['matplotlib.pyplot'] = None\n"
            "import pandas as pd, imagetags_df\n"
            "from imagetags_df._exceptions import ConfigurationError\n"
            "df = pd.DataFrame({'tags': [['cat']]})\n"
            "for plot in (df.imagetags.plot_tags, df.imagetags.plot_cooccurrence):\n"
            "    try:\n"
            "        plot()\n"
            "    except ConfigurationError as exc:\n"
            "        print(exc)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ['charts need matplotlib: pip install -e ".[widgets]"'] * 2


def test_notebook_extra_brings_jupyterlab_and_the_readme_says_how_to_open_it():
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        tomllib = pytest.importorskip("tomli")
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    assert any(dep.startswith("jupyterlab") for dep in extras["notebook"])
    assert "imagetags-df[widgets]" in extras["notebook"] and "notebook" in extras["all"][0]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert 'pip install -e ".[notebook]" && jupyter lab notebooks/quickstart.ipynb' in readme
