"""FiftyOne: the files FiftyOne's importer reads, parsed the way it parses them.

FiftyOne itself cannot run here: ``fiftyone-db`` downloads MongoDB from
fastdl.mongodb.org while it installs, which this network refuses, and FiftyOne
needs that database for any dataset. So the export is read the way
``fiftyone.utils.data.importers.FiftyOneImageClassificationDatasetImporter`` reads
it (``setup()`` and ``__next__()``, FiftyOne 1.22.1) and its labels are parsed as
``fiftyone.utils.data.parsers.ImageClassificationSampleParser._parse_label`` does.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from imagetags_df import ConfigurationError
from imagetags_df.cli import main
from imagetags_df.export import fiftyone as fo_export
from imagetags_df.export import write_table

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"


def _import_like_fiftyone(dataset_dir: Path, labels_file: str) -> list[tuple[str, list[dict]]]:
    """(image path, [{"label", "confidence"}]) per sample, as FiftyOne's importer yields them."""
    data_path = dataset_dir / "data.json"  # _parse_data_path: "data/" or "data.json", whichever exists
    assert data_path.is_file()
    # _load_data_map(data_path, ignore_exts=True): manifest keys without extension -> path joined to its folder
    manifest = json.loads(data_path.read_text())
    image_paths_map = {os.path.normpath(os.path.splitext(k)[0]): os.path.normpath(os.path.join(dataset_dir, v))
                       for k, v in manifest.items()}
    labels = json.loads((dataset_dir / labels_file).read_text())
    labels_map, classes = labels.get("labels", {}), labels.get("classes")
    out = []
    for uuid in sorted(labels_map):
        # __next__: an absolute uuid is the image path; else looked up in the manifest
        image_path = uuid if os.path.isabs(uuid) else image_paths_map[uuid]
        target = labels_map[uuid]
        is_list = isinstance(target, (list, tuple))
        parsed = []
        for t in target if is_list else [target]:
            label, confidence = (t.get("label"), t.get("confidence")) if isinstance(t, dict) else (t, None)
            try:
                label = classes[label]
            except Exception:  # what the parser does: a bare except, then str()
                label = str(label)
            parsed.append({"label": label, "confidence": confidence})
        assert is_list, "a list becomes Classifications; a single target would be one Classification"
        out.append((image_path, parsed))
    return out


def _tagged(folder: Path) -> pd.DataFrame:
    folder.mkdir(parents=True)
    paths = [str(shutil.copy(SAMPLES / n, folder / n)) for n in ("chelsea_cat.jpg", "coffee.jpg")]
    return pd.DataFrame({"path": paths}).imagetags.generate(backend="local", progress=False)


def test_export_is_read_by_fiftyones_classification_importer(tmp_path):
    df = _tagged(tmp_path / "photos")
    df["learned"] = [["tabby"], ["latte"]]
    df["learned_scores"] = [[0.8], [0.6]]
    out = fo_export.write_fiftyone(df, tmp_path / "fo")
    samples = dict(_import_like_fiftyone(out, "labels.json"))
    assert set(samples) == {str(Path(p).resolve()) for p in df["path"]}
    for _, row in df.iterrows():
        got = samples[str(Path(row["path"]).resolve())]
        assert [c["label"] for c in got] == row["tags"]
        assert [c["confidence"] for c in got] == pytest.approx(list(row["tag_scores"].values()))
        assert os.path.isfile(str(Path(row["path"]).resolve()))
    learned = dict(_import_like_fiftyone(out, "learned.json"))
    assert [c["label"] for c in learned[str(Path(df.loc[1, "path"]).resolve())]] == ["latte"]
    fields = json.loads((out / "fields.json").read_text())
    assert fields[str(Path(df.loc[0, "path"]).resolve())] == {"title": df.loc[0, "title"],
                                                              "description": df.loc[0, "description"]}


def test_rows_without_scores_get_no_confidence_and_failed_rows_none(tmp_path):
    df = pd.DataFrame({"path": [str(SAMPLES / "coffee.jpg"), str(SAMPLES / "flower.jpg")],
                       "tags": [["coffee", "cup"], None], "error": [None, "refused"]})
    (path, labels), = _import_like_fiftyone(fo_export.write_fiftyone(df, tmp_path / "fo"), "labels.json")
    assert path == str((SAMPLES / "coffee.jpg").resolve())
    assert labels == [{"label": "coffee", "confidence": None}, {"label": "cup", "confidence": None}]
    assert not (tmp_path / "fo" / "learned.json").exists()


def test_cli_export_and_a_clear_error_without_fiftyone(tmp_path):
    df = _tagged(tmp_path / "photos")
    write_table(df, tmp_path / "results.jsonl")
    result = CliRunner().invoke(main, ["export", "--to", "fiftyone", str(tmp_path / "results.jsonl"),
                                       str(tmp_path / "fo")])
    assert result.exit_code == 0, result.output
    assert len(_import_like_fiftyone(tmp_path / "fo", "labels.json")) == 2
    try:
        import fiftyone  # noqa: F401
    except ImportError:
        with pytest.raises(ConfigurationError, match="pip install fiftyone"):
            df.imagetags.to_fiftyone("x")
    with pytest.raises(ConfigurationError, match="row 0: 'path' holds bytes"):
        fo_export.sample_fields(pd.DataFrame({"path": [b"\xff"], "tags": [["x"]]}))
