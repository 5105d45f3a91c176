"""Wire models of the lines functions print: a function's logs (and, with the same
``LogLine``, a job's)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from gateway.schemas.base import ResponseModel, Timestamp, UuidText

__all__ = ["FunctionLogs", "LogLine"]


class LogLine(ResponseModel):
    """One line a function printed."""

    timestamp: Timestamp
    job_id: UuidText = Field(description="The job whose run printed it.")
    stream: Literal["stdout", "stderr"]
    message: str


class FunctionLogs(ResponseModel):
    """A function's log lines."""

    logs: list[LogLine] = Field(description="Oldest first.")
