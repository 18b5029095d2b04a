"""Label Studio: tasks and config out, its JSON export back in, and the round trip through a real server."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import pandas as pd
import pytest
from click.testing import CliRunner

import imagetags_df
from imagetags_df import ConfigurationError
from imagetags_df.cli import main
from imagetags_df.export import label_studio as ls
from imagetags_df.learn import labels_from_review, learn
from imagetags_df.server.testing import free_port, wait_until_serving

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "data" / "samples"
#: An export made by Label Studio 1.23.2 (the round trip below, run against a real
#: server): tasks as imported from to_label_studio, annotations posted through its API.
EXPORT_FIXTURE = Path(__file__).resolve().parent / "fixtures" / "label_studio" / "export.json"


def _tagged(folder: Path, names=("chelsea_cat.jpg", "coffee.jpg", "motorcycle.jpg")) -> pd.DataFrame:
    """Sample photos copied into ``folder`` and tagged by the offline tagger."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [str(shutil.copy(SAMPLES / n, folder / n)) for n in names]
    return pd.DataFrame({"path": paths}).imagetags.generate(backend="local", progress=False)


def test_tasks_carry_the_image_url_the_texts_and_the_tags_as_a_prediction(tmp_path):
    df = _tagged(tmp_path / "photos" / "trip")
    out = df.imagetags.to_label_studio(tmp_path / "tasks.json", document_root=tmp_path / "photos")
    tasks = json.loads(out.read_text(encoding="utf-8"))
    assert len(tasks) == 3
    first = tasks[0]
    assert first["data"]["image"] == "/data/local-files/?d=trip/chelsea_cat.jpg"
    assert first["data"]["path"] == df.loc[0, "path"] and first["data"]["index"] == 0
    assert first["data"]["title"] == df.loc[0, "title"] and first["data"]["description"] == df.loc[0, "description"]
    (prediction,) = first["predictions"]
    assert prediction["model_version"] == "local:efficientnet-lite0+nanodet-m"
    assert prediction["score"] == pytest.approx(df.loc[0, "confidence"])
    (result,) = prediction["result"]
    assert result["from_name"] == "tags" and result["to_name"] == "image" and result["type"] == "choices"
    assert result["value"]["choices"] == df.loc[0, "tags"]

    config = ET.parse(ls.config_path(out)).getroot()
    image, choices = config.find("Image"), config.find("Choices")
    assert image.attrib == {"name": "image", "value": "$image"}
    assert choices.attrib["name"] == "tags" and choices.attrib["toName"] == "image"
    assert choices.attrib["choice"] == "multiple"
    offered = [c.attrib["value"] for c in choices.findall("Choice")]
    assert sorted(offered) == sorted({t for tags in df["tags"] for t in tags})


def test_image_root_gives_urls_under_it_and_odd_names_are_quoted(tmp_path):
    folder = tmp_path / "photos" / "été 2024"
    df = _tagged(folder, names=("coffee.jpg",))
    tasks = ls.label_studio_tasks(df, document_root=tmp_path / "photos", image_root="http://nas.local:8080/p/")
    assert tasks[0]["data"]["image"] == "http://nas.local:8080/p/%C3%A9t%C3%A9%202024/coffee.jpg"
    # and back again, through either kind of URL
    assert ls.local_path(tasks[0]["data"]["image"], document_root=tmp_path / "photos",
                         image_root="http://nas.local:8080/p/") == str(folder / "coffee.jpg")
    local = ls.label_studio_tasks(df, document_root=tmp_path / "photos")[0]["data"]["image"]
    assert ls.local_path(local, document_root=tmp_path / "photos") == str(folder / "coffee.jpg")


def test_choices_and_quotes_in_tags_make_valid_xml_and_learned_labels_are_offered(tmp_path):
    df = pd.DataFrame({"path": [str(SAMPLES / "coffee.jpg")], "tags": [['say "cheese"', "a&b <c>"]],
                       "learned": [["latte art"]]})
    out = ls.to_label_studio(df, tmp_path / "t.json", document_root=SAMPLES)
    offered = [c.attrib["value"] for c in ET.parse(ls.config_path(out)).getroot().iter("Choice")]
    assert offered == ['say "cheese"', "a&b <c>", "latte art"]


