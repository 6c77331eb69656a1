"""What every fault kind is: plan checks, targeting, and a start that always has its heal.

A kind is a small class (Jepsen's nemesis shape): class methods validate and resolve plan
entries (pure, no cluster needed); an instance, bound to a running cluster, injects and
recovers. The bookkeeping lives here, once: a second start of an active fault is refused, a
heal with nothing to heal says so, and a fault whose start failed half-way stays active so the
final heal still undoes whatever part of it took effect (one refused before it acted does not).

A kind also states its facts (``KindFacts``: does it take its target out of service, is it a
Cluster-page button, how it heals, its parameters), so that the runner, the journal, the load
test's windows and the report's judges read them from the kind, never from lists of their own:
a new kind is one module plus one registry line.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any, ClassVar

from .. import targets
from ..backends.control import NotApplied, each_node
from ..backends.netns import NetnsNetwork
from ..types import FaultSpec, PlanError, Resolved, Step

if TYPE_CHECKING:
    from ..backends import ClusterContext

NOTHING_TO_HEAL = "nothing to heal"
PROCESS, NETWORK, NOTHING = "process", "network", "nothing"
"""What a kind acts on (``KindFacts.acts_on``): the target's process, its links, or nothing."""
DISK = "disk"
"""``acts_on`` of a kind that acts on the target's data dir (disk_full)."""


@dataclass(frozen=True)
class Manual:
    """A kind offered as a button on the Cluster page: the button's label, and the label of the
    button that heals it (any heal button heals every fault on its node)."""

    label: str
    heal_label: str


@dataclass(frozen=True)
class KindFacts:
    """What a fault kind is, for everyone who does not run it (web UI, windows, judges)."""

    name: str
    summary: str
    """What it does, in one line."""
    takes_down: bool
    """Its target is out of service while it is active (crash, stop, pause, partition): judged
    as a node failure, counted as down by the plan's majority guard."""
    acts_on: str
    """``process`` (crash, stop, pause), ``network`` (partition, latency, loss, bandwidth) or
    ``nothing``."""
    heals_by: str
    """How it is healed, in words ("" for an instant kind, which has nothing to heal)."""
    instant: bool
    """A single step with no duration and no heal (heal)."""
    manual: Manual | None
    """Its Cluster-page button, or None when it is not offered by hand."""
    params: Mapping[str, str] = field(default_factory=dict)
    """Plan fields it accepts beyond the common ones, with what each means."""
    loses_messages: bool = False
    """Messages on its target's links may be lost while it is active (loss, bandwidth), though
    the target stays in service (``takes_down`` is False: not judged as a node failure). Its
    peers may legitimately stop hearing from it, or mark it dead, so the report's model does not
    require its files of a search nor judge the answers it gives (reports/model.py)."""
    keeps_reach: bool = False
    """Every node stays reachable through the others while it is active (one link cut): no
    peer may be declared dead then (reports/accuracy.py judges every view while it lasts)."""

    def record_fields(self) -> dict[str, Any]:
        """The facts every journal step record carries, so consumers judge from the record."""
        return {
            "takes_down": self.takes_down,
            "acts_on": self.acts_on,
            "loses_messages": self.loses_messages,
            "keeps_reach": self.keeps_reach,
        }

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def whole_number(fault: FaultSpec, name: str, low: int, high: int, what: str, unit: str) -> int:
    """Plan field ``name``: a whole number in ``low..high``; PlanError naming the field (missing:
    ``what`` it is; else the range, in ``unit``)."""
    if name not in fault.options:
        raise PlanError(f"{fault.where}.{name}: missing ({what})")
    value = fault.options[name]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        of = f" of {unit}" if unit else ""
        raise PlanError(
            f"{fault.where}.{name}: expected a whole number{of}, {low}..{high} (got {value!r})"
        )
    return value


class FaultStateError(RuntimeError):
    """A start or heal that does not fit the fault's current state (e.g. a second start)."""


