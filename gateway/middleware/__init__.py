"""Pure ASGI middleware of the gateway."""

from gateway.middleware.body_limit import BodyLimitMiddleware
from gateway.middleware.cors import CORSMiddleware
from gateway.middleware.metrics import MetricsMiddleware
from gateway.middleware.ratelimit import RateLimitMiddleware
from gateway.middleware.request_id import RequestIdMiddleware
from gateway.middleware.target_guard import TargetGuardMiddleware

__all__ = [
    "BodyLimitMiddleware",
    "CORSMiddleware",
    "MetricsMiddleware",
    "RateLimitMiddleware",
    "RequestIdMiddleware",
    "TargetGuardMiddleware",
]
