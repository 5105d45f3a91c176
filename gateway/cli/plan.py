"""What ``fngate deploy`` must do to make a function what its manifest says: compare the
:class:`FunctionSpec` with the function and triggers the gateway has (as JSON) and list the
changes. Pure: no I/O, so ``--dry-run`` and the real deploy share it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from gateway.cli.manifest import FunctionSpec, TriggerSpec, runtime_family

__all__ = ["VERSIONED", "FunctionPlan", "TriggerChange", "plan_function"]

#: Fields whose change makes a new version (the others change in place).
VERSIONED = ("code", "handler", "runtime", "dependencies")


@dataclass(frozen=True, slots=True)
class TriggerChange:
    """A trigger to add (``id`` None), update (``id`` and ``spec``) or remove (no spec)."""

    action: Literal["add", "update", "remove"]
    label: str
    spec: TriggerSpec | None = None
    id: int | None = None


@dataclass(slots=True)
class FunctionPlan:
    """The changes for one function; ``body`` is the create or update request body."""

    name: str
    action: Literal["create", "update", "unchanged"]
    changed: list[str] = field(default_factory=list)
    body: dict[str, Any] = field(default_factory=dict)
    triggers: list[TriggerChange] = field(default_factory=list)

    @property
    def new_version(self) -> bool:
        """Whether applying it makes a version (which may need a build)."""
        return self.action == "create" or any(f in VERSIONED for f in self.changed)

    @property
    def empty(self) -> bool:
        return self.action == "unchanged" and not self.triggers


def plan_function(spec: FunctionSpec, current: dict[str, Any] | None,
                  current_triggers: list[dict[str, Any]]) -> FunctionPlan:
    """The plan turning ``current`` (the API's Function, or None when there is none) and
    its triggers into ``spec``. Fields the manifest leaves out are left as they are;
    triggers are reconciled only when the manifest lists them."""
    if current is None:
        body = dict(spec.fields)
        if spec.triggers:
            body["triggers"] = [t.body() for t in spec.triggers]
        adds = [TriggerChange("add", _label(t)) for t in spec.triggers or ()]
        return FunctionPlan(spec.name, "create", sorted(spec.fields), body, adds)
    changed = [key for key, value in spec.fields.items()
               if not _same_field(key, value, current.get(key))]
    plan = FunctionPlan(spec.name, "update" if changed else "unchanged", changed,
                        {key: spec.fields[key] for key in changed})
    if spec.triggers is not None:
        plan.triggers = _reconcile(spec.triggers, current_triggers)
    return plan


def _same_field(key: str, wanted: Any, have: Any) -> bool:
    if key == "runtime":
        return bool(runtime_family(str(wanted)) == have)
    if key == "handler":
        return bool(str(wanted).rsplit(".", 1)[-1] == have)
    if key == "name":
        return str(wanted).lower() == str(have).lower()
    if key == "dependencies":
        return [str(d).strip() for d in wanted] == list(have or [])
    return bool(wanted == have)


def _identity(kind: str, name: str | None, config: dict[str, Any]) -> tuple[str, str]:
    """What makes two triggers the same one: an HTTP path, a queue, a cron's name (or its
    schedule when it has none)."""
    if kind == "http":
        return kind, str(config.get("path"))
    if kind == "queue":
        return kind, str(config.get("queue"))
    return kind, name or str(config.get("schedule"))


def _label(spec: TriggerSpec) -> str:
    return f"{spec.type} {_identity(spec.type, spec.name, spec.config)[1]}"


def _same_config(wanted: dict[str, Any], have: dict[str, Any]) -> bool:
    for key, value in wanted.items():
        other = have.get(key)
        if key == "methods" and isinstance(value, list) and isinstance(other, list):
            if sorted(str(v).upper() for v in value) != sorted(other):
                return False
        elif value != other:
            return False
    return True


def _reconcile(wanted: tuple[TriggerSpec, ...],
               have: list[dict[str, Any]]) -> list[TriggerChange]:
    by_identity = {_identity(t["type"], t.get("name"), t.get("config") or {}): t for t in have}
    changes: list[TriggerChange] = []
    for spec in wanted:
        current = by_identity.pop(_identity(spec.type, spec.name, spec.config), None)
        if current is None:
            changes.append(TriggerChange("add", _label(spec), spec))
        elif (spec.enabled != current.get("enabled")
              or (spec.name is not None and spec.name != current.get("name"))
              or not _same_config(spec.config, current.get("config") or {})):
            changes.append(TriggerChange("update", _label(spec), spec, current["id"]))
    for identity, current in by_identity.items():
        changes.append(TriggerChange("remove", f"{identity[0]} {identity[1]}",
                                     id=current["id"]))
    return changes
