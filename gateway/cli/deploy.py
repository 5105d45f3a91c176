"""``fngate deploy [PATH] [--dry-run]``: make the gateway's functions what the manifest says,
wait for their builds while showing the build log, and print what changed."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from fngate_client import Client, NotFound
from fngate_client.models import Version
from gateway.cli._common import CliState, Failed, api_command, jsonable
from gateway.cli.manifest import FunctionSpec, load_manifest
from gateway.cli.plan import FunctionPlan, plan_function

__all__ = ["register"]

_SIGN = {"add": "+", "update": "~", "remove": "-"}


def _current(client: Client, spec: FunctionSpec) -> tuple[dict[str, Any] | None,
                                                          list[dict[str, Any]]]:
    try:
        function = client.get_function(spec.name)
    except NotFound:
        return None, []
    triggers = client.list_triggers(function.id) if spec.triggers is not None else []
    return jsonable(function), [jsonable(t) for t in triggers]


def _apply(client: Client, plan: FunctionPlan, current: dict[str, Any] | None) -> int:
    """Apply ``plan``; the function's id."""
    if plan.action == "create":
        return client.create_function(**plan.body).id
    assert current is not None
    ref = current["id"]
    if plan.action == "update":
        client.update_function(ref, **plan.body)
    for change in plan.triggers:
        if change.action == "remove":
            assert change.id is not None
            client.delete_trigger(ref, change.id)
        elif change.action == "update":
            assert change.spec is not None and change.id is not None
            client.update_trigger(ref, change.id, **change.spec.body())
        else:
            assert change.spec is not None
            spec = change.spec
            client.create_trigger(ref, spec.type, spec.config, name=spec.name,
                                  enabled=spec.enabled)
    return int(ref)


def _wait_build(client: Client, ref: int, name: str, err: Console, timeout_s: float) -> Version:
    """The newest version once its build has ended, printing its build log as it grows."""
    shown = 0
    deadline = time.monotonic() + timeout_s
    with err.status(f"building {name}…"):
        while True:
            version = client.list_versions(ref)[0]
            log = version.build_log or ""
            if len(log) > shown:
                err.out(log[shown:].rstrip("\n"), highlight=False, style="dim")
                shown = len(log)
            if version.build_status != "building":
                return version
            if time.monotonic() > deadline:
                raise Failed(f"{name}: build still running after {timeout_s:g} s")
            time.sleep(0.5)


def _describe(plan: FunctionPlan, version: Version | None) -> str:
    suffix = f" (version {version.version})" if version is not None else ""
    if plan.action == "create":
        return f"{plan.name}: created{suffix}"
    if plan.action == "update":
        return f"{plan.name}: updated {', '.join(plan.changed)}{suffix}"
    return f"{plan.name}: unchanged"


def _summary(plan: FunctionPlan, version: Version | None) -> dict[str, Any]:
    return {"name": plan.name, "action": plan.action, "changed": plan.changed,
            "version": version.version if version else None,
            "build_status": version.build_status if version else None,
            "triggers": [{"action": c.action, "trigger": c.label} for c in plan.triggers]}


def register(cli: click.Group) -> None:
    @api_command(cli, "deploy", example="fngate deploy              # ./fngate.toml\n"
                                        "fngate deploy fns.toml --dry-run")
    @click.argument("path", type=click.Path(path_type=Path), default=Path("."))
    @click.option("--dry-run", is_flag=True, help="Show the plan; change nothing.")
    @click.option("--build-timeout", type=float, default=900.0, show_default=True,
                  help="Seconds to wait for a build.")
    def deploy(state: CliState, path: Path, dry_run: bool, build_timeout: float) -> None:
        """Create or update the functions of a manifest (fngate.toml in PATH, or the file
        PATH): only what changed, no new version when the code did not; triggers made as
        the manifest lists them; builds waited for, their log shown."""
        specs = load_manifest(path, os.environ)
        client, err = state.client(), state.err
        summaries, failed = [], []
        for spec in specs:
            current, triggers = _current(client, spec)
            plan = plan_function(spec, current, triggers)
            version = None
            if not dry_run and not plan.empty:
                ref = _apply(client, plan, current)
                if plan.new_version:
                    version = _wait_build(client, ref, spec.name, err, build_timeout)
                    if version.build_status == "failed":
                        failed.append(spec.name)
            summaries.append(_summary(plan, version))
            if not state.json:
                prefix = "would be " if dry_run and plan.action != "unchanged" else ""
                line = _describe(plan, version)
                state.out.print(line.replace(": ", f": {prefix}", 1), highlight=False)
                for change in plan.triggers:
                    state.out.print(f"  {_SIGN[change.action]} trigger {change.label}",
                                    highlight=False)
        state.emit(summaries, lambda out: None)
        if failed:
            raise Failed(f"build failed: {', '.join(failed)} (the previous version, if any, "
                         "still serves)")