def test_bad_input_is_named(tmp_path):
    df = pd.DataFrame({"path": [str(SAMPLES / "coffee.jpg")], "tags": [["coffee"]]})
    with pytest.raises(ConfigurationError, match="coffee.jpg is not inside document_root"):
        ls.to_label_studio(df, tmp_path / "t.json", document_root=tmp_path)
    with pytest.raises(ConfigurationError, match="document_root= .* or image_root="):
        ls.to_label_studio(df, tmp_path / "t.json")
    with pytest.raises(ConfigurationError, match="row 'b'.*bytes"):
        ls.to_label_studio(pd.DataFrame({"path": [b"\xff\xd8"], "tags": [["x"]]}, index=["b"]),
                           tmp_path / "t.json", document_root=tmp_path)
    assert not (tmp_path / "t.json").exists()
    (tmp_path / "min.json").write_text(json.dumps({"image": "x", "tags": {"choices": ["a"]}}))
    with pytest.raises(ConfigurationError, match="export the project as 'JSON'"):
        imagetags_df.from_label_studio(tmp_path / "min.json")


def test_a_real_export_gives_the_latest_kept_annotation_and_the_removed_predictions():
    tasks = json.loads(EXPORT_FIXTURE.read_text(encoding="utf-8"))
    # As Label Studio exports them: predictions by id, the one an annotation started from inside it.
    assert all(isinstance(p, int) for t in tasks for p in t["predictions"])
    reviewed = imagetags_df.from_label_studio(EXPORT_FIXTURE)
    # The fixture holds: the cat annotated twice (the second wins), the coffee with
    # one annotation, the motorcycle skipped (a cancelled annotation only).
    by_name = {Path(p).name: row for p, row in zip(reviewed["path"], reviewed.to_dict("records"))}
    assert sorted(by_name) == ["chelsea_cat.jpg", "coffee.jpg"]
    cat_task = next(t for t in tasks if t["data"]["path"].endswith("chelsea_cat.jpg"))
    predicted = cat_task["data"]["predicted_tags"]
    latest = max(cat_task["annotations"], key=lambda a: a["updated_at"])["result"][0]["value"]["choices"]
    assert by_name["chelsea_cat.jpg"]["tags"] == latest
    assert by_name["chelsea_cat.jpg"]["rejected"] == [t for t in predicted if t not in latest]
    assert by_name["chelsea_cat.jpg"]["rejected"], "the fixture's annotator removed a predicted tag"
    coffee_task = next(t for t in tasks if t["data"]["path"].endswith("coffee.jpg"))
    assert by_name["coffee.jpg"]["tags"] == [*coffee_task["data"]["predicted_tags"], "pet"]
    assert by_name["coffee.jpg"]["rejected"] == []
    assert by_name["coffee.jpg"]["index"] == 1
    # Each place the predicted tags can come from gives the same answer: only the
    # annotation's own prediction, or expanded predictions (a snapshot export) ...
    for task in tasks:
        del task["data"]["predicted_tags"]
    assert imagetags_df.from_label_studio(tasks)["rejected"].tolist() == reviewed["rejected"].tolist()
    for task in tasks:
        prediction = task["annotations"][0]["prediction"]
        task["predictions"] = [prediction]
        for annotation in task["annotations"]:
            annotation["prediction"] = {}
    assert imagetags_df.from_label_studio(tasks)["rejected"].tolist() == reviewed["rejected"].tolist()
    # What annotators kept and removed is what learning takes: "pet" removed from the
    # cat is a negative, "pet" added to the coffee a positive.
    on_disk = reviewed.assign(path=[str(SAMPLES / Path(p).name) for p in reviewed["path"]])
    report = learn(on_disk, labels="tags", cache_dir=False, progress=False).report().set_index("label")
    assert (report.loc["pet", "positives"], report.loc["pet", "negatives"]) == (1, 1)
    assert report.loc["cat", "positives"] == 1
    # ... and without data.path, the image URL is mapped back through the document root.
    for task in tasks:
        del task["data"]["path"]
    again = imagetags_df.from_label_studio(tasks, document_root="/photos")
    assert again["path"].tolist() == ["/photos/trip/" + Path(p).name for p in reviewed["path"]]


