"""Pure ASGI middleware of the gateway."""

from gateway.api.middleware.answer_fence import AnswerFenceMiddleware
from gateway.api.middleware.body_drain import BodyDrainMiddleware
from gateway.api.middleware.body_limit import BodyLimitMiddleware
from gateway.api.middleware.cors import CORSMiddleware
from gateway.api.middleware.metrics import MetricsMiddleware
from gateway.api.middleware.ratelimit import RateLimitMiddleware
from gateway.api.middleware.request_id import RequestIdMiddleware
from gateway.api.middleware.target_guard import TargetGuardMiddleware

__all__ = [
    "AnswerFenceMiddleware",
    "BodyDrainMiddleware",
    "BodyLimitMiddleware",
    "CORSMiddleware",
    "MetricsMiddleware",
    "RateLimitMiddleware",
    "RequestIdMiddleware",
    "TargetGuardMiddleware",
]
