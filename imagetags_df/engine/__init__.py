"""The run engine: one path from rows of images to a frame of results, whatever the door.

Its phases, one module each, in the order a run goes through them:

- ``settings``: every option settled once (argument, then environment, then default);
- ``scan``: each row read, hashed, deduplicated and looked up in the cache;
- ``run``: the calls that remain, paced, retried, budgeted and interruptible;
- ``assemble``: results and per-row errors back into the caller's frame;
- ``api``: ``generate``, ``estimate`` and ``remember``, which drive the phases.

The disk cache, the pacer and the retry policy the engine stands on live in
:mod:`imagetags_df.infra`, because backends and the server use them too.
"""

from .api import RESULT_COLUMNS, ResultMemory, check_column, estimate, generate, remember
from .settings import RunSettings, settle

__all__ = ["generate", "estimate", "remember", "ResultMemory", "check_column", "RESULT_COLUMNS", "RunSettings", "settle"]
