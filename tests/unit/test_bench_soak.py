"""The soak scenario's verdicts from what it saw (no gateway)."""

from __future__ import annotations

from bench.scenarios.soak import MAINTENANCE_S, RETENTION_S, _cron_missed, _outcome, _table_rows
from bench.soak_load import Sample, SoakTally


def _samples(rows: list[int], every: float = 10.0, rss: int = 1000) -> list[Sample]:
    return [Sample(t=i * every, jobs_rows=n, rss_kb=rss, live_workers=3, max_workers=8)
            for i, n in enumerate(rows)]


def test_cron_gaps_count_the_missed_fires() -> None:
    fires = ["2026-12-06T12:00:00+00:00", "2026-12-06T12:00:05+00:00",
             "2026-12-06T12:00:20+00:00"]
    assert _cron_missed(fires) == 2
    assert _cron_missed(fires[:2]) == 0


def test_jobs_table_flat_only_after_the_retention_window() -> None:
    settled_from = int((RETENTION_S + MAINTENANCE_S) // 10) + 1
    sawtooth = [100] * settled_from + [500, 1000, 500, 1000, 500, 1000, 500, 1000, 500]
    rows, details = _table_rows(_samples(sawtooth), 1800)
    assert details["early_peak"] == details["late_peak"] == 1000
    assert rows[-1].met is True
    growing = [100] * settled_from + list(range(500, 5000, 500))
    rows, _ = _table_rows(_samples(growing), 1800)
    assert rows[-1].met is False
    rows, details = _table_rows(_samples([10, 20, 30], every=10), 30)
    assert rows[0].target is None and details == {"last": 30}


def _tally(**fields: object) -> SoakTally:
    tally = SoakTally(samples=_samples([1, 2, 3, 4, 5, 6]), **fields)  # type: ignore[arg-type]
    tally.sync_statuses.update({"200": 5, "429": 1})
    tally.drained = True
    return tally


def test_a_lost_or_twice_run_event_is_an_error() -> None:
    ok = _tally(async_sent={"soak-async-1"}, queue_sent={"soak-queue-1"}, finished={
        "j1": ("http", "success", 1, "soak-async-1", None),
        "j2": ("queue", "success", 1, "soak-queue-1", None)})
    assert _outcome(ok, 60, True).status == "ok"
    lost = _tally(async_sent={"soak-async-1", "soak-async-2"}, finished={
        "j1": ("http", "success", 1, "soak-async-1", None)})
    assert _outcome(lost, 60, True).status == "error"
    twice = _tally(queue_sent={"soak-queue-1"}, finished={
        "j1": ("queue", "success", 1, "soak-queue-1", None),
        "j2": ("queue", "success", 1, "soak-queue-1", None)})
    assert _outcome(twice, 60, True).status == "error"
