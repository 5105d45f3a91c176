"""Wire models of the Kube-Serverless document: its function body, its Function with
``status``, the create reply, metrics in camelCase, probes and ``{"error": "…"}``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from gateway.schemas.base import RequestModel, ResponseModel, Timestamp

__all__ = ["KubeCreated", "KubeCreatedStatus", "KubeError", "KubeFunction", "KubeFunctionBody",
           "KubeFunctionStatus", "KubeHealth", "KubeMetrics", "KubeReady", "KubeTrigger",
           "State"]

#: ``running`` (built and serving), ``deploying`` (its version is building), ``failed``
#: (its build failed).
State = Literal["running", "deploying", "failed"]


class KubeTrigger(RequestModel):
    """``{"type": "http"|"cron"|"queue", "config": {…}}``, checked as fngate's triggers."""

    type: str
    config: dict[str, Any] = Field(default_factory=dict)


class KubeFunctionBody(RequestModel):
    """The body of ``POST /functions`` and ``PUT /functions/{name}`` ("Same as Create")."""

    name: str | None = None
    runtime: str | None = Field(None, description="`nodejs18`, `python39` or `go119`.")
    handler: str | None = Field(None, description="`index.handler`, `handler.handler`, "
                                                  "`Handler`: the part after the last dot.")
    code: str | None = None
    environment: dict[str, Any] | None = None
    minReplicas: int | None = None
    maxReplicas: int | None = None
    triggers: list[KubeTrigger] | None = None


class KubeFunctionStatus(ResponseModel):
    state: State
    replicas: int = Field(description="Warm workers of the function on this replica.")
    endpoint: str = Field(description="The path that invokes it here.")
    lastDeployment: Timestamp = Field(description="When the function last changed.")


class KubeFunction(ResponseModel):
    """A function as ``GET /functions`` and ``GET /functions/{name}`` show it (the list
    without ``code``)."""

    name: str
    runtime: str
    handler: str
    code: str | None = Field(None, exclude_if=lambda v: v is None)
    minReplicas: int
    maxReplicas: int
    status: KubeFunctionStatus


class KubeCreatedStatus(ResponseModel):
    state: State


class KubeCreated(ResponseModel):
    """The 201 of ``POST /functions``."""

    name: str
    runtime: str
    handler: str
    status: KubeCreatedStatus


class KubeMetrics(ResponseModel):
    invocations: int
    coldStarts: int
    avgDuration: float = Field(description="Seconds.")
    errorRate: float = Field(description="0..1.")
    costEstimate: float = Field(description="US dollars.")


class KubeHealth(ResponseModel):
    status: Literal["healthy", "degraded", "unhealthy"]


class KubeReady(ResponseModel):
    status: Literal["ready", "not_ready"]


class KubeError(ResponseModel):
    error: str
