"""Label Studio: tasks with our tags as predictions, and its JSON export read back.

A task's ``data.image`` must be a URL Label Studio can load. Two ways to give one:

- ``document_root=``: Label Studio serves the files itself
  (``/data/local-files/?d=<path relative to the root>``); it needs
  ``LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED=true``,
  ``LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT=<the root>`` and a "Local files" storage
  in the project whose path is the folder of the images or a parent of it, below
  the root (Label Studio refuses the root itself);
- ``image_root=``: a URL prefix where some web server already serves the images,
  followed by the path relative to ``document_root`` (or the path as written, when
  it is relative).

Label Studio keeps one score per prediction, not one per choice, so the row's
``confidence`` travels as the prediction's ``score`` and per-tag scores stay behind.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit
from xml.sax.saxutils import quoteattr

import pandas as pd

from .. import analysis
from .._exceptions import ConfigurationError
from .atomic import write_bytes_atomic

#: Names the labelling config gives its image and its choices; tasks' results must use them.
IMAGE_NAME = "image"
CHOICES_NAME = "tags"
#: What Label Studio's own file server answers under (its ``localfiles_data`` view).
LOCAL_FILES_URL = "/data/local-files/?d="
CONFIG_SUFFIX = ".label_config.xml"
#: What the offline tagger runs, for a prediction's model_version (the frame names only the backend).
LOCAL_MODELS = "efficientnet-lite0+nanodet-m"
#: Columns whose values are offered as choices beside the tags.
_CHOICE_COLUMNS = ("tags", "learned")


def config_path(tasks_path: str | os.PathLike[str]) -> Path:
    """Where :func:`to_label_studio` writes the labelling config for ``tasks_path``.

    >>> config_path("out/tasks.json").as_posix()
    'out/tasks.label_config.xml'
    """
    p = Path(tasks_path)
    return p.with_name(p.name.removesuffix(p.suffix) + CONFIG_SUFFIX)


def label_config(choices: Iterable[str]) -> str:
    """A labelling config: one image, one multiple-choice list holding ``choices``.

    >>> print(label_config(["cat", "sofa"]))
    <View>
      <Image name="image" value="$image"/>
      <Choices name="tags" toName="image" choice="multiple" showInline="true">
        <Choice value="cat"/>
        <Choice value="sofa"/>
      </Choices>
    </View>
    """
    lines = ["<View>", f'  <Image name="{IMAGE_NAME}" value="${IMAGE_NAME}"/>',
             f'  <Choices name="{CHOICES_NAME}" toName="{IMAGE_NAME}" choice="multiple" showInline="true">']
    lines += [f"    <Choice value={quoteattr(c)}/>" for c in dict.fromkeys(choices)]
    lines += ["  </Choices>", "</View>"]
    return "\n".join(lines)


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    return str(value)


def _jsonable(label: Any) -> Any:
    if hasattr(label, "item"):  # numpy scalars
        return label.item()
    if label is None or isinstance(label, (str, int, float, bool)):
        return label
    return str(label)


def _relative(path: Path, root: Path) -> str | None:
    # Label Studio joins the root and the relative path without resolving links, so a
    # folder reached through a symlink is tried as written before its real location.
    for full, base in ((os.path.abspath(path), os.path.abspath(root)), (path.resolve(), root.resolve())):
        try:
            return Path(full).relative_to(base).as_posix()
        except ValueError:
            continue
    return None


def image_url(path: str | os.PathLike[str], *, document_root: str | os.PathLike[str] | None = None,
              image_root: str | None = None) -> str:
    """The URL a Label Studio task loads ``path`` from.

    >>> image_url("/data/photos/trip/a b.jpg", document_root="/data/photos")
    '/data/local-files/?d=trip/a%20b.jpg'
    >>> image_url("/data/photos/trip/a.jpg", document_root="/data/photos", image_root="http://nas:8080/photos/")
    'http://nas:8080/photos/trip/a.jpg'
    """
    if document_root is None and image_root is None:
        raise ConfigurationError("Label Studio cannot open local paths: pass document_root= (Label Studio serves "
                                 "the files) or image_root= (a URL prefix where they are served)")
    if document_root is not None:
        rel = _relative(Path(path).expanduser(), Path(document_root).expanduser())
        if rel is None:
            raise ConfigurationError(f"{path} is not inside document_root {document_root}; pass a document_root "
                                     "that holds every image")
    else:
        if Path(path).is_absolute():
            raise ConfigurationError(f"{path} is an absolute path: with image_root= alone paths must be relative "
                                     "to it; pass document_root= too (the folder image_root serves)")
        rel = PurePosixPath(Path(path).as_posix()).as_posix()
    if image_root is not None:
        return image_root.rstrip("/") + "/" + quote(rel, safe="/")
    return LOCAL_FILES_URL + quote(rel, safe="/")


def label_studio_tasks(df: pd.DataFrame, col: str = "path", *, document_root: str | os.PathLike[str] | None = None,
                       image_root: str | None = None, tags_col: str = "tags",
                       model_version: str | None = None) -> list[dict[str, Any]]:
    """One Label Studio task per row that has tags: its image URL, path, title, description
    and the tags as a prediction. Rows whose tagging failed (no tags) get no prediction.

    A prediction's ``model_version`` is ``model_version`` when given, else the row's
    backend and model (``local:efficientnet-lite0+nanodet-m``; ``openai:<model>`` where
    the frame has a ``model`` column, else ``openai``).

    >>> df = pd.DataFrame({"path": ["/p/cat.jpg"], "tags": [["cat", "pet"]], "confidence": [0.9],
    ...                    "backend": ["local"], "title": ["Cat"], "description": [""]})
    >>> task = label_studio_tasks(df, document_root="/p")[0]
    >>> task["data"]["image"], task["predictions"][0]["result"][0]["value"]
    ('/data/local-files/?d=cat.jpg', {'choices': ['cat', 'pet']})
    >>> task["predictions"][0]["model_version"], task["predictions"][0]["score"]
    ('local:efficientnet-lite0+nanodet-m', 0.9)
    """
    if col not in df.columns:
        raise ConfigurationError(f"column {col!r} not found; pass col= the column of image paths")
    tag_lists = analysis.tag_lists(df, col=tags_col) if tags_col in df.columns else [None] * len(df)
    tasks: list[dict[str, Any]] = []
    for pos, (label, row) in enumerate(df.iterrows()):
        value = row[col]
        if not isinstance(value, (str, os.PathLike)):
            raise ConfigurationError(f"row {label!r}: {col!r} holds {type(value).__name__}, not a file path; "
                                     "Label Studio tasks need image files")
        data: dict[str, Any] = {IMAGE_NAME: image_url(value, document_root=document_root, image_root=image_root),
                                "path": os.fspath(value), "index": _jsonable(label)}
        for field in ("title", "description"):
            if field in df.columns:
                data[field] = _text(row[field])
        task: dict[str, Any] = {"data": data}
        tags = tag_lists[pos]
        if tags:
            prediction: dict[str, Any] = {
                "model_version": model_version or _model_version(row),
                "result": [{"id": f"r{pos}", "from_name": CHOICES_NAME, "to_name": IMAGE_NAME, "type": "choices",
                            "value": {"choices": list(dict.fromkeys(str(t) for t in tags))}}]}
            confidence = row.get("confidence")
            if confidence is not None and not pd.isna(confidence):
                prediction["score"] = float(confidence)
            task["predictions"] = [prediction]
            data["predicted_tags"] = prediction["result"][0]["value"]["choices"]
        tasks.append(task)
    return tasks


def _model_version(row: pd.Series) -> str:
    backend = _text(row.get("backend")) or "imagetags"
    model = _text(row.get("model")) or (LOCAL_MODELS if backend == "local" else "")
    return f"{backend}:{model}" if model else backend


def to_label_studio(df: pd.DataFrame, path: str | os.PathLike[str], col: str = "path", *,
                    document_root: str | os.PathLike[str] | None = None, image_root: str | None = None,
                    tags_col: str = "tags", model_version: str | None = None) -> Path:
    """Write Label Studio tasks (``path``) and their labelling config beside them
    (``tasks.label_config.xml``): the choices are every tag and learned label in ``df``.

    Import the tasks into a project that uses the config; the tags arrive as
    predictions the annotator accepts, removes or adds to. Returns the tasks path.

    >>> df.imagetags.to_label_studio("tasks.json", document_root="/data/photos")  # doctest: +SKIP
    PosixPath('tasks.json')
    """
    tasks = label_studio_tasks(df, col, document_root=document_root, image_root=image_root, tags_col=tags_col,
                               model_version=model_version)
    choices: list[str] = []
    for name in (tags_col, *_CHOICE_COLUMNS):
        if name in df.columns:
            for tags in analysis.tag_lists(df, col=name):
                choices.extend(str(t) for t in tags or [])
    out = Path(path).expanduser()
    write_bytes_atomic(out, json.dumps(tasks, ensure_ascii=False, indent=1).encode("utf-8"))
    write_bytes_atomic(config_path(out), (label_config(choices) + "\n").encode("utf-8"))
    return out


# --------------------------------------------------------------------------- reading an export


def _when(annotation: dict[str, Any]) -> tuple[datetime, int]:
    stamp = annotation.get("updated_at") or annotation.get("created_at") or ""
    try:
        moment = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    except ValueError:
        moment = datetime.min
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment, int(annotation.get("id") or 0)


def _choices(result: Sequence[dict[str, Any]], from_name: str) -> list[str]:
    out: list[str] = []
    for item in result or []:
        if item.get("from_name") == from_name and item.get("type", "choices") == "choices":
            out.extend(str(c) for c in (item.get("value") or {}).get("choices") or [])
    return list(dict.fromkeys(out))


def _predicted(task: dict[str, Any], annotation: dict[str, Any], from_name: str) -> list[str]:
    """The tags the task was imported with.

    Label Studio's plain JSON export lists a task's predictions by id only
    (``data_export/serializers.py``: ``predictions = PrimaryKeyRelatedField``) and
    puts the prediction an annotation started from in the annotation's
    ``prediction``; a snapshot export may expand them. Tasks we wrote also carry
    them in ``data.predicted_tags``, for annotations made from scratch.
    """
    found: list[str] = []
    for prediction in [*(task.get("predictions") or []), annotation.get("prediction")]:
        if isinstance(prediction, dict):
            found.extend(_choices(prediction.get("result") or [], from_name))
    if not found and isinstance(task["data"].get("predicted_tags"), list):
        found = [str(t) for t in task["data"]["predicted_tags"]]
    return list(dict.fromkeys(found))


def local_path(url: str, *, document_root: str | os.PathLike[str] | None = None,
               image_root: str | None = None) -> str:
    """The file a task's image URL points at (the inverse of :func:`image_url`).

    >>> local_path("/data/local-files/?d=trip/a%20b.jpg", document_root="/data/photos")
    '/data/photos/trip/a b.jpg'
    """
    rel: str | None = None
    if url.startswith(LOCAL_FILES_URL.split("?")[0]):
        found = parse_qs(urlsplit(url).query).get("d")
        rel = found[0] if found else None
    elif image_root is not None and url.startswith(image_root.rstrip("/") + "/"):
        rel = unquote(url[len(image_root.rstrip("/")) + 1:])
    if rel is None:
        return url
    return os.path.join(os.fspath(Path(document_root).expanduser()), rel) if document_root is not None else rel


def from_label_studio(export: str | os.PathLike[str] | Sequence[dict[str, Any]], *,
                      document_root: str | os.PathLike[str] | None = None, image_root: str | None = None,
                      from_name: str = CHOICES_NAME) -> pd.DataFrame:
    """Reviewed tags from a Label Studio JSON export: one row per annotated task.

    Each task's latest annotation that was not cancelled (skipped) counts; its
    predictions do not. ``path`` is the task's own ``data.path`` (as
    :func:`to_label_studio` wrote it), else the image URL mapped back to a file
    through ``document_root``/``image_root``. ``rejected`` holds the predicted tags
    the annotator removed. Tasks nobody annotated are left out. ``index`` is the
    row's index label in the exported frame, where the task carries it.

    >>> reviewed = imagetags_df.from_label_studio("export.json")  # doctest: +SKIP
    >>> reviewed.columns.tolist()  # doctest: +SKIP
    ['path', 'tags', 'rejected', 'index', 'annotator', 'updated_at']
    """
    if isinstance(export, (str, os.PathLike)):
        source = Path(export).expanduser()
        try:
            tasks = json.loads(source.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigurationError(f"{source}: {exc.strerror or exc}") from None
        except ValueError as exc:
            raise ConfigurationError(f"{source} is not JSON ({exc}); export the project as 'JSON' in "
                                     "Label Studio") from None
        name = str(source)
    else:
        tasks, name = list(export), "the export"
    if not isinstance(tasks, list):
        raise ConfigurationError(f"{name} is not a Label Studio JSON export (a list of tasks); export the project "
                                 "as 'JSON', not 'JSON-MIN' or CSV")
    rows: list[dict[str, Any]] = []
    for n, task in enumerate(tasks):
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            raise ConfigurationError(f"{name}: task {n} has no 'data'; export the project as 'JSON' in Label Studio")
        done = [a for a in task.get("annotations") or [] if isinstance(a, dict) and not a.get("was_cancelled")]
        if not done:
            continue
        latest = max(done, key=_when)
        data = task["data"]
        path = data.get("path")
        if not path:
            url = data.get(IMAGE_NAME)
            if not url:
                raise ConfigurationError(f"{name}: task {task.get('id', n)} has neither data.path nor data.image")
            path = local_path(str(url), document_root=document_root, image_root=image_root)
        tags = _choices(latest.get("result") or [], from_name)
        predicted = _predicted(task, latest, from_name)
        kept = set(tags)
        rows.append({"path": str(path), "tags": tags, "rejected": [t for t in predicted if t not in kept],
                     "index": data.get("index"), "annotator": latest.get("completed_by"),
                     "updated_at": latest.get("updated_at") or latest.get("created_at")})
    return pd.DataFrame(rows, columns=["path", "tags", "rejected", "index", "annotator", "updated_at"])


def write_review_labels(reviewed: pd.DataFrame, path: str | os.PathLike[str], col: str = "path") -> int:
    """Put reviewed tags (from :func:`from_label_studio`) into a review widget's labels file.

    Each row becomes a confirmed ("reviewed") edit keyed as the widget keys its own,
    with the tags the annotator removed as the edit's rejected tags, so
    ``df.imagetags.review(path=...)`` over the tagged frame shows them and
    :func:`imagetags_df.learn.labels_from_review` reads them; edits for other images
    already in the file stay. Returns how many rows were written.

    >>> write_review_labels(imagetags_df.from_label_studio("export.json"), "labels.json")  # doctest: +SKIP
    12
    """
    from ..widgets.review import (
        REVIEW_FILE_FORMAT,
        REVIEW_FILE_VERSION,
        _atomic_write_json,
        _edit_key,
        _read_review_file,
    )

    target = Path(path).expanduser()
    edits = _read_review_file(target)
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    indexes = reviewed["index"] if "index" in reviewed.columns else pd.Series([None] * len(reviewed))
    refused = reviewed["rejected"] if "rejected" in reviewed.columns else pd.Series([[]] * len(reviewed))
    for image, tags, label, rejected in zip(reviewed[col], reviewed["tags"], indexes, refused):
        label = None if label is None or (isinstance(label, float) and pd.isna(label)) else label
        image = os.fspath(image)
        # An edit saved under another index for the same image would win over this one on load.
        for key in [k for k, e in edits.items() if e.get("image") == image]:
            del edits[key]
        edits[_edit_key(label, image)] = {"index": label, "image": image, "tags": list(tags),
                                          "rejected": list(rejected or []), "reviewed": True, "updated": stamp}
    _atomic_write_json(target, {"format": REVIEW_FILE_FORMAT, "version": REVIEW_FILE_VERSION,
                                "image_column": col, "edits": edits})
    return len(reviewed)
