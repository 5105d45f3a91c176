"""``/metrics``: the Prometheus exposition of this replica.

Unauthenticated unless ``FNGATE_METRICS_TOKEN`` is set, then that bearer token is
required. Not rate limited. Each scrape first refreshes what lives in PostgreSQL
(:mod:`gateway.services.scrape`).
"""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import Response

from gateway.api.context import services_of
from gateway.api.operations import Reply, Text, operation, routes_of
from gateway.core.errors import Unauthorized
from gateway.schemas.errors import Error
from gateway.services.metrics import CONTENT_TYPE

__all__ = ["routes"]

_DESCRIPTION = """\
Unauthenticated unless `FNGATE_METRICS_TOKEN` is set; then that token is required as \
`Authorization: Bearer <token>` (401 otherwise). Not rate limited. The metrics of the \
replica that answers:

- `fngate_http_requests_total{route,method,status}`, \
`fngate_http_request_duration_seconds{route,method}`: `route` is the route template \
(`/api/v1/jobs/{job_id}`), `<unmatched>` for a path no route matches; never the raw path.
- `fngate_invocations_total{function,trigger,status}` (cache hits included), \
`fngate_invocation_duration_seconds{function,trigger}` (runs only), \
`fngate_cold_starts_total{function}`, `fngate_cold_start_duration_seconds{runtime}`, \
`fngate_inflight_invocations{function}`.
- `fngate_cache_requests_total{function,result}` (`hit`, `miss`, `bypass`).
- `fngate_rate_limited_total{route_class}` (`execute`, `read`, `write`, and `function` for a \
function's own `rate_limit`), `fngate_rate_limit_fail_open_total`.
- `fngate_warm_workers{runtime}`, `fngate_jobs_pending` (all replicas, read when scraped).
- `fngate_queue_messages_total{queue,outcome}` (`ack`, `dlq`, `requeue`), \
`fngate_cron_fires_total{function,outcome}` (`won`, `lost` to another replica, `skipped`).
- `fngate_build_duration_seconds{runtime}`.
- `fngate_pruned_rows_total{kind}`: rows this replica's maintenance deleted (`jobs_by_age`, \
`jobs_by_count`, `job_log_lines`, `log_lines_by_age`, `log_lines_by_count`, \
`idempotency_keys`, `sessions`).

Durations are histograms with buckets from 0.5 ms to 30 s (builds: 0.1 s to 10 min). The \
series of a deleted or renamed function are removed."""


def _check_token(request: Request, expected: str | None) -> None:
    if not expected:
        return
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(),
                                                             expected.encode()):
        raise Unauthorized("/metrics needs the metrics token (FNGATE_METRICS_TOKEN) "
                           "as a bearer token")


@operation(
    "GET", "/metrics", operation_id="getMetrics", tag="operations",
    summary="Prometheus metrics", description=_DESCRIPTION, scopes=None,
    # Its own static token when one is configured, else none; never a JWT.
    extra={"security": [{"metricsToken": []}, {}]},
    replies={
        200: Reply("The Prometheus text exposition format 0.0.4.",
                   text=Text(CONTENT_TYPE.removesuffix("; charset=utf-8"))),
        401: Reply("`UNAUTHORIZED`: `FNGATE_METRICS_TOKEN` is set and the request did not "
                   "send it as its bearer token.", Error, headers=("WWW-Authenticate",)),
    },
)
async def metrics(request: Request) -> Response:
    services = services_of(request)
    _check_token(request, services.settings.metrics_token)
    return Response(await services.scrape.exposition(), media_type=CONTENT_TYPE)


routes = routes_of(metrics)
