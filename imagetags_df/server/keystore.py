"""API keys and their credits, in one SQLite file (stdlib ``sqlite3``, WAL mode).

A key is shown once, when it is created, and stored only as its SHA-256 digest.
A plain hash (not bcrypt/scrypt/argon2) is enough here because a key is 32 random
bytes from :mod:`secrets`: a slow KDF protects *guessable* secrets such as
passwords, and there is nothing to guess in 256 bits; a fast hash also keeps the
per-request lookup in microseconds.

Credits are spent with a conditional ``UPDATE ... WHERE credits >= amount``. SQLite
runs each statement under its database write lock, so that check-and-decrement is
atomic across threads *and* processes (a ``keys topup`` from the shell while the
server runs): however many requests race, credits never go below zero. The server
reserves a request's credit before tagging and refunds it when tagging fails, so
only a successful tagging costs anything and two racing requests can never both
spend the last credit.

A reservation is a row of its own, committed in the same transaction as the
balance change, so it survives the process: a server killed mid-request (SIGKILL,
the OOM killer, a power cut) leaves its reservations open, and the next server on
the same file refunds them before it answers anything (:meth:`KeyStore.claim_for_serving`).
Settling deletes the row and keeps the credit spent; the server settles once the
answer has left.

Only one server may use a database at a time: the per-key rate limit is counted in
the server's memory, so two servers would each grant the full limit, and a starting
server could not tell its own open reservations from another's. The claim is an OS
file lock next to the database, released by the kernel however the holder dies.

>>> store = KeyStore(":memory:")
>>> key, info = store.create("alice", credits=10)
>>> store.authenticate(key).name
'alice'
>>> reservation = store.reserve(info.id, 1)
>>> reservation.remaining, store.settle(reservation)
(9, None)
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from .._exceptions import ConfigurationError

#: Every key starts with this, so a leaked one is recognisable in a paste or a scan.
KEY_PREFIX = "itk_"
#: How much of a key ``keys list`` shows to tell keys apart (prefix + 6 random
#: characters: 36 bits of the 256, too few to help a guesser).
DISPLAY_CHARS = len(KEY_PREFIX) + 6

_SCHEMA = """
CREATE TABLE IF NOT EXISTS keys (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL,
    key_hash    TEXT    NOT NULL UNIQUE,
    display     TEXT    NOT NULL,
    credits     INTEGER NOT NULL CHECK (credits >= 0),
    used        INTEGER NOT NULL DEFAULT 0,
    created_at  REAL    NOT NULL,
    revoked_at  REAL
);
CREATE TABLE IF NOT EXISTS reservations (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    key_id      INTEGER NOT NULL REFERENCES keys (id),
    amount      INTEGER NOT NULL CHECK (amount >= 0),
    created_at  REAL    NOT NULL
);
"""

#: The file next to the database whose OS lock marks the one server using it.
LOCK_SUFFIX = ".serve.lock"


@dataclass(frozen=True)
class Reservation:
    """Credits taken for a request in flight: settled on success, refunded otherwise."""

    id: int
    key_id: int
    amount: int
    #: The key's credits once this reservation is taken.
    remaining: int


@dataclass(frozen=True)
class KeyInfo:
    """What the store knows about a key: never the key itself."""

    id: int
    name: str
    display: str  # e.g. "itk_Ab3dE9…", enough to tell keys apart
    credits: int
    used: int
    created_at: float
    revoked_at: float | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @property
    def label(self) -> str:
        """How logs name the key: its name and id, never the secret."""
        return f"{printable(self.name)}#{self.id}"


#: The most credits one key can hold: far under SQLite's 2**63, so a balance plus any
#: top-up the commands accept is still a number SQLite can store.
MAX_CREDITS = 10**15


class KeyNotFoundError(LookupError):
    """``keys topup`` / ``keys revoke`` named a key that does not exist (or is ambiguous)."""


def printable(text: str) -> str:
    """``text`` with control characters escaped (``\\n``, ``\\x1b``): a key name with a
    line break must not be able to write a line of its own into the log."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> str:
    """A fresh API key: the prefix and 43 URL-safe characters (32 random bytes)."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


class KeyStore:
    """The key and credit table. Safe to share between threads; one connection per thread.

    ``path`` is a file (created with its parent folders) or ``":memory:"`` for tests.
    """

    def __init__(self, path: str | Path, *, busy_timeout: float = 10.0) -> None:
        self.path = str(path)
        self._busy_timeout = busy_timeout
        self._local = threading.local()
        self._memory: sqlite3.Connection | None = None
        self._memory_lock = threading.Lock()
        self._lock_file: IO[str] | bool | None = None
        if self.path != ":memory:":
            Path(self.path).expanduser().parent.mkdir(parents=True, exist_ok=True)
            self.path = str(Path(self.path).expanduser())
        with self._tx() as conn:
            conn.executescript(_SCHEMA)

    # Connections ------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        # Autocommit mode (isolation_level=None): every statement below is its own
        # transaction unless wrapped in BEGIN IMMEDIATE, so no write lock is ever
        # held across an await or a tagging call.
        conn = sqlite3.connect(self.path, timeout=self._busy_timeout, isolation_level=None,
                               check_same_thread=False)
        conn.row_factory = sqlite3.Row
        if self.path != ":memory:":
            conn.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
            # In WAL mode NORMAL loses at most the last commits on power loss, never
            # corrupts; FULL would fsync every credit spent.
            conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    def _conn(self) -> sqlite3.Connection:
        if self.path == ":memory:":
            # One in-memory database must be one connection; serialise its users.
            if self._memory is None:
                self._memory = self._connect()
            return self._memory
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        return conn

    class _Tx:
        def __init__(self, store: KeyStore) -> None:
            self.store = store

        def __enter__(self) -> sqlite3.Connection:
            if self.store.path == ":memory:":
                self.store._memory_lock.acquire()
            return self.store._conn()

        def __exit__(self, *exc: object) -> None:
            if self.store.path == ":memory:":
                self.store._memory_lock.release()

    def _tx(self) -> KeyStore._Tx:
        return KeyStore._Tx(self)

    def close(self) -> None:
        self.release_serving()
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
        if self._memory is not None:
            self._memory.close()
            self._memory = None

    # Administration (the ``imagetags keys`` commands) ------------------------------
    def create(self, name: str, credits: int) -> tuple[str, KeyInfo]:
        """Make a key; return it (the only time it is ever available) and its record."""
        name = name.strip()
        if not name:
            raise ValueError("a key needs a non-empty name")
        if credits < 0:
            raise ValueError("credits cannot be negative")
        if credits > MAX_CREDITS:
            raise ValueError(f"a key holds at most {MAX_CREDITS:,} credits; {credits:,} is more")
        key = new_key()
        with self._tx() as conn:
            cur = conn.execute(
                "INSERT INTO keys (name, key_hash, display, credits, created_at) VALUES (?, ?, ?, ?, ?)",
                (name, hash_key(key), key[:DISPLAY_CHARS] + "…", int(credits), time.time()))
            key_id = int(cur.lastrowid or 0)
        return key, self.get(key_id)

    def get(self, key_id: int) -> KeyInfo:
        with self._tx() as conn:
            row = conn.execute("SELECT * FROM keys WHERE id = ?", (key_id,)).fetchone()
        if row is None:
            raise KeyNotFoundError(f"no key with id {key_id}")
        return _info(row)

    def list_keys(self, *, include_revoked: bool = True) -> list[KeyInfo]:
        sql = "SELECT * FROM keys" + ("" if include_revoked else " WHERE revoked_at IS NULL") + " ORDER BY id"
        with self._tx() as conn:
            return [_info(r) for r in conn.execute(sql).fetchall()]

    def find(self, ref: str | int) -> KeyInfo:
        """A key by id (``"#3"``, or ``"3"`` when no key is *named* "3") or by name
        (``"name:3"`` for a name made of digits); an ambiguous reference is refused."""
        if isinstance(ref, int):
            return self.get(ref)
        text = ref.strip()
        if text.startswith("#") and text[1:].isdigit():
            return self.get(int(text[1:]))
        by_name = text.removeprefix("name:") if text.startswith("name:") else text
        with self._tx() as conn:
            rows = conn.execute("SELECT * FROM keys WHERE name = ? ORDER BY id", (by_name,)).fetchall()
            by_id = (conn.execute("SELECT * FROM keys WHERE id = ?", (int(text),)).fetchone()
                     if text.isdigit() and len(text) < 19 else None)
        if by_id is not None and rows:
            raise KeyNotFoundError(f"{text!r} is both the id of key #{text} and the name of key "
                                   f"#{rows[0]['id']}: write #{text} for the id, or name:{text} for the name")
        if by_id is not None:
            return _info(by_id)
        if not rows:
            what = f"no key with id {text} or named {text!r}" if text.isdigit() else f"no key named {by_name!r}"
            raise KeyNotFoundError(f"{what}; see 'imagetags keys list'")
        if len(rows) > 1:
            ids = ", ".join(f"#{r['id']}" for r in rows)
            raise KeyNotFoundError(f"several keys are named {by_name!r} ({ids}); name one by its id, e.g. "
                                   f"#{rows[0]['id']}")
        return _info(rows[0])

    def topup(self, ref: str | int, credits: int) -> KeyInfo:
        """Add credits (atomically, so a top-up during traffic loses no spend)."""
        if credits <= 0:
            raise ValueError("a top-up must add at least one credit")
        if credits > MAX_CREDITS:
            raise ValueError(f"a key holds at most {MAX_CREDITS:,} credits; {credits:,} is more")
        info = self.find(ref)
        with self._tx() as conn:
            done = conn.execute("UPDATE keys SET credits = credits + ? WHERE id = ? AND credits <= ? RETURNING id",
                                (int(credits), info.id, MAX_CREDITS - int(credits))).fetchall()
        if not done:
            now = self.get(info.id)
            raise ValueError(f"key #{now.id} has {now.credits:,} credits; adding {credits:,} would pass the "
                             f"most a key can hold ({MAX_CREDITS:,})")
        return self.get(info.id)

    def revoke(self, ref: str | int) -> KeyInfo:
        """Refuse the key from now on (1003). Its record stays, for the books."""
        info = self.find(ref)
        with self._tx() as conn:
            conn.execute("UPDATE keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                         (time.time(), info.id))
        return self.get(info.id)

    # The request path --------------------------------------------------------------
    def authenticate(self, key: str) -> KeyInfo | None:
        """The active key's record, or None for an unknown or revoked key."""
        digest = hash_key(key)
        with self._tx() as conn:
            row = conn.execute("SELECT * FROM keys WHERE key_hash = ?", (digest,)).fetchone()
        # The index lookup is on a hash the caller cannot steer byte by byte, so its
        # timing reveals nothing; the final comparison is constant-time anyway, so
        # this check never becomes a timing oracle if the lookup above changes.
        if row is None or not hmac.compare_digest(row["key_hash"], digest):
            return None
        info = _info(row)
        return info if info.active else None

    def authenticate_id(self, key_id: int) -> KeyInfo | None:
        """The record of key ``key_id`` if it is still active (revocation re-checked)."""
        try:
            info = self.get(key_id)
        except KeyNotFoundError:
            return None
        return info if info.active else None

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: every statement in it commits together or not at all."""
        with self._tx() as conn:
            # IMMEDIATE takes the write lock up front, so the transaction never has
            # to upgrade a read lock half-way (which SQLite may refuse as busy).
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def reserve(self, key_id: int, amount: int = 1) -> Reservation | None:
        """Take ``amount`` credits from an active key for one request; None if it has too few.

        The conditional UPDATE cannot be split by a racing request, in this process
        or another one; the reservation row commits with it, so a crash cannot take
        the credit without leaving the row that gives it back.
        """
        with self._write() as conn:
            rows = conn.execute(
                "UPDATE keys SET credits = credits - :n, used = used + 1 "
                "WHERE id = :id AND revoked_at IS NULL AND credits >= :n RETURNING credits",
                {"n": int(amount), "id": key_id}).fetchall()
            if not rows:
                return None
            cur = conn.execute("INSERT INTO reservations (key_id, amount, created_at) VALUES (?, ?, ?)",
                               (key_id, int(amount), time.time()))
        return Reservation(id=int(cur.lastrowid or 0), key_id=key_id, amount=int(amount),
                           remaining=int(rows[0][0]))

    def settle(self, reservation: Reservation) -> None:
        """Keep the credit of a request that succeeded: the reservation is closed."""
        with self._tx() as conn:
            conn.execute("DELETE FROM reservations WHERE id = ?", (reservation.id,))

    def refund(self, reservation: Reservation) -> int | None:
        """Give the credits of an open ``reservation`` back; the key's credits after it.

        Refunded at most once: None if the reservation was already closed.
        """
        with self._write() as conn:
            if not conn.execute("DELETE FROM reservations WHERE id = ? RETURNING id",
                                (reservation.id,)).fetchall():
                return None
            rows = conn.execute(
                "UPDATE keys SET credits = credits + :n, used = MAX(used - 1, 0) WHERE id = :id "
                "RETURNING credits", {"n": reservation.amount, "id": reservation.key_id}).fetchall()
        return int(rows[0][0]) if rows else None

    def open_reservations(self) -> list[Reservation]:
        with self._tx() as conn:
            rows = conn.execute("SELECT r.id, r.key_id, r.amount, k.credits FROM reservations r "
                                "JOIN keys k ON k.id = r.key_id ORDER BY r.id").fetchall()
        return [Reservation(int(r[0]), int(r[1]), int(r[2]), int(r[3])) for r in rows]

    def refund_open(self) -> int:
        """Refund every open reservation (left by a server that died); how many there were.

        Only safe while no server is running on this database: use
        :meth:`claim_for_serving`, which takes the lock first.
        """
        with self._write() as conn:
            rows = conn.execute("DELETE FROM reservations RETURNING key_id, amount").fetchall()
            for key_id, amount in rows:
                conn.execute("UPDATE keys SET credits = credits + ?, used = MAX(used - 1, 0) WHERE id = ?",
                             (int(amount), int(key_id)))
        return len(rows)

    def claim_for_serving(self) -> int:
        """Become the one server of this database, then refund what a stopped server left open.

        Returns the number of reservations refunded. Raises
        :class:`~imagetags_df.ConfigurationError` naming the other server's process
        when one is already serving this file. Calling it again is a no-op (0).
        """
        if self._lock_file is not None:
            return 0
        if self.path != ":memory:":
            lock_path = self.path + LOCK_SUFFIX
            handle = open(lock_path, "a+")  # noqa: SIM115 - held open for the server's lifetime
            if not _try_lock(handle):
                handle.seek(0)
                holder = handle.read().strip() or "unknown"
                handle.close()
                raise ConfigurationError(
                    f"another imagetags serve (process {holder}) is already serving the key database "
                    f"{self.path}; stop it first, or give this server its own --db (two servers on one "
                    "database would each grant the full rate limit)")
            handle.seek(0)
            handle.truncate()
            handle.write(str(os.getpid()))
            handle.flush()
            self._lock_file = handle
        else:
            self._lock_file = True
        return self.refund_open()

    def release_serving(self) -> None:
        """Let another server use the database (the OS does this too when the process ends)."""
        if self._lock_file not in (None, True):
            self._lock_file.close()  # type: ignore[union-attr]
        self._lock_file = None

    def __repr__(self) -> str:
        return f"KeyStore({self.path!r})"


def _try_lock(handle: IO[str]) -> bool:
    """An exclusive, non-blocking OS lock on ``handle``'s file; False if another process holds it."""
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        except OSError:
            return False
        return True
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _info(row: sqlite3.Row) -> KeyInfo:
    return KeyInfo(id=int(row["id"]), name=row["name"], display=row["display"], credits=int(row["credits"]),
                   used=int(row["used"]), created_at=float(row["created_at"]),
                   revoked_at=None if row["revoked_at"] is None else float(row["revoked_at"]))


__all__ = ["KEY_PREFIX", "LOCK_SUFFIX", "KeyInfo", "KeyNotFoundError", "KeyStore", "Reservation", "hash_key",
           "new_key", "printable"]
