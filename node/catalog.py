"""The node's durable file catalog: files in ``shared/``, their records in SQLite (WAL).

A write is acknowledged only after the file is fsynced and renamed into place and its row is
committed with ``synchronous=FULL``, so a SIGKILL right after a 201 loses nothing. Reads go to
an in-memory copy that is replaced, never mutated, so gRPC threads and greenlets can read it
without a lock. A write the disk has no room for (ENOSPC, EDQUOT, SQLite's "database or disk is
full") raises ``NoSpace`` and leaves the catalog as it was: nothing half-written, nothing
acknowledged, the previous file of that name (if any) still in place.
"""

from __future__ import annotations

import errno
import hashlib
import os
import sqlite3
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .names import check_name

TMP_PREFIX = ".tmp-"
HASH_BLOCK = 1024 * 1024
NO_SPACE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
SQLITE_FULL = 13  # sqlite3.SQLITE_FULL (named in the module from Python 3.11)

SCHEMA = """
CREATE TABLE IF NOT EXISTS files (name TEXT PRIMARY KEY, size INTEGER NOT NULL,
                                  sha256 TEXT NOT NULL, added REAL NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS peers (node_id TEXT PRIMARY KEY, name TEXT NOT NULL,
                                  http TEXT NOT NULL, grpc TEXT NOT NULL);
"""


class NoSpace(Exception):
    """A write the node's disk has no room for: nothing was stored (HTTP 507)."""


def is_no_space(exc: BaseException) -> bool:
    """Whether ``exc`` says the disk (or the quota) is full."""
    if isinstance(exc, OSError):
        return exc.errno in NO_SPACE_ERRNOS
    return isinstance(exc, sqlite3.Error) and getattr(exc, "sqlite_errorcode", None) == SQLITE_FULL


def no_space(exc: BaseException, what: str) -> NoSpace:
    """``NoSpace`` for ``exc``, saying what was not stored (no file name: one message for
    every refusal, so a load test's error table groups them)."""
    why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return NoSpace(f"no space left on this node's disk ({why}): {what} not stored")


