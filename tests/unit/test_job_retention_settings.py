"""Job retention settings, and the metric of what maintenance prunes."""

from __future__ import annotations

import pytest

from config import Settings, SettingsError, load
from gateway.services.metrics import GatewayMetrics


def _load(**env: str) -> Settings:
    return load(env, toml_path="/nonexistent.toml")


def test_job_retention_defaults_to_seven_days_and_ten_thousand_per_function() -> None:
    settings = _load()
    assert settings.job_retention_days == 7.0
    assert settings.job_retention_per_function == 10_000


def test_job_retention_takes_fractions_of_a_day_from_the_environment() -> None:
    settings = _load(FNGATE_JOB_RETENTION_DAYS="0.0035", FNGATE_JOB_RETENTION_PER_FUNCTION="50")
    assert settings.job_retention_days == 0.0035  # about five minutes
    assert settings.job_retention_per_function == 50


@pytest.mark.parametrize("days", ["0", "-1", "-0.5", "nan", "inf", "36501", "seven"])
def test_job_retention_days_that_are_not_a_positive_number_are_refused(days: str) -> None:
    with pytest.raises(SettingsError, match="(?i)job_retention_days"):
        _load(FNGATE_JOB_RETENTION_DAYS=days)


@pytest.mark.parametrize("count", ["0", "-3", "1.5"])
def test_job_retention_per_function_below_one_is_refused(count: str) -> None:
    with pytest.raises(SettingsError, match="(?i)job_retention_per_function"):
        _load(FNGATE_JOB_RETENTION_PER_FUNCTION=count)


def test_the_maintenance_interval_is_a_setting_within_bounds() -> None:
    assert _load().maintenance_interval_s == 300.0
    assert _load(FNGATE_MAINTENANCE_INTERVAL_S="30").maintenance_interval_s == 30.0
    for bad in ("0", "0.5", "-1", "nan", "86401", "often"):
        with pytest.raises(SettingsError, match="(?i)maintenance_interval_s"):
            _load(FNGATE_MAINTENANCE_INTERVAL_S=bad)


def test_pruned_rows_are_counted_by_kind() -> None:
    metrics = GatewayMetrics()
    metrics.pruned({"jobs_by_age": 3, "jobs_by_count": 0, "job_log_lines": 7})
    metrics.pruned({"jobs_by_age": 2})
    text = metrics.render().decode()
    assert 'fngate_pruned_rows_total{kind="jobs_by_age"} 5.0' in text
    assert 'fngate_pruned_rows_total{kind="job_log_lines"} 7.0' in text
    assert 'kind="jobs_by_count"' not in text
    with pytest.raises(ValueError):
        metrics.pruned({"everything": 1})
