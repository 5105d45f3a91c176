"""What every client command shares: the target gateway and its client, ``--json``, output
through rich, the ``Example:`` in ``--help``, and errors printed as the API's code and
message (never a traceback) with a non-zero exit."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import click
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from fngate_client import ApiError, Client, FngateClientError
from gateway.cli.manifest import ManifestError
from gateway.cli.profiles import ProfileError, Target, resolve

__all__ = ["CliState", "Failed", "api_command", "jsonable", "table"]


class Failed(Exception):
    """A command's failure to report as a message and exit status 1 (a failed job, …)."""


@dataclass(slots=True)
class CliState:
    """The root options (``--profile``, ``--url``, ``--token``, ``--json``) and what is
    made from them on first use."""

    profile: str | None = None
    url: str | None = None
    token: str | None = None
    json: bool = False
    _client: Client | None = field(default=None, repr=False)

    def target(self) -> Target:
        return resolve(self.profile, self.url, self.token)

    def client(self) -> Client:
        if self._client is None:
            target = self.target()
            self._client = Client(target.url, token=target.token)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    @property
    def out(self) -> Console:
        return Console(highlight=False, soft_wrap=True)

    @property
    def err(self) -> Console:
        return Console(stderr=True, highlight=False, soft_wrap=True)

    def say(self, value: Any, text: str) -> None:
        """``value`` as JSON with ``--json``, else the line ``text``."""
        self.emit(value, lambda out: out.print(text, highlight=False, markup=False))

    def emit(self, value: Any, human: Callable[[Console], None]) -> None:
        """``value`` as JSON with ``--json``, else what ``human`` prints."""
        if self.json:
            click.echo(json.dumps(jsonable(value), indent=2, ensure_ascii=False))
        else:
            human(self.out)


def jsonable(value: Any) -> Any:
    """Models (and lists and dicts of them) as plain JSON values."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    return value


def table(*columns: str) -> Table:
    """A plain table with these column headers."""
    grid = Table(box=None, pad_edge=False, header_style="bold")
    for i, column in enumerate(columns):
        last = i == len(columns) - 1
        grid.add_column(column, overflow="fold", no_wrap=not last)
    return grid


def _report(state: CliState, exc: Exception) -> None:
    if isinstance(exc, ApiError):
        body = {"code": exc.code, "status": exc.status, "message": exc.message,
                "details": exc.details}
        line = f"error: {exc.code} ({exc.status}): {exc.message}"
        if exc.details:
            line += "\n  details: " + json.dumps(exc.details, ensure_ascii=False)[:2000]
    else:
        body = {"code": type(exc).__name__, "message": str(exc)}
        line = f"error: {exc}"
    if state.json:
        click.echo(json.dumps({"error": body}, indent=2, ensure_ascii=False))
    click.echo(line, err=True)


def api_command(group: click.Group, name: str, *, example: str,
                **settings: Any) -> Callable[[Callable[..., None]], click.Command]:
    """Register a command of ``group`` that talks to a gateway: it takes ``--json``, gets
    the :class:`CliState` first, shows ``example`` in its help, and turns every client,
    profile or manifest error into a message on stderr and exit status 1."""

    def decorate(func: Callable[..., None]) -> click.Command:
        @click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
        @click.pass_obj
        @functools.wraps(func)
        def command(state: CliState, /, as_json: bool, **kwargs: Any) -> int:
            state.json = state.json or as_json
            try:
                func(state, **kwargs)
            except (FngateClientError, ProfileError, ManifestError, Failed) as exc:
                _report(state, exc)
                raise click.exceptions.Exit(1) from None
            finally:
                state.close()
            return 0

        epilog = "\b\nExample:\n" + "\n".join(f"  {line}" for line in example.splitlines())
        return group.command(name, epilog=epilog, **settings)(command)

    return decorate
