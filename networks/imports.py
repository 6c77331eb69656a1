"""Finding a definition's adapter class: ``module:Class`` or ``file.py:Class``.

A team's adapter usually lives beside its definition, not in an installed package, so the
definition's folder is importable: it is appended to ``sys.path`` (appended, not prepended, so a
file there named like one of peerload's packages, ``node.py`` say, never shadows it), and
``adapter = "file.py:Class"`` loads a file by its path relative to the definition. The node
processes get the same folder on their ``PYTHONPATH`` (``NetworkDefinition.env``).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

from reports.model import HOPS_RULES, MATCH_RULES
from reports.samples import OPERATIONS

from .adapter import Adapter

PY_SUFFIX = ".py"


def importable(folder: Path) -> None:
    """Make modules in ``folder`` importable by name (once; after everything else)."""
    entry = str(folder)
    if entry not in sys.path:
        sys.path.append(entry)


def import_adapter(ref: str, here: Path | None = None) -> type[Adapter]:
    """``module:Class`` (``here``, the definition's folder, importable) or ``file.py:Class``
    (relative to ``here``) -> the class, which must subclass ``networks.adapter.Adapter``;
    ``ValueError`` (one line) otherwise."""
    module_name, _, class_name = ref.partition(":")
    if not module_name or not class_name:
        raise ValueError(f"adapter {ref!r}: expected 'module:Class' or 'file.py:Class'")
    try:
        if module_name.endswith(PY_SUFFIX):
            module = _from_file(ref, (here or Path.cwd()) / module_name)
        else:
            if here is not None:
                importable(here)
            module = importlib.import_module(module_name)
    except ValueError:
        raise
    except ImportError as exc:
        where = f" (searched {here} too)" if here is not None else ""
        raise ValueError(f"adapter {ref!r}: cannot import {module_name}{where}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - the team's module failed while importing
        why = f"{type(exc).__name__}: {exc}"
        raise ValueError(f"adapter {ref!r}: importing {module_name} failed: {why}") from None
    cls = getattr(module, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, Adapter)):
        raise ValueError(f"adapter {ref!r}: {class_name} is not a networks.adapter.Adapter class")
    if cls.match not in MATCH_RULES:
        rules = ", ".join(MATCH_RULES)
        raise ValueError(f"adapter {ref!r}: match = {cls.match!r}: expected one of {rules}")
    if cls.hops not in HOPS_RULES:
        rules = ", ".join(HOPS_RULES)
        raise ValueError(f"adapter {ref!r}: hops = {cls.hops!r}: expected one of {rules}")
    if not _statuses_ok(cls.statuses):
        ops = ", ".join(OPERATIONS)
        raise ValueError(
            f"adapter {ref!r}: statuses = {cls.statuses!r}: expected a dict of operations "
            f"({ops}) to sets of HTTP statuses (400..599) or gRPC status names"
        )
    return cls


def _statuses_ok(statuses: object) -> bool:
    """Whether an adapter's ``statuses`` is a contract ``reports.statuses`` can judge with."""

    def status_ok(s: object) -> bool:
        return (type(s) is int and 400 <= s <= 599) or (isinstance(s, str) and s.isupper())

    return isinstance(statuses, dict) and all(
        op in OPERATIONS and isinstance(codes, set | frozenset) and all(map(status_ok, codes))
        for op, codes in statuses.items()
    )


def _from_file(ref: str, path: Path):
    """The module of a ``file.py`` (its folder importable too, for its own imports), imported
    once under its file name; a different module already holding that name is refused."""
    path = path.resolve()
    if not path.is_file():
        raise ValueError(f"adapter {ref!r}: no such file {path}")
    name = path.stem
    loaded = sys.modules.get(name)
    if loaded is not None:
        if Path(getattr(loaded, "__file__", "") or "").resolve() == path:
            return loaded
        raise ValueError(
            f"adapter {ref!r}: a module named {name} is already imported from "
            f"{getattr(loaded, '__file__', None) or 'elsewhere'}; rename the file"
        )
    importable(path.parent)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"not a Python module: {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module
