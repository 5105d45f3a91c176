"""``fngate sessions init|exec|get|close``: the initialize/execute session API."""

from __future__ import annotations

import json
from typing import Any

import click

from gateway.cli._common import CliState, api_command

__all__ = ["register"]


def _json(text: str | None, hint: str) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint=hint) from None


def register(cli: click.Group) -> None:
    @cli.group("sessions")
    def sessions() -> None:
        """Open a session on a function, execute it, show and close it."""

    @api_command(sessions, "init", example="fngate sessions init calculator "
                                           "--context '{\"user_id\": \"u1\"}'")
    @click.argument("name")
    @click.option("--context", help="The session's context as JSON (user_id, timeout_ms, …).")
    def init(state: CliState, name: str, context: str | None) -> None:
        """Open a session on function NAME (its name or language_title); print its id."""
        client = state.client()
        title = client.get_function(name).language_title
        opened = client.initialize(title, _json(context, "--context"))
        state.say(opened, str(opened.request_id))

    @api_command(sessions, "exec", example="fngate sessions exec SESSION_ID "
                                           "--params '{\"operation\": \"add\", "
                                           "\"values\": [1, 2]}'")
    @click.argument("session_id")
    @click.option("--params", help="The params as JSON (default {}).")
    @click.option("--no-cache", is_flag=True, help="Run even if a cached result exists.")
    def execute(state: CliState, session_id: str, params: str | None, no_cache: bool) -> None:
        """Execute session SESSION_ID's function with params; print its result."""
        done = state.client().execute(session_id, _json(params, "--params"),
                                      cache_control="no-cache" if no_cache else None)

        def human(out: Any) -> None:
            out.print_json(json.dumps(done.result))
            state.err.print(f"{done.execution_time} ms" + (" · cached" if done.cached else ""),
                            style="dim")

        state.emit(done, human)

    @api_command(sessions, "get", example="fngate sessions get SESSION_ID")
    @click.argument("session_id")
    def get(state: CliState, session_id: str) -> None:
        """Show session SESSION_ID: status, expiry, executions."""
        found = state.client().get_session(session_id)
        state.say(found, f"{found.request_id} {found.language_title} {found.status} · "
                         f"{found.execution_count} executions · expires "
                         f"{found.expires_at:%Y-%m-%d %H:%M}")

    @api_command(sessions, "close", example="fngate sessions close SESSION_ID")
    @click.argument("session_id")
    def close(state: CliState, session_id: str) -> None:
        """Close session SESSION_ID."""
        state.client().close_session(session_id)
        state.say({"closed": session_id}, f"closed {session_id}")
