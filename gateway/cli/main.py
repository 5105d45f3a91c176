"""The ``fngate`` command: the gateway's own commands (``serve``, ``token``, ``migrate``) and
the client commands that talk to a gateway over HTTP through :mod:`fngate_client`."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import click

from fngate_client import Client, Forbidden, Unauthorized
from gateway.cli import catalog, deploy, runs, scaffold, server, sessions
from gateway.cli._common import CliState, Failed, api_command
from gateway.cli.profiles import config_path, save_profile

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]},
             epilog="\b\nExample:\n  fngate login --url http://127.0.0.1:8080 --token-stdin"
                    " < token.txt\n  fngate init hello && cd hello && fngate deploy"
                    " && fngate invoke hello --data '{\"x\": 1}'")
@click.option("--profile", "-p", envvar="FNGATE_PROFILE",
              help="The profile of ~/.config/fngate/config.toml to use.")
@click.option("--url", help="The gateway's URL (beats FNGATE_URL and the profile).")
@click.option("--token", help="The bearer token (beats FNGATE_TOKEN and the profile).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
def cli(ctx: click.Context, profile: str | None, url: str | None, token: str | None,
        as_json: bool) -> None:
    """fngate: run the serverless gateway, or deploy and run functions on one."""
    ctx.obj = CliState(profile=profile, url=url, token=token, json=as_json)


@api_command(cli, "login", example="fngate login --url http://127.0.0.1:8080 "
                                   "--token \"$(fngate token --sub me --scope "
                                   "'execute:all read:functions write:functions read:jobs')\"")
@click.option("--url", "login_url", required=True, help="The gateway's URL.")
@click.option("--token", "login_token", help="The bearer token to store.")
@click.option("--token-stdin", is_flag=True, help="Read the token from stdin.")
@click.option("--no-verify", is_flag=True, help="Store without asking the gateway.")
def login(state: CliState, login_url: str, login_token: str | None, token_stdin: bool,
          no_verify: bool) -> None:
    """Store a profile (URL and token) in ~/.config/fngate/config.toml (mode 0600), after
    checking the gateway answers and accepts the token. --profile names it."""
    if token_stdin:
        if login_token:
            raise click.UsageError("--token and --token-stdin exclude each other")
        login_token = sys.stdin.readline().strip() or None
    if not no_verify:
        with Client(login_url, token=login_token) as client:
            client.health()
            if login_token:
                try:
                    client.list_functions(per_page=1)
                except Unauthorized as exc:
                    raise Failed(f"the gateway refused the token: {exc.message}") from None
                except Forbidden:  # a token without read:functions is still a token
                    pass
    name = state.profile or "default"
    path = config_path()
    save_profile(path, name, login_url, login_token)
    state.say({"profile": name, "url": login_url, "config": str(path)},
              f"profile {name!r} → {login_url} saved in {path}")


for _module in (server, scaffold, deploy, runs, catalog, sessions):
    _module.register(cli)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``fngate`` console script: the command's exit status."""
    try:
        result = cli.main(args=list(argv) if argv is not None else None, prog_name="fngate",
                          standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.Abort:
        click.echo("Aborted!", err=True)
        return 1
    except Exception as exc:  # a bug of ours: said in a line, the traceback on request
        if os.environ.get("FNGATE_DEBUG"):
            raise
        click.echo(f"fngate: unexpected {type(exc).__name__}: {exc} (FNGATE_DEBUG=1 shows "
                   "the traceback)", err=True)
        return 1
    return result if isinstance(result, int) else 0
