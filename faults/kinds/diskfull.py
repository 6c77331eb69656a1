"""disk_full: the target's data dir runs out of space, for real.

The launcher mounts each node's data dir as a small filesystem of its own (a size-limited
tmpfs, ``networks.cluster --disk-mb N``: root only); the fault asks it, through the control API
(``fill_disk``), to fill that filesystem with a filler file (fallocate) until about 0 bytes are
free, and the heal (``free_disk``) deletes the filler. The node stays up: uploads must get a
clear error (507, not acknowledged), reads, downloads and searches go on, and nothing it
acknowledged before is lost. On a cluster whose data dirs are not small filesystems of their own
the fault is refused before anything is sent (``NotApplied``) and faults.fit says so first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..backends.control import small_disks_missing
from ..types import Step
from .base import DISK, FaultKind


class DiskFull(FaultKind):
    name = "disk_full"
    summary = "fills the target's data dir (a small filesystem of its own) with a filler file"
    acts_on = DISK
    heals_by = "deleting the filler file"

    @classmethod
    def unfit(cls, descriptor: Mapping[str, Any], backend: str | None = None) -> str | None:
        return small_disks_missing(descriptor)

    def inject(self, step: Step) -> dict[str, Any]:
        self.ctx.control.require_small_disks(self.name)
        return self.control_each(step, "fill_disk")

    def recover(self, step: Step) -> dict[str, Any]:
        return self.control_each(step, "free_disk")
