"""The catalog: ``functions ls|get|rm``, ``versions``, ``rollback``, ``triggers ls|add|rm``
and ``metrics``."""

from __future__ import annotations

import json

import click
from rich.console import Console

from gateway.cli._common import CliState, api_command, table

__all__ = ["register"]


def _functions(cli: click.Group) -> None:
    @cli.group("functions")
    def functions() -> None:
        """List, show and delete functions."""

    @api_command(functions, "ls", example="fngate functions ls --project billing")
    @click.option("--project", help="Only this project's.")
    @click.option("--label", help="Only those with this label, as key:value.")
    @click.option("--page", type=int, default=1, show_default=True)
    def ls(state: CliState, project: str | None, label: str | None, page: int) -> None:
        """List functions (100 a page)."""
        found = state.client().list_functions(project=project, label=label, page=page,
                                              per_page=100)

        def human(out: Console) -> None:
            grid = table("NAME", "RUNTIME", "PROJECT", "VERSION", "STATUS", "UPDATED")
            for fn in found.functions:
                grid.add_row(fn.name, fn.runtime, fn.project, str(fn.active_version or "-"),
                             fn.status, fn.updated_at.strftime("%Y-%m-%d %H:%M:%S"))
            out.print(grid)
            if found.total > page * found.per_page:
                out.print(f"page {page} of {found.total} functions: --page {page + 1} for more")

        state.emit(found.functions, human)

    @api_command(functions, "get", example="fngate functions get hello --json")
    @click.argument("name")
    @click.option("--code", "show_code", is_flag=True, help="Print the source too.")
    def get(state: CliState, name: str, show_code: bool) -> None:
        """Show function NAME's settings (and, with --code, its source)."""
        fn = state.client().get_function(name)

        def human(out: Console) -> None:
            grid = table("FIELD", "VALUE")
            for key, value in fn.model_dump(mode="json", by_alias=True,
                                            exclude={"code"}).items():
                shown = value if isinstance(value, str) else json.dumps(value)
                grid.add_row(key, shown)
            out.print(grid, markup=False)
            if show_code and fn.code is not None:
                out.print(fn.code, markup=False, highlight=False)

        state.emit(fn, human)

    @api_command(functions, "rm", example="fngate functions rm hello")
    @click.argument("name")
    def rm(state: CliState, name: str) -> None:
        """Delete function NAME with its versions and triggers."""
        state.client().delete_function(name)
        state.say({"deleted": name}, f"deleted {name}")


def _triggers(cli: click.Group) -> None:
    @cli.group("triggers")
    def triggers() -> None:
        """List, add and remove a function's triggers."""

    @api_command(triggers, "ls", example="fngate triggers ls hello")
    @click.argument("name")
    def ls(state: CliState, name: str) -> None:
        """List function NAME's triggers."""
        found = state.client().list_triggers(name)

        def human(out: Console) -> None:
            grid = table("ID", "TYPE", "NAME", "ENABLED", "CONFIG")
            for t in found:
                grid.add_row(str(t.id), t.type, t.name or "", str(t.enabled).lower(),
                             json.dumps(t.config.model_dump(mode="json")))
            out.print(grid, markup=False)

        state.emit(found, human)

    @api_command(triggers, "add", example="fngate triggers add hello http "
                                          "'{\"path\": \"/hello\", \"public\": true}'\n"
                                          "fngate triggers add hello cron "
                                          "'{\"schedule\": \"*/5 * * * *\"}' --name every5")
    @click.argument("name")
    @click.argument("type", type=click.Choice(["http", "cron", "queue"]))
    @click.argument("config")
    @click.option("--name", "trigger_name", help="The trigger's name.")
    @click.option("--disabled", is_flag=True, help="Create it disabled.")
    def add(state: CliState, name: str, type: str, config: str, trigger_name: str | None,
            disabled: bool) -> None:
        """Add a trigger of TYPE to function NAME; CONFIG is its JSON config."""
        try:
            parsed = json.loads(config)
        except ValueError as exc:
            raise click.BadParameter(f"not JSON: {exc}", param_hint="CONFIG") from None
        made = state.client().create_trigger(name, type, parsed, name=trigger_name,
                                             enabled=not disabled)
        state.say(made, f"added {made.type} trigger {made.id}")

    @api_command(triggers, "rm", example="fngate triggers rm hello 7")
    @click.argument("name")
    @click.argument("trigger_id", type=int)
    def rm(state: CliState, name: str, trigger_id: int) -> None:
        """Remove trigger TRIGGER_ID of function NAME."""
        state.client().delete_trigger(name, trigger_id)
        state.say({"deleted": trigger_id}, f"removed trigger {trigger_id}")


def register(cli: click.Group) -> None:
    _functions(cli)
    _triggers(cli)

    @api_command(cli, "versions", example="fngate versions hello")
    @click.argument("name")
    def versions(state: CliState, name: str) -> None:
        """List function NAME's versions, newest first (* the active one)."""
        found = state.client().list_versions(name)

        def human(out: Console) -> None:
            grid = table("", "VERSION", "BUILD", "HANDLER", "DEPENDENCIES", "CREATED")
            for v in found:
                grid.add_row("*" if v.is_active else "", str(v.version), v.build_status,
                             v.handler, " ".join(v.dependencies),
                             v.created_at.strftime("%Y-%m-%d %H:%M:%S"))
            out.print(grid, markup=False)

        state.emit(found, human)

    @api_command(cli, "rollback", example="fngate rollback hello")
    @click.argument("name")
    def rollback(state: CliState, name: str) -> None:
        """Activate the newest good version below function NAME's active one."""
        fn = state.client().rollback(name)
        state.say(fn, f"{fn.name} now on version {fn.active_version}")

    @api_command(cli, "metrics", example="fngate metrics hello --since 1h")
    @click.argument("name")
    @click.option("--since", help="From this time: 10m, 24h, 7d or RFC 3339 (default: all).")
    def metrics(state: CliState, name: str, since: str | None) -> None:
        """Show function NAME's invocations, errors, durations and cost."""
        m = state.client().function_metrics(name, since=since)

        def human(out: Console) -> None:
            d = m.duration
            grid = table("METRIC", "VALUE")
            grid.add_row("invocations", f"{m.invocations.total} ({m.invocations.successful} ok,"
                                        f" {m.invocations.failed} failed)")
            grid.add_row("error rate", f"{m.error_rate:.2%}")
            grid.add_row("cold starts", str(m.cold_starts))
            grid.add_row("cache hits", str(m.cache_hits))
            grid.add_row("duration ms", f"p50 {d.p50} · p95 {d.p95} · p99 {d.p99} · "
                                        f"max {d.max}")
            grid.add_row("cost estimate", f"${m.cost_estimate:.6f} ({m.gb_seconds:.3f} GB-s)")
            out.print(grid, markup=False)

        state.emit(m, human)
