"""The gateway's own commands: ``fngate serve``, ``fngate token`` and ``fngate migrate``
(the same options and output as ever)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import click

from config import Settings, SettingsError, load

__all__ = ["register"]


def _settings(**options: Any) -> Settings:
    try:
        return load(host=options.get("host"), port=options.get("port"),
                    data_dir=options.get("data_dir"))
    except SettingsError as exc:
        click.echo(f"fngate: {exc}", err=True)
        raise click.exceptions.Exit(2) from None


def _logging() -> None:
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")


_DATA_DIR = click.option("--data-dir",
                         help="data directory (default ./.fngate, as root /var/lib/fngate)")


def register(cli: click.Group) -> None:
    @cli.command("serve", epilog="\b\nExample:\n  fngate serve --port 8080")
    @click.option("--host", help="listen address (default 127.0.0.1)")
    @click.option("--port", type=int, help="listen port (default 8080)")
    @_DATA_DIR
    def serve(**options: Any) -> int:
        """Run the gateway: API, dispatcher, scheduler, consumers and workers in one
        process."""
        from gateway.server import run_server

        _logging()
        run_server(_settings(**options))
        return 0

    @cli.command("token", epilog="\b\nExample:\n  fngate token --sub alice "
                                 "--scope \"execute:all read:functions write:functions\"")
    @click.option("--sub", required=True, help="the token's subject")
    @click.option("--scope", default="", help=(
        'space-separated scopes, e.g. "execute:all"; <scope>@<project> limits one to a'
        ' project, e.g. "write:functions@billing"'))
    @click.option("--ttl", type=int, default=3600, help="lifetime in seconds")
    @_DATA_DIR
    def token(sub: str, scope: str, ttl: int, **options: Any) -> int:
        """Print a development token the gateway accepts."""
        from auth import mint_token
        from gateway.app import jwt_secret_for

        _logging()
        settings = _settings(**options)
        secret = jwt_secret_for(settings)
        if secret is None:
            click.echo("fngate token: the gateway verifies tokens with a public key or JWKS;"
                       " mint tokens with your identity provider", err=True)
            raise click.exceptions.Exit(2)
        click.echo(mint_token(secret=secret, subject=sub, scopes=scope, ttl_s=ttl,
                              issuer=settings.jwt_issuer, audience=settings.jwt_audience))
        return 0

    @cli.command("migrate", epilog="\b\nExample:\n  fngate migrate --data-dir /var/lib/fngate")
    @_DATA_DIR
    def migrate(**options: Any) -> int:
        """Apply database migrations and exit."""
        _logging()
        applied = asyncio.run(_migrate(_settings(**options)))
        click.echo(f"applied {len(applied)} migration(s)"
                   + (": " + ", ".join(applied) if applied else ""))
        return 0


async def _migrate(settings: Settings) -> list[str]:
    from gateway.store.embedded import EmbeddedPostgres
    from gateway.store.migrate import migrate
    from gateway.store.pool import create_pool

    embedded = None
    dsn = settings.database_url
    if not dsn:
        embedded = EmbeddedPostgres(settings)
        dsn = await embedded.start()
    try:
        pool = await create_pool(dsn, min_size=1, max_size=2)
        try:
            return await migrate(pool)
        finally:
            await pool.close()
    finally:
        if embedded is not None:
            await embedded.stop()
