"""The OpenAPI tag of projects and the system layer (package-private); their operations
are declared on the routes (:mod:`gateway.api.routes.projects`)."""

from __future__ import annotations

__all__ = ["PROJECT_TAG"]

PROJECT_TAG = {
    "name": "projects",
    "description": (
        "Projects group functions and layer environment and dependencies beneath them. A "
        "function runs with the system environment, overridden by its project's, overridden "
        "by its own `environment` — and nothing of the gateway's own environment (no "
        "`FNGATE_*`, no secrets, no database URL). Its dependencies are the union of the "
        "system's, its project's and its own; where two layers name the same package the "
        "nearer one's specifier wins, and a system or project entry applies to the functions "
        "whose runtime's syntax accepts it (`lodash@^4` only to Node.js, `requests>=2` only "
        "to Python, a bare name to both). A version's background build installs that union "
        "and records it on the version (`resolved_dependencies`): every run installs that "
        "recorded set. A project or system dependency change rebuilds the affected "
        "functions in the background (one build per distinct set): each keeps serving with "
        "its current build until its new one is ready, then swaps (a `deployed` event with "
        "`metadata.rebuild`); a failed rebuild leaves it serving with the previous build and "
        "records a `build_failed` event. The version's `rebuild` shows the state. An "
        "environment change applies on every replica within seconds (warm workers of the "
        "old environment are dropped).\n\n"
        "The project `default` exists from the start. Creating or moving a function into a "
        "project that does not exist creates that project (running, empty environment), as "
        "a function's `project` has always been free text; `PROJECT_NOT_FOUND` is the answer "
        "of the project routes. A stopped project's functions answer 409 `PROJECT_STOPPED` "
        "on `/invoke`, `/invoke-async`, `/initialize`, `/execute` and HTTP triggers; its "
        "cron fires are skipped (counted as `skipped` in `fngate_cron_fires_total`) and its "
        "queue consumers pause (messages stay in the queue). Jobs accepted before the stop "
        "still run. `start` resumes all of it.\n\n"
        "Reading projects is part of the catalog (`read:functions`, `write:functions` or "
        "`admin`; environment values are `\"***\"` unless the caller holds "
        "`admin`); creating, deleting, starting, stopping and changing "
        "them, and everything under `/api/v1/env/system` and `/api/v1/dependencies/system`, "
        "needs `admin`."
    ),
}
