"""The seeded catalogs the launcher writes into each node's shared folder before it starts.

A network is only searched like a real one if its catalogs look like real ones: file names are
built from a vocabulary with Zipf popularity (a few words are in hundreds of names, most in
one), a share of files lives on several nodes (replicas: same name, same bytes), and sizes are
mostly small with a few multi-MiB files. Everything follows from (node names, seed, files per
node): the same inputs give the same corpus, byte for byte.

Names are ``{word}-{word}-{origin node}-{serial}.{ext}``, lower case ASCII. Every node's first
file carries the most popular word (so a search for it has hits on every node) and is never
replicated (so it is a file only that node holds). The vocabulary is substring-free and every
word holds a letter that uploads (``idx-<hex>…``), conformance files and extensions never
contain, so a word matches exactly the names it is a segment of, and nothing the run adds.

Beside its catalog, each folder holds what real shared folders collect (``CLUTTER``): a Finder
index and a folder-icon file, names a node may share or refuse (ours refuses both: hidden, and a
control character) but that must never stop it sharing the rest. No word is in their names, so
no search the harness makes finds them either way.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path

#: The quick profile's catalog: dozens of hits for a broad term on one node, written in a blink.
DEFAULT_FILES_PER_NODE = 80
MAX_FILES_PER_NODE = 5000
#: Files in the whole network (nodes x files per node): bounds disk use and writing time.
MAX_CORPUS_FILES = 25_000

ZIPF_S = 1.1
VOCABULARY_SIZE = 400
WORDS_PER_NAME = 2
EXTENSIONS = ("txt", "bin", "dat", "log")

SMALL_MIN, SMALL_MAX = 1024, 64 * 1024  # log-uniform: most files are a few KiB
LARGE_MIN, LARGE_MAX = 1024 * 1024, 8 * 1024 * 1024
LARGE_EVERY = 160  # one multi-MiB file per this many files of a node (none below)
MAX_LARGE_BYTES = 128 * 1024 * 1024  # all multi-MiB files of a network together

#: Files the operating system leaves in a shared folder (name -> size), not part of the catalog:
#: macOS's Finder index and a folder's custom-icon file (its name ends in a carriage return).
CLUTTER = {".DS_Store": 6148, "Icon\r": 0}

REPLICA_SHARE = 0.10  # of a node's files, also held by other nodes
MAX_EXTRA_COPIES = 2  # other nodes holding one replicated file

#: Term kinds by how many (node, file) hits a search has network-wide.
NAME, RARE, COMMON, POPULAR = "name", "rare", "common", "popular"
RARE_MAX_HITS = 5
POPULAR_MIN_HITS = 20

# Letters that never occur in upload names (``idx-<hex>-<digits>-<hex>.bin``): hex digits and
# the letters of "idx" and "bin". Every word holds one of the others, so no upload matches it.
UPLOAD_LETTERS = frozenset("0123456789abcdef" + "idxbn")
#: Names the harness adds while it runs (``networks/verify.py``'s index check): no word in them.
RESERVED = ("conformance", "idx")
_PHONETIC = (
    "alpha bravo charlie delta echo foxtrot golf hotel juliett kilo lima mike november oscar "
    "papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu"
).split()
_CONSONANTS, _VOWELS = "bdfgklmnprstvz", "aeiou"
_VOCABULARY_SEED = 19  # fixed: the words are the same for every corpus seed


@dataclass(frozen=True)
class CorpusFile:
    """One file to write: its bytes follow from ``key`` alone, so every replica is the same."""

    name: str
    size: int
    key: str

    def data(self) -> bytes:
        return random.Random(self.key).randbytes(self.size)


@dataclass(frozen=True)
class Term:
    """A search term and the hits it must have at seed time, per node (node-to-node downloads
    during a run only add copies)."""

    text: str
    kind: str  # NAME | RARE | COMMON | POPULAR
    hits: Mapping[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.hits.values())


def _usable(word: str, taken: list[str]) -> bool:
    return (
        not set(word) <= UPLOAD_LETTERS
        and not any(word in reserved for reserved in RESERVED)
        and not any(word in other or other in word for other in taken)
    )


def _vocabulary() -> tuple[str, ...]:
    """Words by popularity rank: the phonetic alphabet first, then pronounceable made-up ones."""
    words: list[str] = []
    for word in _PHONETIC:
        if _usable(word, words):
            words.append(word)
    rng = random.Random(_VOCABULARY_SEED)
    while len(words) < VOCABULARY_SIZE:
        word = "".join(rng.choice(_CONSONANTS) + rng.choice(_VOWELS) for _ in range(3))
        if _usable(word, words):
            words.append(word)
    return tuple(words)


VOCABULARY = _vocabulary()
_WORDS = frozenset(VOCABULARY)
_CUM_WEIGHTS = list(accumulate(1 / rank**ZIPF_S for rank in range(1, VOCABULARY_SIZE + 1)))


def check_size(nodes: int, files_per_node: int) -> None:
    """ValueError (a one-line message for a CLI) when the corpus asked for is out of bounds."""
    if not 0 <= files_per_node <= MAX_FILES_PER_NODE:
        raise ValueError(f"--files-per-node must be 0..{MAX_FILES_PER_NODE}, not {files_per_node}")
    if nodes * files_per_node > MAX_CORPUS_FILES:
        raise ValueError(
            f"--files-per-node: {nodes} nodes x {files_per_node} files is more than "
            f"{MAX_CORPUS_FILES} corpus files"
        )


def _words(rng: random.Random, first: str | None) -> list[str]:
    words = [first] if first else []
    while len(words) < WORDS_PER_NAME:
        word = rng.choices(VOCABULARY, cum_weights=_CUM_WEIGHTS)[0]
        if word not in words:
            words.append(word)
    return words


def _size(rng: random.Random, low: int, high: int) -> int:
    return int(math.exp(rng.uniform(math.log(low), math.log(high))))


def plan(nodes: list[str], seed: int, files_per_node: int) -> dict[str, list[CorpusFile]]:
    """Every node's files (its own, then the replicas it holds of other nodes' files)."""
    check_size(len(nodes), files_per_node)
    rng = random.Random(f"corpus:{seed}")
    own: dict[str, list[CorpusFile]] = {}
    large_bytes = 0
    for node in nodes:
        large = set(rng.sample(range(1, files_per_node), files_per_node // LARGE_EVERY))
        files = []
        for serial in range(files_per_node):
            words = _words(rng, VOCABULARY[0] if serial == 0 else None)
            ext = EXTENSIONS[serial % len(EXTENSIONS)]
            name = f"{'-'.join(words)}-{node}-{serial:05d}.{ext}"
            size = _size(rng, SMALL_MIN, SMALL_MAX)
            if serial in large and large_bytes + LARGE_MAX <= MAX_LARGE_BYTES:
                size = _size(rng, LARGE_MIN, LARGE_MAX)
                large_bytes += size
            files.append(CorpusFile(name, size, f"{seed}:{name}"))
        own[node] = files
    held = {node: list(files) for node, files in own.items()}
    for node, files in own.items():
        others = [n for n in nodes if n != node]
        small = [f for f in files[1:] if f.size <= SMALL_MAX]
        if not others:
            continue
        for file in rng.sample(small, min(len(small), int(files_per_node * REPLICA_SHARE))):
            copies = rng.randint(1, min(MAX_EXTRA_COPIES, len(others)))
            for other in rng.sample(others, copies):
                held[other].append(file)
    return held


def write_corpus(shared_dir: Path, files: Iterable[CorpusFile]) -> list[dict]:
    """Write a node's files, and the ``CLUTTER``, into its shared folder; the manifest of its
    catalog (name, size, sha256)."""
    shared_dir.mkdir(parents=True, exist_ok=True)
    for name, size in CLUTTER.items():
        (shared_dir / name).write_bytes(CorpusFile(name, size, name).data())
    manifest = []
    for file in files:
        data = file.data()
        (shared_dir / file.name).write_bytes(data)
        manifest.append(
            {"name": file.name, "size": file.size, "sha256": hashlib.sha256(data).hexdigest()}
        )
    return manifest


def _kind(total: int) -> str:
    if total <= RARE_MAX_HITS:
        return RARE
    return POPULAR if total >= POPULAR_MIN_HITS else COMMON


def search_terms(manifests: Mapping[str, Iterable[dict]], names: bool = True) -> list[Term]:
    """Terms to search for and the hits each has per node: every vocabulary word in a name
    (rare to popular, most popular first) and, with ``names``, every exact file name (its
    holders). A node's hits for a term are the files whose name contains it, as a node
    searching by substring counts them."""
    by_word: dict[str, Counter] = defaultdict(Counter)
    by_name: dict[str, Counter] = defaultdict(Counter)
    for node, files in manifests.items():
        for file in files:
            by_name[file["name"]][node] += 1
            for segment in set(file["name"].split(".")[0].split("-")) & _WORDS:
                by_word[segment][node] += 1
    words = sorted(by_word.items(), key=lambda item: -sum(item[1].values()))
    terms = [Term(w, _kind(sum(h.values())), dict(h)) for w, h in words]
    if names:
        terms += [Term(n, NAME, dict(h)) for n, h in by_name.items()]
    return terms
