"""notebooks/teach.ipynb: stored clean, and the whole teach loop (tag, label 5 per class,
learn, predict and review, learn again) executes in a real Jupyter kernel (nbclient) on
photos it makes from data/samples, with the offline tagger and a throwaway cache."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from test_notebook import WIDGET_VIEW, execute

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "teach.ipynb"

SUMMARY_CELL = """
import json as _json
_saved = _json.loads((WORK / "labels.json").read_text(encoding="utf-8"))
print("SUMMARY " + _json.dumps({
    "rows": len(out),
    "labelled": int(out["label"].notna().sum()),
    "report1": model.report().to_dict("records"),
    "report2": model2.report().to_dict("records"),
    "right1": int((pred.loc[unlabelled, "learned"].str[0] == pred.loc[unlabelled, "truth"]).sum()),
    "emitted1": int(pred.loc[unlabelled, "learned"].map(bool).sum()),
    "unlabelled": int(unlabelled.sum()),
    "accepted": sorted(t for e in _saved["edits"].values() for t in e.get("accepted", [])),
    "rejected": sorted(t for e in _saved["edits"].values() for t in e.get("rejected", [])),
    "suggested_unlabelled": bool(pred.loc[suggested.index, "label"].isna().all()),
    "loaded": imagetags_df.LabelModel.load(WORK / "my-labels").labels,
}))
"""


def test_teach_notebook_is_stored_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    assert "widgets" not in nb.metadata


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(SUMMARY_CELL))
    execute(nb, cwd=NOTEBOOK.parent, cache_dir=tmp_path_factory.mktemp("teach-cache"))
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.output_type == "stream")
    return nb, json.loads(text.split("SUMMARY ", 1)[1])


def test_teach_notebook_runs_the_loop(executed):
    nb, s = executed
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, errors
    assert s["rows"] == 32 and s["labelled"] == 20
    first = {r["label"]: r for r in s["report1"]}
    assert sorted(first) == ["outdoors", "pets", "space", "texture"]
    assert all(r["positives"] == 5 and r["threshold"] is not None for r in first.values())
    # Right or silent: what the first model emits on the photos nobody labelled is right.
    assert s["emitted1"] >= s["unlabelled"] // 2 and s["right1"] == s["emitted1"]
    # Learning again counts each accept as a new example of its label.
    assert s["suggested_unlabelled"] and len(s["accepted"]) + len(s["rejected"]) >= 6
    second = {r["label"]: r for r in s["report2"]}
    for label, row in second.items():
        assert row["positives"] == 5 + s["accepted"].count(label)
    assert s["loaded"] == sorted(first)


def test_teach_notebook_shows_the_review_widget(executed):
    nb, _ = executed
    review_cell = next(c for c in nb.cells if c.cell_type == "code" and "imagetags.review(" in c.source)
    shown = [o for o in review_cell.outputs if o.output_type in ("execute_result", "display_data")]
    assert shown and WIDGET_VIEW in shown[0]["data"]
    assert "Review of 32 images" in shown[0]["data"]["text/plain"]
