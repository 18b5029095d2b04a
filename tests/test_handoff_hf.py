"""Hugging Face: ImageFolder datasets and Dataset objects, read back with the real ``datasets`` library."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from PIL import Image

from imagetags_df import ConfigurationError
from imagetags_df.cli import main
from imagetags_df.export import hf, write_table

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"


@pytest.fixture(autouse=True)
def offline(tmp_path, monkeypatch):
    """``datasets`` reads these before it is first imported: nothing may reach the Hub."""
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    import datasets  # the [hf] extra, which [all] holds
    import huggingface_hub.constants

    # ... and where another test imported it first, its settings already read are set too.
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True, raising=False)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True, raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True, raising=False)


def _is_string_list(feature) -> bool:
    import datasets

    inner = getattr(feature, "feature", None)
    return (isinstance(feature, (getattr(datasets, "List", datasets.Sequence), datasets.Sequence))
            and isinstance(inner, datasets.Value) and inner.dtype == "string")


def _tagged(folder: Path, names: dict[str, str]) -> pd.DataFrame:
    """Copies of sample photos at ``folder/<relative name>``, tagged by the offline tagger."""
    paths = []
    for rel, sample in names.items():
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        paths.append(str(shutil.copy(SAMPLES / sample, target)))
    return pd.DataFrame({"path": paths}).imagetags.generate(backend="local", progress=False)


def test_imagefolder_loads_with_tags_as_a_list_of_strings(tmp_path):
    import datasets

    # Two files called cat.jpg in different folders must both survive.
    df = _tagged(tmp_path / "photos", {"a/cat.jpg": "chelsea_cat.jpg", "b/cat.jpg": "coffee.jpg",
                                       "motorcycle.jpg": "motorcycle.jpg"})
    df["learned"] = [["tabby"], [], ["vehicle"]]
    out = df.imagetags.to_hf_imagefolder(tmp_path / "dataset")
    lines = [json.loads(x) for x in (out / "metadata.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [x["file_name"] for x in lines] == ["a/cat.jpg", "b/cat.jpg", "motorcycle.jpg"]
    assert all((out / x["file_name"]).is_symlink() for x in lines)

    ds = datasets.load_dataset("imagefolder", data_dir=str(out), split="train", cache_dir=str(tmp_path / "cache"))
    assert isinstance(ds.features["image"], datasets.Image)
    assert _is_string_list(ds.features["tags"]) and _is_string_list(ds.features["learned"])
    assert ds.features["title"] == datasets.Value("string")
    rows = {r["tags"][0]: r for r in ds}  # the loader orders files its own way
    for _, want in df.iterrows():
        got = rows[want["tags"][0]]
        assert got["tags"] == want["tags"] and got["title"] == want["title"]
        assert got["description"] == want["description"] and got["learned"] == want["learned"]
        assert got["tag_scores"] == pytest.approx(list(want["tag_scores"].values()))
        with Image.open(want["path"]) as original:
            assert got["image"].size == original.size


def test_copy_makes_a_dataset_that_stands_alone_and_a_rerun_replaces_it(tmp_path):
    import datasets

    df = _tagged(tmp_path / "photos", {"cat.jpg": "chelsea_cat.jpg"})
    out = hf.to_hf_imagefolder(df, tmp_path / "dataset", copy=True)
    assert not (out / "cat.jpg").is_symlink()
    assert (out / "cat.jpg").read_bytes() == Path(df.loc[0, "path"]).read_bytes()
    hf.to_hf_imagefolder(df.assign(tags=[["cat"]]), out, copy=True)  # the copy is already there
    assert json.loads((out / "metadata.jsonl").read_text())["tags"] == ["cat"]
    shutil.rmtree(tmp_path / "photos")
    ds = datasets.load_dataset("imagefolder", data_dir=str(out), split="train", cache_dir=str(tmp_path / "cache"))
    assert ds[0]["tags"] == ["cat"] and ds[0]["image"].size == (451, 300)


def test_failed_rows_are_left_out_and_bad_rows_named(tmp_path):
    df = _tagged(tmp_path / "photos", {"cat.jpg": "chelsea_cat.jpg"})
    missing = pd.DataFrame({"path": [str(tmp_path / "gone.jpg")], "tags": [None], "error": ["file not found"]})
    out = hf.to_hf_imagefolder(pd.concat([df, missing], ignore_index=True), tmp_path / "dataset")
    assert len((out / "metadata.jsonl").read_text().splitlines()) == 1
    with pytest.raises(ConfigurationError, match="row 7: .*gone.jpg is not a file"):
        hf.to_hf_imagefolder(pd.DataFrame({"path": [str(tmp_path / "gone.jpg")], "tags": [["x"]]}, index=[7]),
                             tmp_path / "d2")
    with pytest.raises(ConfigurationError, match="column 'file' not found"):
        hf.to_hf_dataset(df, col="file")


def test_dataset_has_an_image_feature_for_paths_and_bytes(tmp_path):
    import datasets

    df = _tagged(tmp_path / "photos", {"cat.jpg": "chelsea_cat.jpg", "coffee.jpg": "coffee.jpg"})
    ds = df.imagetags.to_hf_dataset()
    assert isinstance(ds, datasets.Dataset) and isinstance(ds.features["image"], datasets.Image)
    assert _is_string_list(ds.features["tags"])
    assert ds["tags"] == df["tags"].tolist() and ds["title"] == df["title"].tolist()
    assert ds[1]["image"].size == Image.open(df.loc[1, "path"]).size
    in_memory = df.assign(path=[Path(p).read_bytes() for p in df["path"]])
    ds2 = hf.to_hf_dataset(in_memory)
    assert ds2[0]["image"].size == ds[0]["image"].size and ds2["tags"] == ds["tags"]
    # Round trip through the Hub's storage format: Parquet on disk.
    ds.to_parquet(str(tmp_path / "ds.parquet"))
    back = datasets.Dataset.from_parquet(str(tmp_path / "ds.parquet"), cache_dir=str(tmp_path / "cache"))
    assert back["tags"] == ds["tags"]


def test_export_command_writes_an_imagefolder_from_a_results_table(tmp_path):
    import datasets

    df = _tagged(tmp_path / "photos", {"cat.jpg": "chelsea_cat.jpg", "coffee.jpg": "coffee.jpg"})
    write_table(df, tmp_path / "results.csv")
    result = CliRunner().invoke(main, ["export", "--to", "hf", str(tmp_path / "results.csv"), str(tmp_path / "ds")])
    assert result.exit_code == 0, result.output
    ds = datasets.load_dataset("imagefolder", data_dir=str(tmp_path / "ds"), split="train",
                               cache_dir=str(tmp_path / "cache"))
    assert sorted(map(tuple, ds["tags"])) == sorted(map(tuple, df["tags"]))
    assert os.path.islink(tmp_path / "ds" / "cat.jpg")
