"""What every call stands on, shared by the engine, the backends, the server and the Dask door.

- ``cache``: the disk cache of results, analyses and file hashes (diskcache), keyed by image content;
- ``ratelimit``: the pacer that spaces calls at a key's limit, within and across processes;
- ``retry``: which failures are retried, and how long to wait (``Retry-After`` first, else backoff).
"""