@dataclass(frozen=True)
class FileRecord:
    name: str
    size: int
    sha256: str

    def to_dict(self) -> dict:
        return {"name": self.name, "size": self.size, "sha256": self.sha256}


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def fsync_dir(path: Path) -> None:
    """Make a rename in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Catalog:
    """Files this node shares, durable in ``data_dir/catalog.sqlite``."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.shared = self.data_dir / "shared"
        self.shared.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            self.data_dir / "catalog.sqlite", check_same_thread=False, isolation_level=None
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        self._files: dict[str, FileRecord] = {}
        self._lowered: tuple[tuple[str, FileRecord], ...] = ()
        self._recover()

    def _recover(self) -> None:
        """Drop temp files of interrupted writes and rows whose file vanished."""
        for stray in self.shared.glob(TMP_PREFIX + "*"):
            stray.unlink(missing_ok=True)
        rows = self._db.execute("SELECT name, size, sha256 FROM files").fetchall()
        files = {}
        for name, size, sha in rows:
            path = self.shared / name
            if path.is_file() and path.stat().st_size == size:
                files[name] = FileRecord(name, size, sha)
            else:
                self._db.execute("DELETE FROM files WHERE name = ?", (name,))
        self._publish(files)

    # -- reads (lock-free) ---------------------------------------------------------------
    def get(self, name: str) -> FileRecord | None:
        return self._files.get(name)

    def all(self) -> list[FileRecord]:
        return sorted(self._files.values(), key=lambda r: r.name)

    def __len__(self) -> int:
        return len(self._files)

    def search(self, term: str) -> list[FileRecord]:
        """Files whose name contains ``term``, case-insensitively."""
        needle = term.lower()
        return [r for lowered, r in self._lowered if needle in lowered]

    def _publish(self, files: dict[str, FileRecord], added: FileRecord | None = None) -> None:
        """Swap in a new read view (names lower-cased once, not on every search). A new name
        is appended; anything else rebuilds the view."""
        if added is not None and added.name not in self._files:
            self._lowered = (*self._lowered, (added.name.lower(), added))
        else:
            self._lowered = tuple((name.lower(), r) for name, r in files.items())
        self._files = files

    def path_of(self, name: str) -> Path:
        return self.shared / check_name(name)

    # -- writes --------------------------------------------------------------------------
    def temp_path(self) -> Path:
        """A fresh temp path inside ``shared/`` (same filesystem, so rename is atomic)."""
        return self.shared / f"{TMP_PREFIX}{uuid.uuid4().hex}"

    def put_bytes(self, name: str, data: bytes) -> FileRecord:
        """Store ``data`` under ``name`` durably and index it; ``NoSpace`` if the disk is full."""
        check_name(name)
        tmp = self.temp_path()
        try:
            try:
                with open(tmp, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
            except OSError as exc:
                if is_no_space(exc):
                    raise no_space(exc, "upload") from exc
                raise
            return self.adopt(tmp, name, len(data), hashlib.sha256(data).hexdigest())
        finally:
            tmp.unlink(missing_ok=True)

    def adopt(self, tmp: Path, name: str, size: int, sha256: str) -> FileRecord:
        """Rename an already fsynced temp file into place and commit its record. If the disk
        is full (``NoSpace``) the catalog is left as it was: the file of that name it already
        had, if any, is put back (kept aside by a hard link, which takes no data blocks)."""
        check_name(name)
        record = FileRecord(name, size, sha256)
        final = self.shared / name
        with self._lock:
            kept = self.temp_path() if name in self._files else None
            placed = False
            try:
                if kept is not None:
                    try:
                        os.link(final, kept)
                    except FileNotFoundError:  # gone from the disk: nothing to put back
                        kept = None
                os.replace(tmp, final)
                placed = True
                fsync_dir(self.shared)
                self._db.execute(
                    "INSERT OR REPLACE INTO files VALUES (?, ?, ?, julianday('now'))",
                    (name, size, sha256),
                )
            except (OSError, sqlite3.Error) as exc:
                if placed:  # never acknowledged: not left where a rescan would index it
                    if kept is not None:
                        os.replace(kept, final)
                    else:
                        final.unlink(missing_ok=True)
                if is_no_space(exc):
                    raise no_space(exc, "file") from exc
                raise
            finally:
                if kept is not None:
                    kept.unlink(missing_ok=True)
            self._publish({**self._files, name: record}, added=record)
        return record

    def rescan(self) -> list[FileRecord]:
        """Index files dropped into ``shared/`` and forget records whose file is gone."""
        added = []
        on_disk = {p.name for p in self.shared.iterdir() if p.is_file()}
        for name in sorted(on_disk - set(self._files)):
            if name.startswith(TMP_PREFIX):
                continue
            try:
                check_name(name)
            except ValueError:
                continue
            path = self.shared / name
            added.append(self._index_existing(path))
        with self._lock:
            # Decide under the lock, on the disk as it is now: an upload acknowledged since
            # the listing above must not be forgotten.
            gone = {n for n in set(self._files) - on_disk if not (self.shared / n).exists()}
            for name in gone:
                self._db.execute("DELETE FROM files WHERE name = ?", (name,))
            if gone:
                self._publish({k: v for k, v in self._files.items() if k not in gone})
        return added

    def _index_existing(self, path: Path) -> FileRecord:
        record = FileRecord(path.name, path.stat().st_size, sha256_file(path))
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO files VALUES (?, ?, ?, julianday('now'))",
                (record.name, record.size, record.sha256),
            )
            self._publish({**self._files, record.name: record}, added=record)
        return record

    # -- node identity and known peers (so a restart rejoins without bootstrap) ----------
    def node_id(self) -> str:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'node_id'").fetchone()
            if row:
                return row[0]
            value = uuid.uuid4().hex
            self._db.execute("INSERT INTO meta VALUES ('node_id', ?)", (value,))
            return value

    def known_peers(self) -> list[dict]:
        rows = self._db.execute("SELECT node_id, name, http, grpc FROM peers").fetchall()
        return [dict(zip(("node_id", "name", "http", "grpc"), r, strict=True)) for r in rows]

    def remember_peers(self, peers: Iterable[dict]) -> None:
        with self._lock:
            self._db.executemany(
                "INSERT OR REPLACE INTO peers VALUES (:node_id, :name, :http, :grpc)",
                [{k: p[k] for k in ("node_id", "name", "http", "grpc")} for p in peers],
            )

    def forget_peer(self, node_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM peers WHERE node_id = ?", (node_id,))

    def close(self) -> None:
        with self._lock:
            self._db.close()
