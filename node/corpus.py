"""A seeded corpus of distinct files of mixed sizes, so searches have local and remote hits.

Every node gets files under shared topic words (a search for ``alpha`` hits every node) and
names carrying the node's own name (a search for ``n3-`` hits only n3).
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

TOPICS = ("alpha", "bravo", "charlie", "delta")
SIZES = (4 * 1024, 16 * 1024, 64 * 1024, 256 * 1024, 1024 * 1024, 4 * 1024 * 1024)
EXTENSIONS = ("txt", "bin", "dat", "log")


def corpus_for(node_name: str, seed: int, files: int = 8) -> list[tuple[str, int]]:
    """(name, size) pairs for one node: deterministic for (node_name, seed)."""
    rng = random.Random(f"{seed}:{node_name}")
    plan = []
    for i in range(files):
        topic = TOPICS[i % len(TOPICS)]
        size = SIZES[i % len(SIZES)] + rng.randrange(0, 1024)
        plan.append((f"{topic}-{node_name}-{i:03d}.{EXTENSIONS[i % len(EXTENSIONS)]}", size))
    return plan


def write_corpus(shared_dir: Path, node_name: str, seed: int, files: int = 8) -> list[dict]:
    """Write the node's corpus into its shared folder; the manifest of what was written."""
    shared_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(f"{seed}:{node_name}:content")
    manifest = []
    for name, size in corpus_for(node_name, seed, files):
        data = rng.randbytes(size)
        (shared_dir / name).write_bytes(data)
        manifest.append({"name": name, "size": size, "sha256": hashlib.sha256(data).hexdigest()})
    return manifest
