"""``/metrics``: the Prometheus exposition of this replica.

Unauthenticated unless ``FNGATE_METRICS_TOKEN`` is set, then that bearer token is
required. Not rate limited. Each scrape first reads what lives in PostgreSQL (jobs
pending) and drops the series of functions that no longer exist (deleted or renamed
through another replica); a database that does not answer leaves those as they were
rather than failing the scrape.
"""

from __future__ import annotations

import asyncio
import hmac
import logging

import asyncpg
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.api.context import Services, services_of
from gateway.core.errors import Unauthorized
from gateway.services.metrics import CONTENT_TYPE

__all__ = ["routes"]

logger = logging.getLogger("fngate.metrics")

REFRESH_TIMEOUT_S = 2.0


def _check_token(request: Request, expected: str | None) -> None:
    if not expected:
        return
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(),
                                                             expected.encode()):
        raise Unauthorized("/metrics needs the metrics token (FNGATE_METRICS_TOKEN) "
                           "as a bearer token")


async def _refresh(services: Services) -> None:
    metrics = services.metrics
    tracked = metrics.function_names()
    try:
        async with asyncio.timeout(REFRESH_TIMEOUT_S):
            pending = await services.jobs.count_pending()
            existing = await services.functions.existing_names(tracked) if tracked else set()
    except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        logger.warning("metrics refresh from the database failed", extra={"error": repr(exc)})
        return
    metrics.set_jobs_pending(pending)
    # Only names seen before the query: a function created meanwhile keeps its series.
    for name in tracked - existing:
        metrics.forget_function(name)


async def metrics(request: Request) -> Response:
    services = services_of(request)
    _check_token(request, services.settings.metrics_token)
    await _refresh(services)
    return Response(services.metrics.render(), media_type=CONTENT_TYPE)


routes = [Route("/metrics", metrics, methods=["GET"])]