class WrongBackend(NotApplied):
    """The run's network backend cannot apply this kind (``FaultKind.needs_backend``): refused
    before anything was done, so nothing is active and there is nothing to heal."""


class FaultKind:
    """Base for fault kinds. Subclasses set the class attributes and implement inject/recover."""

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    """What it does, in one line (``KindFacts.summary``)."""
    takes_down: ClassVar[bool] = False
    """Its target is out of service while active (``KindFacts.takes_down``)."""
    acts_on: ClassVar[str] = NOTHING
    loses_messages: ClassVar[bool] = False
    """Messages on its target's links may be lost while active (``KindFacts.loses_messages``)."""
    keeps_reach: ClassVar[bool] = False
    """Every node stays reachable around it while active (``KindFacts.keeps_reach``)."""
    heals_by: ClassVar[str] = ""
    manual: ClassVar[Manual | None] = None
    """Its Cluster-page button (see ``manual_params`` for what the button applies)."""
    instant: ClassVar[bool] = False
    """A single step with no duration and nothing to heal afterwards (heal)."""
    exclusive: ClassVar[bool] = False
    """Never overlaps another fault of the same kind, whatever the nodes (partition)."""
    params: ClassVar[Mapping[str, str]] = {}
    """Plan fields this kind accepts beyond the common ones, with what each means; ``validate``
    checks them."""
    needs_backend: ClassVar[str | None] = None
    """The only network backend that can apply it (``netns`` for bandwidth), or None: any. With
    another backend its start fails at once, touching nothing, and faults.fit says so first."""
    default_target: ClassVar[str | None] = "one"
    selectors: ClassVar[tuple[str, ...]] = targets.SELECTORS
    """Which of one/each/minority/all a target may be (node names are always allowed)."""

    @classmethod
    def facts(cls) -> KindFacts:
        """The class attributes of the same names, as one value."""
        return KindFacts(**{f.name: getattr(cls, f.name) for f in fields(KindFacts)})

    #: Applied without any node's help only to nodes in namespaces of their own (latency: a
    #: delay line per namespace), so a network without the admin API needs ``--netns`` for it.
    needs_namespaces: ClassVar[bool] = False

    @classmethod
    def needs_admin_api(cls, backend: str, descriptor: Mapping[str, Any] | None = None) -> bool:
        """Whether it acts through peerload's node /admin API with ``backend`` (control |
        netns) on the cluster of ``descriptor``: on a network whose nodes do not serve it, it
        cannot be applied (faults.fit)."""
        return False

    @classmethod
    def wipes_data(cls, params: Mapping[str, Any]) -> bool:
        """Whether a step with these parameters empties its node's data dir (the fault stage
        marks its window ``wipes``: the model then ends what the node held)."""
        return False

    @classmethod
    def wrong_backend(cls, backend: str) -> str | None:
        """Why ``backend`` cannot apply it (``needs_backend``), or None when it can."""
        if cls.needs_backend is None or backend == cls.needs_backend:
            return None
        return f"needs the {cls.needs_backend} backend, and this run's is {backend}"

    @classmethod
    def by_address(cls) -> bool:
        """Whether the netns backend applies it with nftables rules on the nodes' addresses (a
        network fault it needs no node for: partition, loss, bandwidth), so nodes that share
        one address need a namespace each."""
        return cls.acts_on == NETWORK and not cls.needs_admin_api(NetnsNetwork.name)

    @classmethod
    def unfit(cls, descriptor: Mapping[str, Any], backend: str | None = None) -> str | None:
        """Why the cluster of ``descriptor`` cannot have it with ``backend`` (disk_full needs
        small data dirs; latency in namespaces needs a TUN device), or None: faults.fit names
        such faults before the run, and their steps fail in the journal without touching the
        cluster."""
        return None

    @classmethod
    def manual_params(cls, target: str, nodes: Sequence[str]) -> dict[str, Any]:
        """The parameters its Cluster-page button applies to ``target`` (none by default)."""
        return {}

    # -- plan side (pure) ----------------------------------------------------------------
    @classmethod
    def validate(cls, fault: FaultSpec) -> None:
        """Check the kind-specific fields; raise PlanError naming the field."""
        spec = fault.target
        if targets.share(spec) is not None and targets.SHARE_LIKE in cls.selectors:
            return
        if targets.is_selector(spec) and spec not in cls.selectors:
            allowed = ", ".join(cls.selectors) or "none"
            raise PlanError(
                f'{fault.where}.target: "{spec}" is not allowed for {cls.name} '
                f"(selectors allowed: {allowed}, or node names)"
            )

    @classmethod
    def named_nodes(cls, fault: FaultSpec) -> list[tuple[str, str]]:
        """(field, node name) for every node the plan names, checked against the cluster."""
        spec = fault.target
        if spec is None or targets.is_selector(spec):
            return []
        names = [spec] if isinstance(spec, str) else list(spec)
        return [(f"{fault.where}.target", n) for n in names]

    @classmethod
    def resolve(
        cls,
        fault: FaultSpec,
        nodes: Sequence[str],
        rng: random.Random,
        layout: targets.Layout = targets.FULL_MESH,
    ) -> list[Resolved]:
        """The concrete applications of this fault, in order (several for target = "each");
        ``layout``: the network's links and roles, for targets that need them."""
        groups = cls.groups(fault, fault.target or "all", nodes, rng, layout)
        return [Resolved(targets.label(g), tuple(g), cls.step_params(fault)) for g in groups]

    @staticmethod
    def groups(
        fault: FaultSpec,
        spec: str | Sequence[str],
        nodes: Sequence[str],
        rng: random.Random,
        layout: targets.Layout,
    ) -> list[list[str]]:
        """``targets.select``, its ValueError (a role the network lacks) a PlanError."""
        try:
            return targets.select(spec, nodes, rng, layout)
        except ValueError as exc:
            raise PlanError(f"{fault.where}.target: {exc}") from None

    @classmethod
    def step_params(cls, fault: FaultSpec) -> dict[str, Any]:
        """The parameters each of the fault's steps carries (its plan fields, by default)."""
        return dict(fault.options)

    @classmethod
    def down(cls, step: Resolved | Step, nodes: Sequence[str]) -> set[str]:
        """Nodes this fault takes away from the majority while it is active."""
        return set(step.nodes) if cls.takes_down else set()

    # -- run side ------------------------------------------------------------------------
    def __init__(self, ctx: ClusterContext) -> None:
        self.ctx = ctx
        self.active: dict[str, Step] = {}

    def start(self, step: Step) -> dict[str, Any]:
        """Inject the fault; refused if the same fault instance is already active."""
        if self.instant:
            return self.inject(step)
        if step.key in self.active:
            raise FaultStateError(f"{step.key} is already active; heal it first")
        wrong = self.wrong_backend(self.ctx.network.name)
        if wrong:
            raise WrongBackend(f"{self.name} {wrong}")
        self.active[step.key] = step
        try:
            return self.inject(step)
        except NotApplied:  # refused before anything was sent: nothing took effect to undo
            del self.active[step.key]
            raise

    def heal(self, step: Step) -> dict[str, Any]:
        """Undo the fault started as ``step.key``; says so when there is nothing to heal."""
        started = self.active.get(step.key)
        if started is None:
            return {"note": NOTHING_TO_HEAL}
        detail = self.recover(started)
        del self.active[step.key]
        return detail

    def inject(self, step: Step) -> dict[str, Any]:
        raise NotImplementedError

    def control_each(self, step: Step, action: str) -> dict[str, Any]:
        """The control API's ``action`` (kill, start, pause, ...) on every node of the step."""
        return {"nodes": each_node(step.nodes, lambda n: self.ctx.control.node_action(n, action))}

    def recover(self, step: Step) -> dict[str, Any]:
        raise NotImplementedError
