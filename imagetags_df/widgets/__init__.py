"""Seeing the images beside their tags: a paged gallery and a labeling widget.

* :func:`preview` returns a :class:`Gallery`: thumbnails with title, tag chips and the error
  of failed rows, paged; filtered by tag (typed, Enter, or a click on a chip) and by
  confidence (a minimum ``tag_scores`` value), sorted most confident first, with an
  enlarged view of one image. In Jupyter it displays as an ipywidgets control
  (:mod:`.gallery_view`); everywhere else (plain HTML export, GitHub, VS Code or Colab
  without the widget manager) the ``text/html`` that travels with it shows the same grid,
  as static HTML.
* :func:`review` returns a :class:`Review`: remove a tag with a click, add one by typing,
  mark the image reviewed. Every edit is written at once to a JSON file the user names, so
  a kernel restart or a closed tab loses nothing and reopening resumes.

Thumbnails are shrunk with Pillow and embedded as ``data:`` URIs: a relative path would
break as soon as the notebook or its HTML export is opened from anywhere else. Only the
rows of the page on display are ever turned into thumbnails, so a 100,000-row frame costs
what ``n`` rows cost.

ipywidgets is an optional extra, imported only when a widget is built.
"""

from __future__ import annotations

from .gallery import Gallery, preview
from .review import REVIEW_FILE_FORMAT, Review, review
from .thumbnails import image_column, image_id, thumbnail

__all__ = ["preview", "review", "Gallery", "Review", "thumbnail", "image_column", "image_id", "REVIEW_FILE_FORMAT"]
