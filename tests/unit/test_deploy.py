"""deploy/: the Grafana dashboard queries metrics the gateway exposes; the scrape config."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client.metrics_core import Metric

from gateway.services.metrics import GatewayMetrics

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"),
             "gauge": ("",)}


def _exposed_names() -> set[str]:
    metrics = GatewayMetrics()
    names: set[str] = set()
    family: Metric
    for family in metrics.registry.collect():
        for suffix in _SUFFIXES.get(family.type, ("",)):
            names.add(family.name + suffix)
    return names


def _expressions(dashboard: dict) -> list[str]:
    exprs = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", ()):
            exprs.append(target["expr"])
    return exprs


def test_every_dashboard_query_uses_an_exposed_metric() -> None:
    dashboard = json.loads((DEPLOY / "grafana/dashboards/fngate.json").read_text())
    exposed = _exposed_names()
    used = {name for expr in _expressions(dashboard)
            for name in re.findall(r"\bfngate_[a-z_]+", expr)}
    assert used and used <= exposed, used - exposed
    for must in ("fngate_invocations_total", "fngate_invocation_duration_seconds_bucket",
                 "fngate_cold_starts_total", "fngate_cache_requests_total",
                 "fngate_rate_limited_total"):
        assert must in used, must


def test_dashboard_has_the_panels_operators_look_for() -> None:
    dashboard = json.loads((DEPLOY / "grafana/dashboards/fngate.json").read_text())
    titles = " | ".join(p["title"].lower() for p in dashboard["panels"])
    for words in ("invocations", "error", "p95", "cold starts", "cache hit ratio",
                  "rate-limited"):
        assert words in titles, words
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    assert variables == {"datasource", "instance", "function"}


def test_prometheus_scrapes_the_metrics_route_and_the_readme_links_both() -> None:
    scrape = (DEPLOY / "prometheus.yml").read_text()
    assert "job_name: fngate" in scrape and "metrics_path: /metrics" in scrape
    assert "\t" not in scrape
    readme = (DEPLOY / "README.md").read_text()
    assert "prometheus.yml" in readme and "grafana/dashboards/fngate.json" in readme
