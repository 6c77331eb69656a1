"""A node whose disk is full: an upload (or a pull) it has no room for is refused with a 507 and
a JSON error, never acknowledged and never half-stored; what it had stays as it was; the node's
own bookkeeping (known peers, its node file) skips a write rather than fail a peer's message.
Simulated ENOSPC here, and a real full tmpfs where the test may mount one (root)."""

from __future__ import annotations

import errno
import hashlib
import io
import json
import logging
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from wsgiref.util import setup_testing_defaults

import pytest

from networks import disks
from node import api
from node.catalog import TMP_PREFIX, Catalog, NoSpace, is_no_space
from node.netfaults import NetFaults
from node.server import spare_disk
from node.transfer import Puller, TransferError

ENOSPC = OSError(errno.ENOSPC, "No space left on device")


def sqlite_full() -> sqlite3.OperationalError:
    exc = sqlite3.OperationalError("database or disk is full")
    exc.sqlite_errorcode = 13
    return exc


class FullOnInsert:
    """The catalog's database, except that recording a file fails as a full disk makes it."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def execute(self, sql: str, *args):
        if sql.startswith("INSERT OR REPLACE INTO files"):
            raise sqlite_full()
        return self.db.execute(sql, *args)

    def __getattr__(self, name: str):
        return getattr(self.db, name)


def leftovers(catalog: Catalog) -> list[str]:
    return sorted(p.name for p in catalog.shared.iterdir() if p.name.startswith(TMP_PREFIX))


def test_what_counts_as_a_full_disk() -> None:
    assert is_no_space(ENOSPC) and is_no_space(OSError(errno.EDQUOT, "Disk quota exceeded"))
    assert is_no_space(sqlite_full())
    assert not is_no_space(OSError(errno.EACCES, "Permission denied"))
    assert not is_no_space(sqlite3.OperationalError("database is locked"))


def test_an_upload_that_does_not_fit_is_not_stored(tmp_path, monkeypatch) -> None:
    catalog = Catalog(tmp_path)
    catalog.put_bytes("kept.bin", b"acknowledged")

    def no_room(fd: int) -> None:
        raise ENOSPC

    monkeypatch.setattr("node.catalog.os.fsync", no_room)
    with pytest.raises(
        NoSpace,
        match=r"no space left on this node's disk \(No space left on device\): upload not stored",
    ):
        catalog.put_bytes("new.bin", b"x" * 100)
    assert catalog.get("new.bin") is None and not (catalog.shared / "new.bin").exists()
    assert leftovers(catalog) == []
    assert catalog.get("kept.bin") is not None
    assert (catalog.shared / "kept.bin").read_bytes() == b"acknowledged"


def test_a_record_that_does_not_fit_leaves_the_catalog_as_it_was(tmp_path) -> None:
    catalog = Catalog(tmp_path)
    old = catalog.put_bytes("same.bin", b"first version")
    catalog._db = FullOnInsert(catalog._db)
    with pytest.raises(NoSpace, match="database or disk is full"):
        catalog.put_bytes("new.bin", b"never recorded")
    assert not (catalog.shared / "new.bin").exists()  # a rescan must not find it either
    with pytest.raises(NoSpace):
        catalog.put_bytes("same.bin", b"second version")
    assert catalog.get("same.bin") == old
    assert (catalog.shared / "same.bin").read_bytes() == b"first version"
    assert leftovers(catalog) == []
    catalog._db = catalog._db.db
    assert catalog.rescan() == []
    reopened = Catalog(tmp_path)
    assert [r.name for r in reopened.all()] == ["same.bin"]


def test_an_upload_the_disk_has_no_room_for_is_a_507_with_a_json_error() -> None:
    def put_file(name: str, data: bytes):
        raise NoSpace("no space left on this node's disk: upload not stored")

    node = SimpleNamespace(
        config=SimpleNamespace(max_upload=1024, admin_token="t"),
        faults=NetFaults(),
        peer_ops={},
        put_file=put_file,
    )
    app = api.build_app(node)
    body = b"payload"
    environ = {
        "REQUEST_METHOD": "PUT",
        "PATH_INFO": "/files/up.bin",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    }
    setup_testing_defaults(environ)
    statuses = []
    answer = b"".join(app(environ, lambda status, *_: statuses.append(status)))
    assert statuses == ["507 Insufficient Storage"]
    assert json.loads(answer) == {"error": "no space left on this node's disk: upload not stored"}


def test_a_pull_the_disk_has_no_room_for_is_a_507(tmp_path, monkeypatch) -> None:
    catalog = Catalog(tmp_path)
    puller = Puller(catalog, "n1", NetFaults(), 1024)
    data = b"pulled"
    digest = hashlib.sha256(data).hexdigest()

    def receive(address, name, sha256, timeout, tmp: Path):
        tmp.write_bytes(data)
        return len(data), digest

    monkeypatch.setattr(puller, "_receive", receive)
    catalog._db = FullOnInsert(catalog._db)
    with pytest.raises(TransferError) as refused:
        puller.pull("127.0.0.1:1", "f.bin", digest, timeout=1.0, peer_name="n2")
    assert refused.value.status == 507 and "not stored" in str(refused.value)

    def receive_nothing(address, name, sha256, timeout, tmp: Path):
        raise ENOSPC

    monkeypatch.setattr(puller, "_receive", receive_nothing)
    with pytest.raises(TransferError) as refused:
        puller.pull("127.0.0.1:1", "g.bin", digest, timeout=1.0, peer_name="n2")
    assert refused.value.status == 507 and "pulled file not stored" in str(refused.value)
    assert leftovers(catalog) == [] and catalog.all() == []


def test_bookkeeping_skips_a_write_the_disk_has_no_room_for(caplog) -> None:
    def full(*args) -> None:
        raise sqlite_full()

    def broken(*args) -> None:
        raise OSError(errno.EACCES, "Permission denied")

    with caplog.at_level(logging.WARNING, logger="node"):
        spare_disk("known peers", full)([{"name": "n2"}])
    assert "disk full: known peers not saved" in caplog.text
    with pytest.raises(OSError, match="Permission denied"):
        spare_disk("the node file", broken)()


# -- a real full disk --------------------------------------------------------------------
@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    ok, why = disks.available()
    if not ok:
        pytest.skip(f"a real full disk needs a tmpfs of its own: {why}")
    path = tmp_path / "disk"
    disks.mount(path, disks.MIN_MB)
    try:
        yield path
    finally:
        disks.unmount(path)


def test_a_real_full_disk_refuses_uploads_keeps_the_rest_and_recovers(small_disk: Path) -> None:
    catalog = Catalog(small_disk)
    before = catalog.put_bytes("before.bin", b"b" * 5000)
    filled = disks.fill(small_disk)
    assert filled["free_bytes"] == 0 and filled["filler_bytes"] > 0
    for size in (1, 5000, 200_000):
        with pytest.raises(NoSpace):
            catalog.put_bytes(f"during-{size}.bin", b"d" * size)
    assert leftovers(catalog) == [] and [r.name for r in catalog.all()] == ["before.bin"]
    assert catalog.search("before") == [before]
    assert (catalog.shared / "before.bin").read_bytes() == b"b" * 5000
    freed = disks.free(small_disk)
    assert freed["freed_bytes"] == filled["filler_bytes"] and freed["free_bytes"] > 0
    assert disks.free(small_disk)["note"] == "no filler"
    after = catalog.put_bytes("after.bin", b"a" * 5000)
    catalog.close()
    assert {r.name: r for r in Catalog(small_disk).all()} == {
        "before.bin": before,
        "after.bin": after,
    }


def test_small_disks_are_checked_before_anything_is_mounted(monkeypatch) -> None:
    with pytest.raises(ValueError, match=r"disk_mb \(--disk-mb\) must be 4\.\.65536 MiB, not 2"):
        disks.check_size(2)
    monkeypatch.setattr(disks, "available", lambda: (False, "mounting a tmpfs needs root"))
    from networks.launcher import Launcher

    with pytest.raises(ValueError, match="disk_mb: mounting a tmpfs needs root"):
        Launcher("builtin", 3, disk_mb=16)


def test_unmount_never_raises(tmp_path: Path, monkeypatch) -> None:
    calls = []

    def run(cmd, **kw):
        calls.append(cmd)
        return subprocess.CompletedProcess(cmd, 32, "", "not mounted")

    monkeypatch.setattr(disks.subprocess, "run", run)
    disks.unmount(tmp_path)
    assert [c[:2] for c in calls] == [("umount", str(tmp_path)), ("umount", "-l")]
