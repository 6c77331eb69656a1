"""How long does the launcher take to write the seeded catalogs (networks/corpus.py)?

    python bench/corpus_bench.py [--cases 3x80,3x500,100x200] [--seed 7]

For each NODESxFILES case: planning and writing every node's catalog with its manifest (what
``Launcher.start_all`` does before the first node starts), against a baseline in the same run:
writing the same files, same sizes, from bytes already in memory (what the disk costs alone).
The ratio is corpus / baseline: generating and hashing the bytes on top of writing them.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from networks import corpus  # noqa: E402

DEFAULT_CASES = "3x80,3x500,100x200"
MIB = 2**20


def write_corpus(root: Path, names: list[str], seed: int, files: int) -> tuple[float, int, int]:
    """Seconds, bytes and files of planning and writing every node's catalog."""
    start = time.perf_counter()
    plan = corpus.plan(names, seed, files)
    manifests = [corpus.write_corpus(root / n / "shared", plan[n]) for n in names]
    took = time.perf_counter() - start
    return took, sum(f["size"] for m in manifests for f in m), sum(map(len, manifests))


def write_baseline(root: Path, names: list[str], seed: int, files: int) -> float:
    """Seconds to write the same files from one in-memory buffer (no generation, no hashing)."""
    plan = corpus.plan(names, seed, files)
    buffer = bytes(max((f.size for fs in plan.values() for f in fs), default=0))
    start = time.perf_counter()
    for node in names:
        shared = root / node / "shared"
        shared.mkdir(parents=True, exist_ok=True)
        for file in plan[node]:
            (shared / file.name).write_bytes(buffer[: file.size])
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cases", default=DEFAULT_CASES, help=f"NODESxFILES,… ({DEFAULT_CASES})")
    p.add_argument("--seed", type=int, default=7)
    a = p.parse_args(argv)
    try:
        cases = [tuple(int(x) for x in c.split("x")) for c in a.cases.split(",")]
        for nodes, files in cases:
            corpus.check_size(nodes, files)
    except ValueError as exc:
        print(f"corpus_bench: {exc}", file=sys.stderr)
        return 2
    print(f"{'case':>10} {'files':>7} {'MiB':>7} {'corpus s':>9} {'baseline s':>11} {'ratio':>6}")
    for nodes, files in cases:
        names = [f"n{i + 1}" for i in range(nodes)]
        root = Path(tempfile.mkdtemp(prefix="peerload-corpus-bench-"))
        try:
            base = write_baseline(root / "baseline", names, a.seed, files)
            took, size, count = write_corpus(root / "corpus", names, a.seed, files)
        finally:
            shutil.rmtree(root, ignore_errors=True)
        case = f"{nodes}x{files}"
        print(
            f"{case:>10} {count:>7} {size / MIB:>7.1f} {took:>9.2f} {base:>11.2f} "
            f"{took / base:>6.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
