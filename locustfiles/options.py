"""Command-line options of the suite, shown in the web UI too, and the two run profiles."""

from __future__ import annotations

from dataclasses import dataclass, replace

from networks.corpus import DEFAULT_FILES_PER_NODE
from networks.definition import DEFAULT_NETWORK, load_network
from networks.topology import DEFAULT as FULL_MESH

PROFILES = ("quick", "full", "soak")
#: Seconds with no users before the first level: at least two monitor readings (every
#: ``monitor.INTERVAL_S``, 2 s) whose whole interval lies inside it, wherever the first row falls
#: (``idle_cpu``, reports/resources.py, counts no reading that began before the window). 7 s
#: once held only one such reading in CI (the window was recorded 6.01 s long, the readings
#: 2.00, 4.03 and 6.05 s into it): 9 s leaves room for two.
IDLE_S = 9.0
#: A soak's fault stage ends this long before ``-t``, so the run ends its stages itself (a run
#: stopped by the clock inside a stage is cut short).
SOAK_MARGIN_S = 2.0


@dataclass(frozen=True)
class Profile:
    """How long each stage of the Phase 4 sequence lasts."""

    verify_s: float
    level_s: float
    fault_users: int
    stress_s: float
    stress_levels: tuple[int, ...]  # the ramp's first steps; it then doubles ...
    stress_max_users: int  # ... up to this, unless a step breaks or the run time ends first
    default_plan: str | None
    #: The embedded network's size and links (networks/topology.py). The quick profile runs a
    #: ring of 5, where the TTL matters (2 hops across, two ways round, so duplicates too) and
    #: every CI run checks TTL at depth; the full profile keeps the 3-node full mesh.
    nodes: int = 3
    topology: str = "full"
    #: Corpus files per node of the embedded network (networks/corpus.py): the quick catalog
    #: is small files only; the full one has multi-MiB files and hundreds of hits per word.
    files_per_node: int = DEFAULT_FILES_PER_NODE
    #: A soak: the fault stage (steady load at ``fault_users``, the plan's faults at its start)
    #: lasts what ``-t`` leaves after the idle window, the levels and the stress step, this long
    #: without ``-t``; 0: as long as the plan. The profile that catches slow leaks.
    soak_s: float = 0.0


QUICK = Profile(
    verify_s=3,
    level_s=6,
    fault_users=10,
    stress_s=6,
    stress_levels=(40,),
    stress_max_users=320,
    default_plan="quick",
    nodes=5,
    topology="ring",
)
FULL = Profile(
    verify_s=10,
    level_s=30,
    fault_users=10,
    stress_s=20,
    stress_levels=(50,),
    stress_max_users=3200,
    default_plan="phase4",
    files_per_node=500,
)
#: The full profile's stages with a long steady fault stage, ended by one stress step.
SOAK = replace(FULL, stress_levels=(40,), stress_max_users=40, soak_s=20 * 60.0)
LEVELS = (5, 10, 20, 25)
NO_PLAN = "none"


def profile(name: str | None) -> Profile:
    """The profile named by Locust's ``--profile`` (quick when unset); ValueError otherwise."""
    if name in (None, "", "quick"):
        return QUICK
    if name == "full":
        return FULL
    if name == "soak":
        return SOAK
    raise ValueError(f"--profile must be one of {', '.join(PROFILES)}, not {name!r}")


def fault_stage_s(prof: Profile, plan_s: float, run_time: float | None, levels_s: float) -> float:
    """The fault stage's length: the plan's; a soak's what ``run_time`` leaves after the idle
    window, ``levels_s`` of levels and its stress steps (``soak_s`` without one), never less
    than the plan's."""
    if not prof.soak_s:
        return plan_s
    if not run_time:
        return max(plan_s, prof.soak_s)
    stress_s = prof.stress_s * len(prof.stress_levels)
    return max(plan_s, run_time - IDLE_S - levels_s - stress_s - SOAK_MARGIN_S)


def node_count(options) -> int:
    """The embedded network's size: ``--nodes``, else its profile's."""
    return getattr(options, "nodes", 0) or profile(options.profile).nodes


def topology_spec(options) -> str:
    """The embedded network's topology: ``--topology``, else its profile's; a network that
    joins by its own pattern (``node.join.peers``), not along a topology, runs its profile's
    nodes as the full mesh it can form (an unloadable network is left to its own error)."""
    given = getattr(options, "topology", "")
    if given:
        return given
    spec = profile(options.profile).topology
    try:
        joins = load_network(getattr(options, "network", "") or DEFAULT_NETWORK).joins_by_topology
    except ValueError:
        joins = True
    return spec if joins else FULL_MESH


def files_per_node(options) -> int:
    """The embedded network's corpus files per node: ``--files-per-node``, else its profile's."""
    return getattr(options, "files_per_node", 0) or profile(options.profile).files_per_node


def plan_spec(options) -> str:
    """The fault plan a run asks for: ``--fault-plan``, else its profile's; ``NO_PLAN``."""
    return options.fault_plan or profile(options.profile).default_plan or NO_PLAN


def int_list(text: str | None, default: tuple[int, ...]) -> tuple[int, ...]:
    """``"5,10,20"`` -> (5, 10, 20); ``""`` -> (); None (not given) -> ``default``."""
    if text is None:
        return default
    try:
        values = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise ValueError(f"not a comma-separated list of user counts: {text!r}") from None
    if any(v < 1 or v > 100_000 for v in values):
        raise ValueError(f"user counts must be 1..100000: {text!r}")
    return values


