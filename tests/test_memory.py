"""The heap trim after transfers: once per burst, off the caller's thread, never mid-transfer."""

from __future__ import annotations

import threading
import time

from node import memory


class RecordingLibc:
    """Stands in for glibc (not one of our components): records malloc_trim calls."""

    def __init__(self) -> None:
        self.trims: list[str] = []

    def malloc_trim(self, pad: int) -> int:
        self.trims.append(threading.current_thread().name)
        return 1


def test_a_burst_of_transfers_is_trimmed_once_after_it_ends(monkeypatch):
    libc = RecordingLibc()
    monkeypatch.setattr(memory, "LIBC", libc)
    monkeypatch.setattr(memory, "TRIM_DELAY_S", 0.05)
    transfers = memory.Transfers()
    with transfers, transfers:
        pass
    with transfers:
        pass
    assert libc.trims == []  # not on the caller's thread, not yet
    time.sleep(0.3)
    assert len(libc.trims) == 1 and libc.trims[0] != threading.current_thread().name


def test_no_trim_while_a_transfer_runs(monkeypatch):
    libc = RecordingLibc()
    monkeypatch.setattr(memory, "LIBC", libc)
    monkeypatch.setattr(memory, "TRIM_DELAY_S", 0.05)
    transfers = memory.Transfers()
    with transfers:
        pass
    with transfers:
        time.sleep(0.2)  # the timer fires meanwhile and finds a transfer running
        assert libc.trims == []
    time.sleep(0.3)
    assert len(libc.trims) == 1  # trimmed after the second one ended
