"""Getting results out of a DataFrame and into files other tools read.

Plain functions, usable from Python and called by the ``imagetags`` command:

- :func:`find_images` walks files and folders for images;
- :func:`write_table` writes results as CSV, Parquet or JSON Lines;
- :func:`write_sidecars` writes a JSON file beside each image, as the seed
  document's bulk example does (``photo.jpg`` -> ``photo.json``);
- :func:`write_metadata` puts tags, title and description into the image file
  itself (XMP ``dc:subject``/``dc:title``/``dc:description``, IPTC for JPEG), where
  digiKam, Lightroom and darktable look for them;
- :func:`to_label_studio` / :func:`from_label_studio`, :func:`to_hf_imagefolder` /
  :func:`to_hf_dataset`, :func:`to_fiftyone` / :func:`write_fiftyone` hand tags to
  Label Studio, Hugging Face ``datasets`` and FiftyOne, and reviewed labels back;
- :func:`fill_alt_text` fills missing ``alt``/``title`` attributes of a web page's
  images, editing the page by source offsets so every other byte stays as it was.

Every file we write goes to a temporary file in the same folder first and is
then moved over the target with ``os.replace``, so a crash or a full disk never
leaves a half-written image, sidecar or table behind.
"""

from __future__ import annotations

from .alttext import ALT_MIN_CONFIDENCE, AltTextReport, fill_alt_text, find_img_tags
from .fiftyone import to_fiftyone, write_fiftyone
from .find import IMAGE_SUFFIXES, ImageSearch, find_images, search_images
from .hf import to_hf_dataset, to_hf_imagefolder
from .keywords import keyword_paths
from .label_studio import config_path as label_studio_config_path
from .label_studio import from_label_studio, label_studio_tasks, to_label_studio, write_review_labels
from .metadata import (
    XMP_NAMESPACE,
    FileChangedError,
    MetadataError,
    MetadataPass,
    MetadataReport,
    read_metadata,
    remember_results,
    result_of_row,
    write_metadata,
    write_metadata_rows,
)
from .sidecars import GENERATOR, SidecarReport, sidecar_path, write_sidecars
from .tables import (
    NOT_SURE,
    TABLE_FORMATS,
    json_lines,
    read_table,
    table_format,
    text_table,
    unsure_rows,
    write_table,
)

__all__ = [
    "IMAGE_SUFFIXES", "GENERATOR", "TABLE_FORMATS", "XMP_NAMESPACE", "MetadataError", "FileChangedError", "MetadataReport", "MetadataPass", "SidecarReport", "AltTextReport",
    "ImageSearch", "find_images", "search_images", "write_table", "json_lines", "table_format", "text_table", "unsure_rows", "NOT_SURE", "sidecar_path", "write_sidecars",
    "write_metadata", "write_metadata_rows", "remember_results", "result_of_row", "read_metadata", "find_img_tags", "fill_alt_text", "ALT_MIN_CONFIDENCE",
    "read_table", "keyword_paths", "to_label_studio", "from_label_studio", "label_studio_tasks",
    "label_studio_config_path", "write_review_labels", "to_hf_imagefolder", "to_hf_dataset", "to_fiftyone",
    "write_fiftyone",
]