def test_import_labels_writes_what_the_review_widget_reads(tmp_path):
    reviewed = imagetags_df.from_label_studio(EXPORT_FIXTURE)
    # The frame the tasks came from: same paths, same index, the tags as generated.
    tasks = json.loads(EXPORT_FIXTURE.read_text(encoding="utf-8"))
    df = pd.DataFrame({"path": [t["data"]["path"] for t in tasks],
                       "tags": [t["data"]["predicted_tags"] for t in tasks]},
                      index=[t["data"]["index"] for t in tasks])
    labels = tmp_path / "labels.json"
    result = CliRunner().invoke(main, ["import-labels", str(EXPORT_FIXTURE), "-o", str(labels)])
    assert result.exit_code == 0, result.output
    assert "wrote 2 reviewed image(s)" in result.output
    out = df.imagetags.review(path=labels).result()
    for path, tags in zip(reviewed["path"], reviewed["tags"]):
        row = out[out["path"] == path].iloc[0]
        assert row["reviewed"] and row["tags_reviewed"] == tags
    motorcycle = out[out["path"].str.endswith("motorcycle.jpg")].iloc[0]
    assert not motorcycle["reviewed"] and motorcycle["tags_reviewed"] == motorcycle["tags"]
    # ... and what learning reads from that file: the removed tags as negatives.
    from_file = labels_from_review(labels)
    assert from_file["label"].tolist() == reviewed["tags"].tolist()
    assert from_file["rejected"].tolist() == reviewed["rejected"].tolist()
    # Running it again replaces the same entries instead of piling up new ones.
    CliRunner().invoke(main, ["import-labels", str(EXPORT_FIXTURE), "-o", str(labels)])
    assert len(json.loads(labels.read_text())["edits"]) == 2


def test_export_command_reads_each_table_format(tmp_path):
    df = _tagged(tmp_path / "photos")
    for suffix in (".csv", ".jsonl", ".parquet"):
        table = tmp_path / f"results{suffix}"
        imagetags_df.export.write_table(df, table)
        out = tmp_path / f"tasks{suffix}.json"
        result = CliRunner().invoke(main, ["export", "--to", "label-studio", str(table), str(out),
                                           "--document-root", str(tmp_path / "photos"), "--model-version", "v7"])
        assert result.exit_code == 0, result.output
        tasks = json.loads(out.read_text())
        assert {t["predictions"][0]["model_version"] for t in tasks} == {"v7"}
        assert [t["predictions"][0]["result"][0]["value"]["choices"] for t in tasks] == df["tags"].tolist()
        assert ls.config_path(out).exists()


# --------------------------------------------------------------------------- a real Label Studio


