"""The ``fngate`` command: ``serve``, ``token`` and ``migrate``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from config import Settings, SettingsError, load

__all__ = ["main"]


def _settings(args: argparse.Namespace) -> Settings:
    return load(
        host=getattr(args, "host", None),
        port=getattr(args, "port", None),
        data_dir=getattr(args, "data_dir", None),
    )


def _serve(args: argparse.Namespace) -> int:
    from gateway.server import run_server

    run_server(_settings(args))
    return 0


def _token(args: argparse.Namespace) -> int:
    from auth import mint_token
    from gateway.app import jwt_secret_for

    settings = _settings(args)
    secret = jwt_secret_for(settings)
    if secret is None:
        print("fngate token: the gateway verifies tokens with a public key or JWKS;"
              " mint tokens with your identity provider", file=sys.stderr)
        return 2
    print(mint_token(secret=secret, subject=args.sub, scopes=args.scope, ttl_s=args.ttl,
                     issuer=settings.jwt_issuer, audience=settings.jwt_audience))
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from gateway.store.embedded import EmbeddedPostgres
    from gateway.store.migrate import migrate
    from gateway.store.pool import create_pool

    settings = _settings(args)

    async def run() -> list[str]:
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

    applied = asyncio.run(run())
    print(f"applied {len(applied)} migration(s)" + (": " + ", ".join(applied) if applied else ""))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fngate", description="fngate serverless gateway")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data-dir",
                       help="data directory (default ./.fngate, as root /var/lib/fngate)")

    serve = sub.add_parser("serve", help="run the gateway")
    serve.add_argument("--host", help="listen address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="listen port (default 8080)")
    common(serve)
    serve.set_defaults(func=_serve)

    token = sub.add_parser("token", help="print a development token the gateway accepts")
    token.add_argument("--sub", required=True, help="the token's subject")
    token.add_argument("--scope", default="", help=(
        'space-separated scopes, e.g. "execute:all"; <scope>@<project> limits one to a '
        'project, e.g. "write:functions@billing"'))
    token.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds")
    common(token)
    token.set_defaults(func=_token)

    mig = sub.add_parser("migrate", help="apply database migrations and exit")
    common(mig)
    mig.set_defaults(func=_migrate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``fngate`` console script."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    args = _parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except SettingsError as exc:
        print(f"fngate: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