LOCAL_ONLY = "127.0.0.1"


def add_options(parser) -> None:
    """Locust's ``init_command_line_parser`` listener (registered by the lifecycle: this module
    does not import Locust, so option checks can be unit-tested without patching the process)."""
    # Security by default: the web UI can crash nodes, so it listens on loopback unless told
    # otherwise (--web-host 0.0.0.0, ideally with --web-login); so does the master for workers
    # (--master-bind-host 0.0.0.0 for workers on other machines).
    parser.set_defaults(web_host=LOCAL_ONLY, master_bind_host=LOCAL_ONLY)
    # Our dashboard line is the live view; Locust's 11-line table every 2 s drowned it. Its
    # final summary stays; --print-stats brings the periodic tables back (see lifecycle).
    parser.set_defaults(only_summary=True)
    # Options inside an argument group never show in the web UI (FIELD-NOTES): add them flat.
    parser.add_argument(
        "--cluster",
        default="",
        help="cluster descriptor file or comma-separated node URLs; empty: start an embedded one",
    )
    parser.add_argument(
        "--nodes",
        type=int,
        default=0,
        help="embedded cluster size (0: the profile's, 5 quick, 3 full)",
    )
    parser.add_argument(
        "--topology",
        default="",
        help="the embedded network's links: full, line, ring, random:d=4, smallworld:k=4,p=0.1, "
        "twotier:ultra=U,leaf=3 (seeded by --seed); default: the profile's (full)",
    )
    parser.add_argument(
        "--network",
        default="builtin",
        help="the network under test: builtin (peerload's node), a network definition file "
        "(TOML), or module:Class (an adapter whose module names its definition)",
    )
    parser.add_argument(
        "--netns",
        action="store_true",
        default=False,
        help="start each node in its own network namespace (automatic for partitions when "
        "the network's nodes share one address)",
    )
    # --profile quick|full|soak is Locust's own --profile option (a free-form run label), read here.
    parser.add_argument(
        "--results-dir",
        default="",
        help="folder for this run's results (must be empty unless --overwrite); "
        "default: results/<UTC start time>/, results/latest the newest",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        default=False,
        help="let --results-dir be a folder that already holds files",
    )
    parser.add_argument(
        "--failover", choices=("on", "off"), default="on", help="users fail over to a live node"
    )
    parser.add_argument(
        "--keep-going",
        action="store_true",
        default=False,
        help="run every stage even when the initial verification fails, and judge everything "
        "(default: the run stops before any load and the report leads with what failed)",
    )
    parser.add_argument(
        "--fault-plan",
        default="",
        help="fault plan file (TOML/JSON), a shipped plan (quick, phase4, links, churn, wide, "
        "scale), or none; default: the profile's",
    )
    parser.add_argument(
        "--files-per-node",
        type=int,
        default=0,
        help="corpus files of each node of the embedded network (0: the profile's, "
        f"{DEFAULT_FILES_PER_NODE} quick, {FULL.files_per_node} full)",
    )
    parser.add_argument(
        "--disk-mb",
        type=int,
        default=0,
        help="each node of the embedded network on a small disk (tmpfs) of N MiB of its own "
        "(Linux, root), so a disk can run full: the initial verification's full_disk check, "
        "the disk_full fault (0: only for a plan with disk_full, 256 MiB where root)",
    )
    parser.add_argument("--levels", default=None, help="concurrency levels, e.g. 5,10,20,25")
    parser.add_argument("--step-time", type=float, default=0, help="seconds per level (0: profile)")
    parser.add_argument(
        "--stress-levels",
        default=None,
        help="first stress steps, e.g. 50,100; the ramp then doubles until a step breaks "
        "('' for no stress)",
    )
    parser.add_argument(
        "--stress-p95-ms",
        type=float,
        default=2000,
        help="p95 that breaks a stress step (the threshold stress_p95_ms)",
    )
    parser.add_argument("--thresholds", default="", help="readiness thresholds file (TOML/JSON)")
    parser.add_argument(
        "--baseline",
        default="",
        help="a previous run's results folder: slower or smaller beyond the tolerances is a "
        "REGRESSION verdict (exit code 3); it must be of this run's setup (network, nodes, "
        "profile, levels, step time, stress, fault plan)",
    )
    parser.add_argument(
        "--baseline-any-setup",
        action="store_true",
        default=False,
        help="compare with a baseline of another setup anyway (every regression row says so)",
    )
    parser.add_argument(
        "--threshold",
        default="",
        help="threshold overrides, e.g. success_pct=90,p95_ms=800 (names as in the report)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=42,
        help="seed for users' choices and the corpus (a fault plan keeps its own seed)",
    )


def threshold_overrides(text: str) -> dict[str, str]:
    """``"success_pct=90,p95_ms=800"`` -> {"success_pct": "90", "p95_ms": "800"}."""
    overrides = {}
    for item in filter(None, (part.strip() for part in (text or "").split(","))):
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise ValueError(f"--threshold: expected NAME=VALUE, got {item!r}")
        overrides[name.strip()] = value.strip()
    return overrides