def _label_studio() -> str | None:
    """The label-studio command: $IMAGETAGS_LABEL_STUDIO, else the separate venv .ci/run makes."""
    for candidate in (os.environ.get("IMAGETAGS_LABEL_STUDIO"), str(ROOT / ".ls-venv" / "bin" / "label-studio")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


@pytest.fixture(scope="module")
def label_studio(tmp_path_factory):
    command = _label_studio()
    if command is None:
        pytest.skip("Label Studio is not installed: its pins (Django and ~150 packages) need a venv of its own; "
                    "python3 -m venv .ls-venv && .ls-venv/bin/pip install label-studio 'sentry-sdk<3'")
    home = tmp_path_factory.mktemp("label-studio")
    photos = home / "photos"
    port, token = free_port(), "imagetags-test-token"
    env = {**os.environ, "LABEL_STUDIO_BASE_DATA_DIR": str(home / "data"),
           "LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED": "true",
           "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT": str(photos),
           "LABEL_STUDIO_USERNAME": "reviewer@example.com", "LABEL_STUDIO_PASSWORD": "not-a-secret-1",
           "LABEL_STUDIO_USER_TOKEN": token, "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
           "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true", "SENTRY_DSN": "", "FRONTEND_SENTRY_DSN": ""}
    log = open(home / "label-studio.log", "wb")
    proc = subprocess.Popen([command, "start", "--no-browser", "--internal-host", "127.0.0.1", "--port", str(port)],
                            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        # The first start migrates a new SQLite database: minutes on a busy machine.
        wait_until_serving(proc, url, timeout=480, poll=2, log=home / "label-studio.log", health="/health")
        yield url, token, photos
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_round_trip_through_a_real_label_studio(label_studio, tmp_path):
    url, token, root = label_studio
    photos = root / "trip"  # Label Studio refuses a storage at the document root itself: a folder below it
    df = _tagged(photos)
    tasks_path = df.imagetags.to_label_studio(tmp_path / "tasks.json", document_root=root)
    api = httpx.Client(base_url=url, headers={"Authorization": f"Token {token}"}, timeout=60)

    project = api.post("/api/projects", json={"title": "imagetags round trip",
                                              "label_config": ls.config_path(tasks_path).read_text()})
    assert project.status_code == 201, project.text
    pid = project.json()["id"]
    storage = api.post("/api/storages/localfiles", json={"project": pid, "path": str(photos), "title": "photos",
                                                         "use_blob_urls": True})
    assert storage.status_code == 201, storage.text
    imported = api.post(f"/api/projects/{pid}/import", json=json.loads(tasks_path.read_text()))
    assert imported.status_code == 201, imported.text
    assert imported.json()["task_count"] == 3

    listed = api.get("/api/tasks", params={"project": pid, "fields": "all"}).json()
    tasks = {Path(t["data"]["path"]).name: t for t in listed["tasks"]}
    # The image URL we wrote is one Label Studio serves: the very bytes of the file.
    served = api.get(tasks["coffee.jpg"]["data"]["image"])
    assert served.status_code == 200 and served.content == (photos / "coffee.jpg").read_bytes()

    def annotate(name: str, choices: list[str], cancelled: bool = False) -> None:
        body = {"result": [{"from_name": "tags", "to_name": "image", "type": "choices",
                            "value": {"choices": choices}}] if choices else [],
                "was_cancelled": cancelled}
        answer = api.post(f"/api/tasks/{tasks[name]['id']}/annotations/", json=body)
        assert answer.status_code == 201, answer.text
        time.sleep(1.1)  # updated_at has a resolution the next annotation must pass

    cat_tags = df.loc[0, "tags"]
    annotate("chelsea_cat.jpg", cat_tags)                              # first pass: as predicted
    annotate("chelsea_cat.jpg", [t for t in cat_tags if t != "pet"])   # second pass: "pet" removed
    annotate("coffee.jpg", [*df.loc[1, "tags"], "pet"])               # a choice added (the config offers it)
    annotate("motorcycle.jpg", [], cancelled=True)                     # skipped

    export = api.get(f"/api/projects/{pid}/export", params={"exportType": "JSON"})
    assert export.status_code == 200, export.text
    exported = export.json()
    if os.environ.get("IMAGETAGS_SAVE_LABEL_STUDIO_EXPORT"):
        Path(os.environ["IMAGETAGS_SAVE_LABEL_STUDIO_EXPORT"]).write_text(
            json.dumps(exported, ensure_ascii=False, indent=1), encoding="utf-8")

    reviewed = imagetags_df.from_label_studio(exported)
    assert sorted(Path(p).name for p in reviewed["path"]) == ["chelsea_cat.jpg", "coffee.jpg"]
    cat = reviewed[reviewed["path"] == df.loc[0, "path"]].iloc[0]
    assert cat["tags"] == [t for t in cat_tags if t != "pet"] and cat["rejected"] == ["pet"]
    coffee = reviewed[reviewed["path"] == df.loc[1, "path"]].iloc[0]
    assert coffee["tags"] == [*df.loc[1, "tags"], "pet"] and coffee["rejected"] == []

    # The reviewed tags teach a label model: the removed "pet" is the cat's negative.
    assert list(reviewed.columns[:3]) == ["path", "tags", "rejected"]
    report = reviewed.imagetags.learn(labels="tags", progress=False).report().set_index("label")
    assert (report.loc["pet", "positives"], report.loc["pet", "negatives"]) == (1, 1)

