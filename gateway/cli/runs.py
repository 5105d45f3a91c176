"""Running functions and reading what ran: ``invoke``, ``logs``, ``jobs``, ``job``."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import Any

import click
from rich.console import Console

from fngate_client.models import Job, LogLine
from gateway.cli._common import CliState, Failed, api_command, table

__all__ = ["register"]


def _event(data: str | None) -> Any:
    """``--data``: JSON, ``@file``, ``-`` (stdin); none given: stdin when it is not a
    terminal, else no body (the event ``{}``)."""
    if data is None:
        if sys.stdin is None or sys.stdin.isatty():
            return {}
        data = "-"
    if data == "-":
        text = sys.stdin.read()
    elif data.startswith("@"):
        try:
            with open(data[1:], encoding="utf-8") as fh:
                text = fh.read()
        except OSError as exc:
            raise click.BadParameter(f"cannot read {data[1:]}: {exc}",
                                     param_hint="--data") from None
    else:
        text = data
    if not text.strip():
        return {}
    try:
        return json.loads(text)
    except ValueError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--data") from None


def _print_lines(out: Console, lines: Iterable[LogLine]) -> None:
    for line in lines:
        stamp = line.timestamp.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        style = "red" if line.stream == "stderr" else None
        out.print(f"{stamp} {str(line.job_id)[:8]} {line.message}", style=style,
                  highlight=False, markup=False)


def _show_job(state: CliState, job: Job, lines: list[LogLine] | None = None) -> None:
    """The job: its result (or error) on stdout, its facts on stderr; JSON with --json.
    A failed job is a failure of the command."""
    def human(out: Console) -> None:
        if job.status == "success":
            out.print_json(json.dumps(job.result))
        elif job.status != "failed":
            out.print(f"job {job.id} {job.status}", highlight=False)
        facts = [f"job {job.id}", job.status, f"version {job.version}"]
        if job.duration is not None:
            facts.append(f"{job.duration} ms")
        if job.cold_start:
            facts.append("cold start")
        state.err.print(" · ".join(facts), style="dim", highlight=False)

    state.emit(job if lines is None else {"job": job, "logs": lines}, human)
    if job.status == "failed":
        error = job.error
        message = f"{error.code}: {error.message}" if error else "the job failed"
        details = error.details.model_dump(mode="json", exclude_none=True) if error else None
        if details:
            message += "\n  details: " + json.dumps(details)[:2000]
        raise Failed(message)


def register(cli: click.Group) -> None:
    @api_command(cli, "invoke", example="fngate invoke hello --data '{\"x\": 1}'\n"
                                        "echo '{\"x\": 1}' | fngate invoke hello --async --wait")
    @click.argument("name")
    @click.option("--data", "-d", help="The event: JSON, @FILE, or - for stdin "
                                       "(default: stdin when piped, else {}).")
    @click.option("--async", "run_async", is_flag=True, help="Queue the run; print its job.")
    @click.option("--wait", is_flag=True, help="With --async: wait for the job to finish.")
    @click.option("--idempotency-key", help="The same key runs the function once (24 h).")
    @click.option("--timeout", type=float, default=300.0, show_default=True,
                  help="Seconds --wait waits.")
    def invoke(state: CliState, name: str, data: str | None, run_async: bool, wait: bool,
               idempotency_key: str | None, timeout: float) -> None:
        """Run function NAME with an event and print its result (exit 1 if the run
        failed)."""
        client = state.client()
        job = client.invoke_function(name, _event(data), asynchronous=run_async,
                                     idempotency_key=idempotency_key)
        if wait and job.status not in ("success", "failed"):
            job = client.wait_job(job.id, timeout_s=timeout)
        _show_job(state, job)

    @api_command(cli, "logs", example="fngate logs hello --since 10m\nfngate logs hello -f")
    @click.argument("name")
    @click.option("--follow", "-f", is_flag=True, help="Keep printing new lines (Ctrl-C stops).")
    @click.option("--since", help="From this time: 90s, 10m, 24h, 7d or RFC 3339.")
    @click.option("--limit", "-n", type=int, help="The newest N lines (default 100).")
    @click.option("--job", "job_id", help="Only this job's lines.")
    def logs(state: CliState, name: str, follow: bool, since: str | None, limit: int | None,
             job_id: str | None) -> None:
        """Print function NAME's log lines, oldest first; -f follows them live."""
        client = state.client()
        if not follow:
            lines = client.function_logs(name, since=since, limit=limit, job_id=job_id)
            state.emit(lines, lambda out: _print_lines(out, lines))
            return
        stream = client.follow_logs(name, since=since, limit=limit, job_id=job_id)
        try:
            for line in stream:
                if state.json:
                    click.echo(line.model_dump_json())
                else:
                    _print_lines(state.out, [line])
        except KeyboardInterrupt:
            pass

    @api_command(cli, "jobs", example="fngate jobs hello --status failed")
    @click.argument("name")
    @click.option("--status", type=click.Choice(["pending", "running", "success", "failed"]))
    @click.option("--limit", "-n", type=int, default=20, show_default=True)
    def jobs(state: CliState, name: str, status: str | None, limit: int) -> None:
        """List function NAME's jobs, newest first."""
        page = state.client().list_jobs(name, status=status, limit=limit)

        def human(out: Console) -> None:
            grid = table("ID", "STATUS", "TRIGGER", "VERSION", "MS", "REQUESTED")
            for job in page.jobs:
                grid.add_row(str(job.id), job.status, job.trigger, str(job.version),
                             "" if job.duration is None else str(job.duration),
                             job.timestamp.strftime("%Y-%m-%d %H:%M:%S"))
            out.print(grid)

        state.emit(page.jobs, human)

    @api_command(cli, "job", example="fngate job 3f2a…-… --logs")
    @click.argument("job_id")
    @click.option("--logs", "with_logs", is_flag=True, help="Also print what the run printed.")
    def job(state: CliState, job_id: str, with_logs: bool) -> None:
        """Show job JOB_ID: its result or error (exit 1 if it failed)."""
        client = state.client()
        found = client.get_job(job_id)
        if with_logs:
            lines = client.job_logs(job_id)
            if not state.json:
                _print_lines(state.err, lines)
        _show_job(state, found, lines if with_logs else None)
